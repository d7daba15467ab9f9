//! The cross-instance lock on a database file, and the one rule about taking it away from
//! its holder: never by age.
//!
//! WASI gives a component no file locks (flock, fcntl), no shared memory and no view of
//! processes. So under shared locking every operation (one short transaction) runs under a
//! lock *file*, and SQLite runs with its `unix-none` VFS, which locks nothing itself.
//!
//! # The files (this module is their one definition)
//!
//! All sit beside the database `<db>`:
//!
//! | file | what it is |
//! |---|---|
//! | `<db>-lock` | the lock: one line, `owner=<id> host=<tag> mode=<mode> acquired_ms=<ms>` |
//! | `<db>-lock.<id>` | that line being written, before it is published (lives for microseconds) |
//! | `<db>-lock-last` | the line of the lock released last: a lock is released by renaming it here |
//! | `<db>-lock-break` | used by hosts only: the OS lock under which an abandoned lock is removed |
//! | `<db>-wait.<arrival>.<id>` | a waiter's place in the queue for the lock, empty ([Waiting in turn](#waiting-in-turn)) |
//!
//! The fields of the lock, separated by single spaces, in this order:
//! * `owner`: an id drawn at random for each acquisition (43 characters, base64url); only the
//!   instance that drew it removes the lock.
//! * `host`: `SESSIONS_LOCK_OWNER` as the host gave it, `-` if none (see [Liveness](#liveness)).
//! * `mode`: `operation` (held for one call) or `exclusive` (held for an instance's life,
//!   `SESSIONS_LOCKING=exclusive`).
//! * `acquired_ms`: the guest's wall clock when taken; informational, never compared.
//!
//! # Rules
//!
//! * **Acquire** ([`FileLock::acquire`], [`FileLock::hold`]): write the line to
//!   `<db>-lock.<id>`, then hard-link that file to `<db>-lock`. The link fails if the lock
//!   exists, so taking it is atomic, and a lock is never seen without its line, even if its
//!   instance dies halfway. Every write is checked: a full disk or a read-only directory is
//!   `Unavailable`, and nothing is left behind.
//! * **Wait**: a call that finds the lock taken queues for it ([Waiting](#waiting-in-turn))
//!   until `SESSIONS_BUSY_TIMEOUT`, then fails with `Unavailable` naming the holder: lost
//!   availability, bounded and reported, never a second writer.
//! * **Release**: rename `<db>-lock` to `<db>-lock-last` (replacing the previous one) after
//!   checking that its `owner` is still ours. The lock goes away as atomically as removing it
//!   would, and `<db>-lock-last` changes at every release: its owner id, drawn at random, is a
//!   release count that never repeats. Hosts that remove an abandoned lock rename it the same
//!   way.
//! * **Never broken by age.** A holder can be paused for any length of time (SIGSTOP, a VM
//!   stall, swap, a debugger) and then go on writing; a lock taken from it would let two
//!   writers corrupt the file. The component cannot tell a paused instance from a dead one,
//!   so it never removes a lock it does not hold.
//!
//! # Liveness
//!
//! Only a host can prove that a holder is dead. `SESSIONS_LOCK_OWNER=flock:<db name>-owner-<id>`
//! (`<id>`: letters and digits) says: "the process running this instance holds an exclusive
//! OS lock (flock) on that file, beside the database, for as long as it may run instances;
//! one such file per store, so its instances' locks are told apart from others' (each host
//! store runs one instance at a time)". Then a lock is abandoned when the file is missing or
//! can be locked by
//! someone else: the kernel released it because its process exited, whatever PID namespace,
//! container or clock that process had. A host that can take OS locks may remove such a lock
//! while holding `<db>-lock-break` (an OS lock, so removals never race) after re-reading the
//! lock unchanged; and it may remove the lock of one of its own instances that it has
//! discarded (its exact tag). The host-example library does both (`lockrecovery`); so do the
//! shell launchers (`examples/lib/lockowner.sh`).
//! A lock without such a tag (the bare wasmtime CLI) stays until an operator removes it, and
//! the `Unavailable` message says so.
//!
//! Because every write transaction runs under this lock, SQLite's own invariants hold: a
//! journal found when the lock is taken is hot (its writer died) and is rolled back, and the
//! page cache is revalidated against the file change counter at every transaction.
//!
//! # Waiting in turn
//!
//! Waiters take the lock in the order they began to wait, so that a wait is bounded by the
//! waiters ahead (each holds the lock for one short transaction) and is not a lottery that a
//! few lose many times over. The queue is advisory: it decides who *tries* the link first,
//! never who holds the lock, so nothing in it can let two writers in, and a place left by an
//! instance that died costs the next waiter one short, bounded delay.
//!
//! 1. A call that finds the lock free takes it at once, without looking at the queue.
//! 2. Otherwise it makes its place, `<db>-wait.<arrival>.<id>` (`<arrival>`: its wall clock
//!    in ms, 20 digits, so that names sort by arrival; `<id>`: its lock owner id), and lists
//!    the directory once: the places whose names sort before its own are ahead of it, the
//!    last of them next. A call that starts within [`CARRY_WINDOW`] after a wait of the same
//!    instance ended keeps that wait's arrival, once: the second call of one request (a find
//!    that waited, then its save) is not sent to the back of the queue, as a transaction
//!    keeps its first timestamp in age-ordered locking.
//! 3. It looks again after a pause drawn at random between [`MIN_PAUSE`] and [`MAX_PAUSE`],
//!    times the places ahead (at most [`MAX_PAUSE_FACTOR`] times); with none ahead, after
//!    [`MIN_PAUSE`]. A look checks that the place next ahead still exists (one `stat`) and
//!    lists the directory again only when it is gone; a listing also makes this waiter's own
//!    place again if someone removed it, under its first arrival.
//! 4. With no place ahead, it takes a free lock. With places ahead, it takes a free lock
//!    only once the lock has stayed free and unclaimed (the same `<db>-lock-last`) for
//!    [`UNCLAIMED`] by its own monotonic clock: those ahead are not taking it (dead, or
//!    stalled), and it then removes their places. Places of dead waiters gather at the
//!    front of the queue (a host drops the instances of requests whose clients went away),
//!    so one such turn clears them all; those nearest the front look most often and so
//!    usually notice first.
//! 5. It removes its place when it takes the lock or gives up.
//!
//! A call that arrives while the lock is free goes first (step 1); each turn leaves the lock
//! free only until the next waiter's look, so few do. Arrivals come from each instance's wall
//! clock: a clock that steps back puts later arrivals ahead for a while, which is unfair and
//! no more. A place whose waiter died stays until the next wait behind it removes it (step 4).
//!
//! # Reading without the lock
//!
//! A read may run without taking the lock, as a reader of a seqlock does, and is kept only if
//! nobody can have written the file while it ran ([`FileLock::quiet`], then
//! [`FileLock::still_quiet`]):
//!
//! 1. read `<db>-lock-last`, then check that `<db>-lock` does not exist;
//! 2. read, with a connection that cannot write (a read-only SQLite connection never rolls a
//!    journal back; it reports a hot journal as an error instead);
//! 3. check that `<db>-lock` does not exist, then that `<db>-lock-last` reads as in step 1.
//!
//! Any writer that wrote during step 2 took the lock after step 1's check. If it still holds
//! the lock, step 3's first check fails; if it released it, `<db>-lock-last` changed. A
//! read that fails either check, or fails at all, is thrown away and done again under the
//! lock. The database backend adds checks of its own file (the journal is empty, the change
//! counter unchanged), which cover a writer that died and whose lock was removed by hand, and
//! writers of earlier versions that removed the lock instead of renaming it.

