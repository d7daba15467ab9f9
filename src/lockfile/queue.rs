//! Waiting in turn for a taken lock: [`Queue`], its places and pauses. The algorithm, step
//! by step: [docs/durability.md](../../docs/durability.md#waiting-in-turn).

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::line::{dir_of, name_of, LockLine, WAIT_SUFFIX};
use super::litter::{names_in, LISTING_PASSES};
use super::lock::FileLock;
use crate::error::Result;

/// The pause of the waiter next in turn between two looks at the lock, and the shortest
/// pause of the others. Hosts that run instances on an async runtime round a pause up to
/// their timer's tick (tokio's: 1 ms).
pub const MIN_PAUSE: Duration = Duration::from_micros(250);

/// The longest pause, per place ahead, of a waiter that is not next in turn.
pub const MAX_PAUSE: Duration = Duration::from_millis(2);

/// A waiter's pause grows with the places ahead of it, up to this many times.
pub const MAX_PAUSE_FACTOR: u32 = 4;

/// How long a free lock must stay unclaimed before a waiter with places ahead of it takes it
/// out of turn.
pub const UNCLAIMED: Duration = Duration::from_millis(4);

/// A call of a lock that starts within this time after a wait of the same lock ended (the
/// lock taken) keeps that wait's arrival.
pub const CARRY_WINDOW: Duration = Duration::from_millis(100);

/// The queue of waiters for one lock: places `<db>-wait.<arrival>.<id>` beside the database.
#[derive(Debug)]
pub(super) struct Queue {
    /// The directory of the database, where the places of the queue are.
    dir: PathBuf,
    /// `<db name>-wait.`: what starts every place's name.
    wait_prefix: String,
    /// The arrival of this lock's last call that had to wait, and when that wait ended.
    waited: Mutex<Option<(u64, Instant)>>,
    /// How long a free lock must stay unclaimed before this waiter takes it out of turn, and
    /// how long after a wait a call keeps that wait's arrival: [`UNCLAIMED`] and
    /// [`CARRY_WINDOW`], longer in tests that check the order on a loaded machine.
    unclaimed: Duration,
    carry_window: Duration,
}

impl Queue {
    /// The queue for the lock of `database`.
    pub(super) fn beside(database: &Path) -> Queue {
        Queue {
            dir: dir_of(database),
            wait_prefix: format!("{}{WAIT_SUFFIX}", name_of(database)),
            waited: Mutex::new(None),
            unclaimed: UNCLAIMED,
            carry_window: CARRY_WINDOW,
        }
    }

    /// Waits in turn for `lock`, then publishes `line` into it; `arrival` names this waiter's
    /// place, `started` is when the call began. Errors: `Unavailable` once the busy timeout
    /// has passed since `started`, or when the lock cannot be written.
    pub(super) fn wait_in_turn(
        &self,
        lock: &FileLock,
        line: &LockLine,
        arrival: u64,
        started: Instant,
    ) -> Result<()> {
        let place = Place::join(self, arrival, &line.owner);
        let mut pauses = Pauses::seeded_from(&line.owner);
        // When this waiter first saw the lock free, and the release it saw then.
        let mut free_since: Option<(Instant, Option<String>)> = None;
        let mut ahead = place.ahead();
        loop {
            if started.elapsed() >= lock.busy_timeout() {
                return Err(lock.busy_error());
            }
            let factor = u32::try_from(ahead.len()).unwrap_or(u32::MAX).min(MAX_PAUSE_FACTOR);
            std::thread::sleep(if ahead.is_empty() { MIN_PAUSE } else { pauses.next() * factor });
            if ahead.last().is_some_and(|next| !place.is_there(next)) {
                ahead = place.ahead();
            }
            if !lock.is_free() {
                free_since = None;
                continue;
            }
            if (ahead.is_empty() || unclaimed(lock, &mut free_since) >= self.unclaimed)
                && lock.publish(line)?
            {
                place.remove_ahead(ahead);
                if let Ok(mut waited) = self.waited.lock() {
                    *waited = Some((arrival, Instant::now()));
                }
                return Ok(());
            }
        }
    }

    /// This queue with `patience` in place of both [`UNCLAIMED`] and [`CARRY_WINDOW`].
    #[cfg(test)]
    pub(super) fn with_patience(self, patience: Duration) -> Queue {
        Queue { unclaimed: patience, carry_window: patience, ..self }
    }

    /// The arrival of this lock's last call that had to wait, if that wait ended within
    /// [`CARRY_WINDOW`]; taken, so that it is carried once.
    pub(super) fn carried_arrival(&self) -> Option<u64> {
        let (arrival, ended) = self.waited.lock().ok()?.take()?;
        (ended.elapsed() <= self.carry_window).then_some(arrival)
    }
}