use std::cmp::Ordering;
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::clock::{Clock, WallClock};
use crate::error::{Error, Result};
use crate::token::{RandomTokens, TokenSource};

/// The suffix of the lock file: `<db>-lock`.
pub const LOCK_SUFFIX: &str = "-lock";

/// The suffix of the last released lock: `<db>-lock-last`.
pub const LAST_SUFFIX: &str = "-lock-last";

/// The suffix of the hosts' OS lock for removing an abandoned lock: `<db>-lock-break`.
pub const BREAK_SUFFIX: &str = "-lock-break";

/// What starts a `SESSIONS_LOCK_OWNER` tag that names an owner file: `flock:<file name>`.
pub const OWNER_TAG_PREFIX: &str = "flock:";

/// The owner file's name for `id` beside the database named `db_name`: `<db name>-owner-<id>`.
pub fn owner_file_name(db_name: &str, id: &str) -> String {
    format!("{db_name}-owner-{id}")
}

/// The owner file a lock's `host=` tag names, if it is a `flock:` tag naming an owner file of
/// the database `db_name` (`<db name>-owner-<id>`, `<id>` letters and digits): a file name
/// beside the database, never a path, so a lock's text never leads a host elsewhere.
pub fn owner_file_of<'a>(db_name: &str, tag: &'a str) -> Option<&'a str> {
    let name = tag.strip_prefix(OWNER_TAG_PREFIX)?;
    let id = name.strip_prefix(db_name)?.strip_prefix("-owner-")?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(name)
}

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

/// What starts the suffix of a waiter's place in the queue: `<db>-wait.<arrival>.<id>`.
pub const WAIT_SUFFIX: &str = "-wait.";

/// Longest lock line read back; the longest line written is about 240 bytes.
const MAX_LINE: usize = 512;

/// What a lock file says it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Held for one call (shared locking).
    Operation,
    /// Held for an instance's whole life (exclusive locking).
    Exclusive,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Operation => "operation",
            Mode::Exclusive => "exclusive",
        }
    }
}

/// A lock file's line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockLine {
    pub owner: String,
    /// `SESSIONS_LOCK_OWNER` of the holder's host, `None` if it gave none.
    pub host: Option<String>,
    pub mode: Mode,
    pub acquired_ms: u64,
}

impl LockLine {
    /// The line as written into `<db>-lock`.
    pub fn render(&self) -> String {
        format!(
            "owner={} host={} mode={} acquired_ms={}",
            self.owner,
            self.host.as_deref().unwrap_or("-"),
            self.mode.label(),
            self.acquired_ms
        )
    }

    /// Parses a line written by [`LockLine::render`]; `None` for anything else.
    pub fn parse(line: &str) -> Option<LockLine> {
        let mut fields = line.trim_end().split(' ');
        let owner = fields.next()?.strip_prefix("owner=")?.to_owned();
        let host = match fields.next()?.strip_prefix("host=")? {
            "-" => None,
            tag => Some(tag.to_owned()),
        };
        let mode = match fields.next()?.strip_prefix("mode=")? {
            "operation" => Mode::Operation,
            "exclusive" => Mode::Exclusive,
            _ => return None,
        };
        let acquired_ms = fields.next()?.strip_prefix("acquired_ms=")?.parse().ok()?;
        (fields.next().is_none() && !owner.is_empty()).then_some(LockLine { owner, host, mode, acquired_ms })
    }
}

/// `<database><suffix>`: the lock file and its companions.
pub fn companion(database: &Path, suffix: &str) -> PathBuf {
    let mut path = database.as_os_str().to_owned();
    path.push(suffix);
    path.into()
}

/// The lock for one database file.
#[derive(Debug)]
pub struct FileLock {
    path: PathBuf,
    /// `<db>-lock-last`.
    last: PathBuf,
    /// The directory of the database, where the places of the queue are.
    dir: PathBuf,
    /// `<db name>-wait.`: what starts every place's name.
    wait_prefix: String,
    busy_timeout: Duration,
    host: Option<String>,
    /// The arrival of this lock's last call that had to wait, and when that wait ended.
    waited: Mutex<Option<(u64, Instant)>>,
}

/// What [`FileLock::quiet`] saw before a read without the lock: the lock free, and the owner
/// of the lock released last (`None` if none was ever released).
#[derive(Debug, PartialEq, Eq)]
pub struct Quiet {
    last_owner: Option<String>,
}