/// How long `lock` has been free and unclaimed by this waiter's looks: since the first of
/// them that saw it free after the release it sees now (`free_since`, kept across looks).
fn unclaimed(lock: &FileLock, free_since: &mut Option<(Instant, Option<String>)>) -> Duration {
    let last = lock.last_owner();
    let since = match free_since.take() {
        Some((since, seen)) if seen == last => since,
        _ => Instant::now(),
    };
    *free_since = Some((since, last));
    since.elapsed()
}

/// A waiter's place in the queue for the lock, `<db>-wait.<arrival>.<id>`; removed when dropped.
/// Every failure to make, list or remove places is ignored: the queue orders waiters, it
/// guards nothing, and a waiter without a place still gets the lock when it is free.
struct Place<'a> {
    queue: &'a Queue,
    name: String,
}

impl<'a> Place<'a> {
    fn join(queue: &'a Queue, arrival: u64, owner: &str) -> Place<'a> {
        let place = Place { queue, name: format!("{}{arrival:020}.{owner}", queue.wait_prefix) };
        place.make();
        place
    }

    fn make(&self) {
        let _ = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.queue.dir.join(&self.name));
    }

    /// The names of the places ahead of this one, in their order (the next one last); makes
    /// this place again if it is gone.
    fn ahead(&self) -> Vec<String> {
        let mut ahead = names_in(&self.queue.dir, |name| {
            name.starts_with(&self.queue.wait_prefix) && name <= self.name.as_str()
        });
        let before = ahead.len();
        ahead.retain(|name| name.as_str() != self.name);
        if ahead.len() == before {
            self.make();
        }
        ahead.sort_unstable();
        ahead
    }

    /// True if the place named `name` exists.
    fn is_there(&self, name: &str) -> bool {
        fs::symlink_metadata(self.queue.dir.join(name)).is_ok()
    }

    /// Removes the places ahead of this one, whose waiters let the lock go unclaimed. A
    /// listing can end early, so it lists again until one finds none ahead (bounded).
    fn remove_ahead(&self, mut ahead: Vec<String>) {
        for _ in 0..LISTING_PASSES {
            if ahead.is_empty() {
                return;
            }
            for name in &ahead {
                let _ = fs::remove_file(self.queue.dir.join(name));
            }
            ahead = self.ahead();
        }
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let _ = fs::remove_file(self.queue.dir.join(&self.name));
    }
}

/// Pauses drawn uniformly between [`MIN_PAUSE`] and [`MAX_PAUSE`] (xorshift64*, seeded from
/// the random owner id, so instances that started together do not poll in step).
struct Pauses(u64);

impl Pauses {
    fn seeded_from(owner: &str) -> Pauses {
        let seed = owner.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        Pauses(seed | 1)
    }