/// Proof of holding the lock for one operation; dropping it releases the lock.
#[derive(Debug)]
pub struct LockGuard<'a> {
    lock: &'a FileLock,
    owner: String,
}

/// The lock held for the life of an instance (exclusive locking); dropping it (natively:
/// closing the store) releases the lock. A component instance that is simply discarded
/// never drops it: its host removes the lock (see [Liveness](self#liveness)).
#[derive(Debug)]
pub struct HeldLock {
    lock: FileLock,
    owner: String,
}

impl FileLock {
    /// The lock guarding `database`; `host` (`SESSIONS_LOCK_OWNER`) goes into its line.
    pub fn for_database(database: &Path, busy_timeout: Duration, host: Option<String>) -> FileLock {
        let dir = match database.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = database.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        FileLock {
            path: companion(database, LOCK_SUFFIX),
            last: companion(database, LAST_SUFFIX),
            dir,
            wait_prefix: format!("{name}{WAIT_SUFFIX}"),
            busy_timeout,
            host,
            waited: Mutex::new(None),
        }
    }

    /// Begins a read without the lock (see [Reading without the lock](self#reading-without-the-lock)):
    /// `None` if the lock is held now, so the read must take it.
    pub fn quiet(&self) -> Option<Quiet> {
        let last_owner = self.last_owner();
        self.is_free().then_some(Quiet { last_owner })
    }

    /// Ends a read without the lock begun by [`FileLock::quiet`]: true if nobody has held the
    /// lock since, so the read saw the file as no writer touched it.
    pub fn still_quiet(&self, quiet: &Quiet) -> bool {
        self.is_free() && self.last_owner() == quiet.last_owner
    }

    /// The owner id in `<db>-lock-last`.
    fn last_owner(&self) -> Option<String> {
        read_line(&self.last).map(|line| line.owner)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the lock, waiting up to the busy timeout.
    ///
    /// Errors: `Unavailable` when another instance held it for the whole timeout, or when
    /// the lock cannot be written at all (directory missing or read-only, disk full).
    pub fn acquire(&self) -> Result<LockGuard<'_>> {
        let owner = self.take(Mode::Operation)?;
        Ok(LockGuard { lock: self, owner })
    }

    /// Takes the lock for good (exclusive locking), waiting like [`FileLock::acquire`];
    /// same errors.
    pub fn hold(self) -> Result<HeldLock> {
        let owner = self.take(Mode::Exclusive)?;
        Ok(HeldLock { lock: self, owner })
    }

    /// Publishes a lock line marked with `mode`, waiting in turn if the lock is taken
    /// ([Waiting in turn](self#waiting-in-turn)); the random owner id written into it.
    fn take(&self, mode: Mode) -> Result<String> {
        let owner = RandomTokens.draw()?;
        let line = LockLine { owner, host: self.host.clone(), mode, acquired_ms: WallClock.now_ms() };
        let started = Instant::now();
        let arrival = self.carried_arrival().unwrap_or(line.acquired_ms);
        // A lock that is plainly there is not worth writing a candidate for.
        if self.is_free() && self.publish(&line)? {
            return Ok(line.owner);
        }
        let place = Place::join(self, arrival, &line.owner);
        let mut pauses = Pauses::seeded_from(&line.owner);
        // When this waiter first saw the lock free, and the release it saw then.
        let mut free_since: Option<(Instant, Option<String>)> = None;
        let mut ahead = place.ahead();
        loop {
            if started.elapsed() >= self.busy_timeout {
                return Err(self.busy_error());
            }
            let factor = u32::try_from(ahead.len()).unwrap_or(u32::MAX).min(MAX_PAUSE_FACTOR);
            std::thread::sleep(if ahead.is_empty() { MIN_PAUSE } else { pauses.next() * factor });
            if ahead.last().is_some_and(|next| !place.is_there(next)) {
                ahead = place.ahead();
            }
            if !self.is_free() {
                free_since = None;
                continue;
            }
            if (ahead.is_empty() || self.unclaimed(&mut free_since) >= UNCLAIMED) && self.publish(&line)?
            {
                place.remove_others(&ahead);
                if let Ok(mut waited) = self.waited.lock() {
                    *waited = Some((arrival, Instant::now()));
                }
                return Ok(line.owner);
            }
        }
    }

    /// The arrival of this lock's last call that had to wait, if that wait ended within
    /// [`CARRY_WINDOW`]; taken, so that it is carried once.
    fn carried_arrival(&self) -> Option<u64> {
        let (arrival, ended) = self.waited.lock().ok()?.take()?;
        (ended.elapsed() <= CARRY_WINDOW).then_some(arrival)
    }

    /// How long the lock has been free and unclaimed by this waiter's looks: since the first
    /// of them that saw it free after the release it sees now (`free_since`, kept across looks).
    fn unclaimed(&self, free_since: &mut Option<(Instant, Option<String>)>) -> Duration {
        let last = self.last_owner();
        let since = match free_since.take() {
            Some((since, seen)) if seen == last => since,
            _ => Instant::now(),
        };
        *free_since = Some((since, last));
        since.elapsed()
    }

    /// True if `<db>-lock` does not exist.
    fn is_free(&self) -> bool {
        fs::symlink_metadata(&self.path).is_err()
    }

    /// Writes `line` to `<db>-lock.<owner>` and links it to `<db>-lock`: true if this took
    /// the lock, false if another instance holds it.
    fn publish(&self, line: &LockLine) -> Result<bool> {
        let staged = companion(&self.path, &format!(".{}", line.owner));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staged)
            .and_then(|mut file| file.write_all(line.render().as_bytes()));
        let linked = written.and_then(|()| match fs::hard_link(&staged, &self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        });
        // The staged name is only a vehicle: the lock, if linked, lives on as `<db>-lock`.
        let removed = fs::remove_file(&staged);
        let taken = linked.map_err(|e| self.io_unavailable("cannot write the lock file", &e))?;
        if let Err(e) = removed {
            if taken {
                self.release(&line.owner);
            }
            return Err(self.io_unavailable("cannot remove the staged lock file", &e));
        }
        Ok(taken)
    }

    fn busy_error(&self) -> Error {
        let holder = read_line(&self.path);
        let who = match &holder {
            Some(line) => format!("owner {}, host {}", line.owner, line.host.as_deref().unwrap_or("not named")),
            None => "its holder just released it or wrote no readable line".to_owned(),
        };
        if holder.as_ref().is_some_and(|l| l.mode == Mode::Exclusive) {
            return Error::Unavailable(format!(
                "the database is held exclusively by another instance ({}: {who}), which opened \
                 it with SESSIONS_LOCKING=exclusive; it is released when that instance's host \
                 closes it or exits. Stop that host, or run both with SESSIONS_LOCKING=shared",
                self.path.display(),
            ));
        }
        let unnamed = holder.as_ref().is_some_and(|l| l.host.is_none());
        Error::Unavailable(format!(
            "the database is locked by another instance ({}: {who}); it held the lock for the \
             whole busy timeout of {:?}. Retry later or raise SESSIONS_BUSY_TIMEOUT.{}",
            self.path.display(),
            self.busy_timeout,
            if unnamed {
                " Its host gave no SESSIONS_LOCK_OWNER, so if that process was killed, nothing can \
                 tell that the lock is abandoned: once no process uses the database, remove the \
                 lock file by hand"
            } else {
                " A lock left by a process that exited is removed by the next host that checks \
                 it (host-example, the example launchers)"
            }
        ))
    }

    /// WASI reports a full disk as a plain I/O error, so the hint names every usual cause.
    fn io_unavailable(&self, what: &str, e: &io::Error) -> Error {
        Error::Unavailable(format!(
            "{what} {}: {e}. Check that its directory exists, is writable and has free space \
             (inside a component it must also be preopened by the host, e.g. `wasmtime run \
             --dir ./data::/data`)",
            self.path.display()
        ))
    }

    /// Renames the lock file to `<db>-lock-last`, only if it is still `owner`'s.
    fn release(&self, owner: &str) {
        if read_line(&self.path).is_some_and(|line| line.owner == owner) {
            let _ = fs::rename(&self.path, &self.last);
        }
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        self.lock.release(&self.owner);
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        self.lock.release(&self.owner);
    }
}