    fn next(&mut self) -> Duration {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let draw = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let span = (MAX_PAUSE - MIN_PAUSE).as_nanos() as u64;
        MIN_PAUSE + Duration::from_nanos(draw % (span + 1))
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use super::*;
    use crate::clock::{Clock, WallClock};
    use crate::lockfile::fixtures::{lock_in, patient_lock_in, places};

    #[test]
    fn pauses_stay_within_their_bounds_and_differ_between_waiters() {
        let mut a = Pauses::seeded_from("owner-a");
        let mut b = Pauses::seeded_from("owner-b");
        let (xs, ys): (Vec<_>, Vec<_>) = (0..1000).map(|_| (a.next(), b.next())).unzip();
        assert!(xs.iter().chain(&ys).all(|p| (MIN_PAUSE..=MAX_PAUSE).contains(p)));
        assert_ne!(xs, ys);
        let mean = xs.iter().sum::<Duration>() / 1000;
        assert!(
            mean > MIN_PAUSE + (MAX_PAUSE - MIN_PAUSE) / 3
                && mean < MAX_PAUSE - (MAX_PAUSE - MIN_PAUSE) / 3,
            "{mean:?}"
        );
    }

    /// Polls `done` until it holds, failing with `what` after 10 s.
    fn until(what: impl Fn() -> String, done: impl Fn() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(10), "never happened: {}", what());
            std::thread::yield_now();
        }
    }

    /// Waits until `dir` holds `n` places.
    fn until_places(dir: &Path, n: usize) {
        until(|| format!("{n} places, seen {:?}", places(dir)), || places(dir).len() == n);
    }

    #[test]
    fn waiters_take_the_lock_in_the_order_they_began_to_wait() {
        let dir = tempfile::tempdir().expect("tempdir");
        let holder = lock_in(dir.path(), Duration::from_secs(10));
        let guard = holder.acquire().expect("free lock");
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for i in 0..6 {
            next_ms();
            let (path, order) = (dir.path().to_owned(), order.clone());
            waiters.push(std::thread::spawn(move || {
                let lock = patient_lock_in(&path, Duration::from_secs(30));
                let _turn = lock.acquire().expect("a turn");
                order.lock().expect("order").push(i);
            }));
            until_places(dir.path(), i + 1);
        }
        drop(guard);
        for waiter in waiters {
            waiter.join().expect("waiter");
        }
        assert_eq!(*order.lock().expect("order"), [0, 1, 2, 3, 4, 5]);
        assert_eq!(places(dir.path()), Vec::<String>::new(), "each waiter removed its place");
    }

    /// Waits until a millisecond of the wall clock has begun, so that the next arrival differs.
    fn next_ms() {
        let after = WallClock.now_ms();
        while WallClock.now_ms() == after {
            std::thread::yield_now();
        }
    }
    #[test]
    fn a_call_right_after_a_wait_keeps_its_place_in_line() {
        use std::sync::mpsc;
        let dir = tempfile::tempdir().expect("tempdir");
        let holder = lock_in(dir.path(), Duration::from_secs(10));
        let guard = holder.acquire().expect("free lock");
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let turns = |name: &'static str, calls: usize, go: mpsc::Receiver<()>| {
            let (path, order) = (dir.path().to_owned(), order.clone());
            std::thread::spawn(move || {
                let lock = patient_lock_in(&path, Duration::from_secs(30));
                for call in 0..calls {
                    if call > 0 {
                        go.recv().expect("call again");
                    }
                    let turn = lock.acquire().expect("a turn");
                    order.lock().expect("order").push(format!("{name}{call}"));
                    go.recv().expect("go on");
                    drop(turn);
                }
            })
        };
        let (to_a, a_go) = mpsc::channel();
        let a = turns("a", 2, a_go);
        until_places(dir.path(), 1);
        next_ms();
        let (to_b, b_go) = mpsc::channel();
        let b = turns("b", 1, b_go);
        until_places(dir.path(), 2);
        next_ms();
        // A place between b's and c's that stays until a has called again: a waiter lists
        // the queue anew only when the place nearest ahead of it goes, so c's view of who
        // is ahead cannot change before a's second call has joined the queue.
        let stand_in = dir.path().join(format!("s.db-wait.{:020}.stand-in", WallClock.now_ms()));
        File::create(&stand_in).expect("a place ahead of c");
        next_ms();
        let (to_c, c_go) = mpsc::channel();
        let c = turns("c", 1, c_go);
        until_places(dir.path(), 4);
        let seen = |n: usize| {
            until(
                || format!("{n} turns, seen {:?}", order.lock().expect("order")),
                || order.lock().expect("order").len() >= n,
            );
        };
        drop(guard);
        seen(1);
        to_a.send(()).expect("a ends its first call");
        seen(2);
        // b holds the lock; a's second call comes now, after c began to wait, and waits too,
        // with its first call's arrival.
        to_a.send(()).expect("a calls again");
        until_places(dir.path(), 3);
        std::fs::remove_file(&stand_in).expect("the stand-in leaves");
        to_b.send(()).expect("b ends its call");
        seen(3);
        to_a.send(()).expect("a ends its second call");
        seen(4);
        to_c.send(()).expect("c ends its call");
        for t in [a, b, c] {
            t.join().expect("waiter");
        }
        assert_eq!(*order.lock().expect("order"), ["a0", "b0", "a1", "c0"]);
    }

    #[test]
    fn a_place_left_by_a_waiter_that_died_holds_the_queue_briefly_and_is_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Just arrived, as far as anyone can tell: too young to be cleared as litter.
        let dead = format!("s.db-wait.{:020}.died-waiting", WallClock.now_ms() - 1);
        File::create(dir.path().join(dead)).expect("a dead waiter's place");
        let holder = lock_in(dir.path(), Duration::from_secs(1));
        let guard = holder.acquire().expect("free lock: a place guards nothing");
        let path = dir.path().to_owned();
        let waiter = std::thread::spawn(move || {
            let started = Instant::now();
            let lock = lock_in(&path, Duration::from_secs(1));
            let waited = lock.acquire().map(|_| started.elapsed());
            waited
        });
        until_places(dir.path(), 2);
        drop(guard);
        let waited = waiter.join().expect("waiter").expect("the lock, out of turn");
        assert!(waited < Duration::from_millis(500), "{waited:?}");
        assert_eq!(places(dir.path()), Vec::<String>::new(), "the dead place and its own are gone");
    }
}