/// A waiter's place in the queue for the lock, `<db>-wait.<arrival>.<id>`; removed when dropped.
/// Every failure to make, list or remove places is ignored: the queue orders waiters, it
/// guards nothing, and a waiter without a place still gets the lock when it is free.
struct Place<'a> {
    lock: &'a FileLock,
    name: String,
}

impl<'a> Place<'a> {
    fn join(lock: &'a FileLock, arrival: u64, owner: &str) -> Place<'a> {
        let place = Place { lock, name: format!("{}{arrival:020}.{owner}", lock.wait_prefix) };
        place.make();
        place
    }

    fn make(&self) {
        let _ = OpenOptions::new().write(true).create(true).truncate(false).open(self.lock.dir.join(&self.name));
    }

    /// The names of the places ahead of this one, in their order (the next one last); makes
    /// this place again if it is gone.
    fn ahead(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.lock.dir) else { return Vec::new() };
        let mut ahead = Vec::new();
        let mut present = false;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.starts_with(&self.lock.wait_prefix) {
                continue;
            }
            match name.cmp(self.name.as_str()) {
                Ordering::Less => ahead.push(name.to_owned()),
                Ordering::Equal => present = true,
                Ordering::Greater => {}
            }
        }
        if !present {
            self.make();
        }
        ahead.sort_unstable();
        ahead
    }

    /// True if the place named `name` exists.
    fn is_there(&self, name: &str) -> bool {
        fs::symlink_metadata(self.lock.dir.join(name)).is_ok()
    }

    /// Removes the places of waiters that let the lock go unclaimed.
    fn remove_others(&self, names: &[String]) {
        for name in names {
            let _ = fs::remove_file(self.lock.dir.join(name));
        }
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let _ = fs::remove_file(self.lock.dir.join(&self.name));
    }
}

/// Pauses drawn uniformly between [`MIN_PAUSE`] and [`MAX_PAUSE`] (xorshift64*, seeded from
/// the random owner id, so instances that started together do not poll in step).
struct Pauses(u64);

impl Pauses {
    fn seeded_from(owner: &str) -> Pauses {
        let seed = owner.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
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

/// The lock's line in one read call (`read_to_string` probes in 32-byte steps, each a WASI
/// call inside a component); `None` if there is no lock or its line is not one of ours.
pub fn read_line(path: &Path) -> Option<LockLine> {
    let mut buf = [0u8; MAX_LINE];
    let n = File::open(path).ok()?.read(&mut buf).ok()?;
    LockLine::parse(std::str::from_utf8(&buf[..n]).ok()?)
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn lock_in(dir: &Path, timeout: Duration) -> FileLock {
        FileLock::for_database(&dir.join("s.db"), timeout, Some("flock:s.db-owner-01ab".into()))
    }

    #[test]
    fn pauses_stay_within_their_bounds_and_differ_between_waiters() {
        let mut a = Pauses::seeded_from("owner-a");
        let mut b = Pauses::seeded_from("owner-b");
        let (xs, ys): (Vec<_>, Vec<_>) = (0..1000).map(|_| (a.next(), b.next())).unzip();
        assert!(xs.iter().chain(&ys).all(|p| (MIN_PAUSE..=MAX_PAUSE).contains(p)));
        assert_ne!(xs, ys);
        let mean = xs.iter().sum::<Duration>() / 1000;
        assert!(mean > MIN_PAUSE + (MAX_PAUSE - MIN_PAUSE) / 3 && mean < MAX_PAUSE - (MAX_PAUSE - MIN_PAUSE) / 3, "{mean:?}");
    }

    #[test]
    fn acquire_creates_the_lock_file_and_release_renames_it_to_the_last_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = lock_in(dir.path(), Duration::from_secs(1));
        let owner = {
            let guard = lock.acquire().expect("free lock");
            assert!(lock.path().exists());
            guard.owner.clone()
        };
        assert!(!lock.path().exists());
        let last = dir.path().join("s.db-lock-last");
        assert_eq!(read_line(&last).map(|l| l.owner), Some(owner), "the released line is the last lock");
        let left: Vec<_> = fs::read_dir(dir.path()).expect("list").flatten().map(|e| e.path()).collect();
        assert_eq!(left, [last], "no staged file is left behind");
    }

    #[test]
    fn a_read_without_the_lock_is_kept_only_if_nobody_took_the_lock_meanwhile() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = lock_in(dir.path(), Duration::from_secs(1));
        let writer = lock_in(dir.path(), Duration::from_secs(1));

        let quiet = lock.quiet().expect("free, never released: a read may start");
        assert!(lock.still_quiet(&quiet), "nothing happened");

        let quiet = lock.quiet().expect("free");
        drop(writer.acquire().expect("free lock"));
        assert!(!lock.still_quiet(&quiet), "a writer came and went");

        let quiet = lock.quiet().expect("free again");
        let held = writer.acquire().expect("free lock");
        assert!(!lock.still_quiet(&quiet), "a writer holds the lock");
        assert_eq!(lock.quiet(), None, "no read starts while the lock is held");
        drop(held);

        let quiet = lock.quiet().expect("free after a release");
        assert!(lock.still_quiet(&quiet), "nothing happened since");
        for _ in 0..3 {
            drop(writer.acquire().expect("free lock"));
        }
        assert!(!lock.still_quiet(&quiet), "every release is told apart from the one before");
    }

    #[test]
    fn an_owner_tag_names_only_an_owner_file_of_its_own_database() {
        let name = owner_file_name("s.db", "01ab");
        assert_eq!(owner_file_of("s.db", &format!("{OWNER_TAG_PREFIX}{name}")), Some(name.as_str()));
        for foreign in ["flock:s.db-owner-", "flock:t.db-owner-01ab", "flock:s.db-owner-../x", "flock:/etc/passwd",
            "s.db-owner-01ab", "pid:12"]
        {
            assert_eq!(owner_file_of("s.db", foreign), None, "{foreign}");
        }
    }

    #[test]
    fn the_lock_line_names_its_host_and_mode_and_parses_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = lock_in(dir.path(), Duration::from_secs(1));
        let guard = lock.acquire().expect("free lock");
        let line = read_line(lock.path()).expect("a line");
        assert_eq!(line.owner, guard.owner);
        assert_eq!(line.host.as_deref(), Some("flock:s.db-owner-01ab"));
        assert_eq!(line.mode, Mode::Operation);
        assert_eq!(LockLine::parse(&line.render()), Some(line));
    }

    #[test]
    fn lines_that_are_not_lock_lines_do_not_parse() {
        for bad in ["", "garbage", "owner= host=- mode=operation acquired_ms=1", "owner=a host=- mode=other acquired_ms=1",
            "owner=a host=- mode=operation acquired_ms=x", "owner=a host=- mode=operation acquired_ms=1 extra=1"]
        {
            assert_eq!(LockLine::parse(bad), None, "{bad}");
        }
        let unnamed = LockLine::parse("owner=a host=- mode=exclusive acquired_ms=7").expect("parses");
        assert_eq!((unnamed.host, unnamed.mode), (None, Mode::Exclusive));
    }

    #[test]
    fn a_held_lock_makes_others_wait_then_fail_unavailable_naming_the_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let holder = lock_in(dir.path(), Duration::from_secs(1));
        let guard = holder.acquire().expect("free lock");
        let waiter = lock_in(dir.path(), Duration::from_millis(50));
        match waiter.acquire() {
            Err(Error::Unavailable(msg)) => {
                assert!(msg.contains("locked by another instance"), "{msg}");
                assert!(msg.contains(&guard.owner), "{msg}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        };
        assert_eq!(places(dir.path()), Vec::<String>::new(), "a waiter that gave up left its place");
    }

    /// The places of the queue in `dir`.
    fn places(dir: &Path) -> Vec<String> {
        let names = fs::read_dir(dir).expect("list").flatten().map(|e| e.file_name().to_string_lossy().into_owned());
        names.filter(|n| n.starts_with("s.db-wait.")).collect()
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
                let lock = lock_in(&path, Duration::from_secs(10));
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
                let lock = lock_in(&path, Duration::from_secs(10));
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
        let (to_c, c_go) = mpsc::channel();
        let c = turns("c", 1, c_go);
        until_places(dir.path(), 3);
        let seen = |n: usize| {
            until(|| format!("{n} turns, seen {:?}", order.lock().expect("order")), || order.lock().expect("order").len() >= n);
        };
        drop(guard);
        seen(1);
        to_a.send(()).expect("a ends its first call");
        seen(2);
        // b holds the lock; a's second call comes now, after c began to wait, and waits too.
        to_a.send(()).expect("a calls again");
        until_places(dir.path(), 2);
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
        let dead = "s.db-wait.00000000000000000001.died-waiting";
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

    #[test]
    fn a_lock_is_never_broken_by_age() {
        let dir = tempfile::tempdir().expect("tempdir");
        let holder = lock_in(dir.path(), Duration::from_secs(1));
        let guard = holder.acquire().expect("free lock");
        let ancient = SystemTime::now() - Duration::from_secs(30 * 24 * 3600);
        File::options().write(true).open(holder.path()).and_then(|f| f.set_modified(ancient)).expect("age it");
        assert!(matches!(lock_in(dir.path(), Duration::from_millis(100)).acquire(), Err(Error::Unavailable(_))));
        assert_eq!(read_line(holder.path()).map(|l| l.owner), Some(guard.owner.clone()), "still the holder's");
        drop(guard);
        assert!(lock_in(dir.path(), Duration::from_millis(100)).acquire().is_ok(), "free once released");
    }

    #[test]
    fn a_lock_of_a_host_without_liveness_tag_says_it_must_be_removed_by_hand() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("s.db");
        let anonymous = FileLock::for_database(&db, Duration::from_secs(1), None);
        let _g = anonymous.acquire().expect("free lock");
        match FileLock::for_database(&db, Duration::from_millis(30), None).acquire() {
            Err(Error::Unavailable(msg)) => assert!(msg.contains("remove the lock file by hand"), "{msg}"),
            other => panic!("expected Unavailable, got {other:?}"),
        };
    }

    #[test]
    fn an_exclusive_lock_is_reported_as_such_and_released_when_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let held = lock_in(dir.path(), Duration::from_secs(1)).hold().expect("free lock");
        let path = held.lock.path().to_owned();
        match lock_in(dir.path(), Duration::from_millis(50)).acquire() {
            Err(Error::Unavailable(msg)) => assert!(msg.contains("held exclusively"), "{msg}"),
            other => panic!("expected Unavailable, got {other:?}"),
        };
        assert_eq!(read_line(&path).map(|l| l.mode), Some(Mode::Exclusive));
        drop(held);
        assert!(!path.exists());
        assert_eq!(read_line(&companion(&dir.path().join("s.db"), LAST_SUFFIX)).map(|l| l.mode), Some(Mode::Exclusive));
    }

    #[test]
    fn a_lock_that_is_no_longer_ours_is_not_removed_by_its_former_owner() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = lock_in(dir.path(), Duration::from_secs(1));
        let guard = lock.acquire().expect("free lock");
        fs::write(lock.path(), "owner=someone-else host=- mode=operation acquired_ms=1").expect("replace");
        drop(guard);
        assert!(lock.path().exists(), "another owner's lock must survive");
    }

    #[test]
    fn a_directory_that_cannot_be_written_is_unavailable_and_left_clean() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = FileLock::for_database(&dir.path().join("missing").join("s.db"), Duration::from_secs(1), None);
        match lock.acquire() {
            Err(Error::Unavailable(msg)) => assert!(msg.contains("cannot write the lock file"), "{msg}"),
            other => panic!("expected Unavailable, got {other:?}"),
        };
    }
}
