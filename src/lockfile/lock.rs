//! Taking, holding and releasing the lock: [`FileLock`], [`LockGuard`], [`HeldLock`].
//! The rules, and why a lock is never broken by age:
//! [docs/durability.md](../../docs/durability.md#rules).

use std::fs::{self, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::line::{companion, read_line, LockLine, Mode, LAST_SUFFIX, LOCK_SUFFIX};
use super::litter::Litter;
use super::queue::Queue;
use crate::clock::{Clock, WallClock};
use crate::error::{Error, Result};
use crate::token::{RandomTokens, TokenSource};

/// The lock for one database file.
#[derive(Debug)]
pub struct FileLock {
    path: PathBuf,
    /// `<db>-lock-last`.
    last: PathBuf,
    busy_timeout: Duration,
    host: Option<String>,
    /// The waiters' queue beside the database.
    queue: Queue,
    /// What killed callers left beside the database, cleared by the holder.
    litter: Litter,
}

/// Proof of holding the lock for one operation; dropping it releases the lock.
#[derive(Debug)]
pub struct LockGuard<'a> {
    lock: &'a FileLock,
    owner: String,
}

/// The lock held for the life of an instance (exclusive locking); dropping it (natively:
/// closing the store) releases the lock. A component instance that is simply discarded
/// never drops it: its host removes the lock (see
/// [Liveness](../../docs/durability.md#liveness)).
#[derive(Debug)]
pub struct HeldLock {
    lock: FileLock,
    owner: String,
}

impl FileLock {
    /// The lock guarding `database`; `host` (`SESSIONS_LOCK_OWNER`) goes into its line.
    pub fn for_database(database: &Path, busy_timeout: Duration, host: Option<String>) -> FileLock {
        FileLock {
            path: companion(database, LOCK_SUFFIX),
            last: companion(database, LAST_SUFFIX),
            busy_timeout,
            host,
            queue: Queue::beside(database),
            litter: Litter::beside(database),
        }
    }

    /// This lock with `patience` in place of the queue's timing (see `Queue::with_patience`).
    #[cfg(test)]
    pub(crate) fn with_patience(self, patience: Duration) -> FileLock {
        FileLock { queue: self.queue.with_patience(patience), ..self }
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

    /// Publishes a lock line marked with `mode`, waiting in turn if the lock is taken; the
    /// random owner id written into it.
    fn take(&self, mode: Mode) -> Result<String> {
        let owner = RandomTokens.draw()?;
        let line =
            LockLine { owner, host: self.host.clone(), mode, acquired_ms: WallClock.now_ms() };
        let started = Instant::now();
        let arrival = self.queue.carried_arrival().unwrap_or(line.acquired_ms);
        // A lock that is plainly there is not worth writing a candidate for.
        if !(self.is_free() && self.publish(&line)?) {
            self.queue.wait_in_turn(self, &line, arrival, started)?;
        }
        self.litter.clear_if_due(&line.owner, WallClock.now_ms(), self.busy_timeout);
        Ok(line.owner)
    }

    /// True if `<db>-lock` does not exist.
    pub(crate) fn is_free(&self) -> bool {
        fs::symlink_metadata(&self.path).is_err()
    }

    /// The owner id in `<db>-lock-last`: it changes at every release.
    pub(crate) fn last_owner(&self) -> Option<String> {
        read_line(&self.last).map(|line| line.owner)
    }

    /// How long a call waits for the lock before it gives up.
    pub(super) fn busy_timeout(&self) -> Duration {
        self.busy_timeout
    }

    /// Writes `line` to `<db>-lock.<owner>` and links it to `<db>-lock`: true if this took
    /// the lock, false if another instance holds it.
    pub(super) fn publish(&self, line: &LockLine) -> Result<bool> {
        let staged = companion(&self.path, &format!(".{}", line.owner));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staged)
            .and_then(|mut file| file.write_all(line.render().as_bytes()));
        let linked = written.and_then(|()| match fs::hard_link(&staged, &self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            // The holder removed the staged line as litter before it was linked: not taken;
            // the next try stages it again.
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        });
        // The staged name is only a vehicle: the lock, if linked, lives on as `<db>-lock`.
        let removed = match fs::remove_file(&staged) {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            removed => removed,
        };
        let taken = linked.map_err(|e| self.io_unavailable("cannot write the lock file", &e))?;
        if let Err(e) = removed {
            if taken {
                self.release(&line.owner);
            }
            return Err(self.io_unavailable("cannot remove the staged lock file", &e));
        }
        Ok(taken)
    }

    /// The `Unavailable` error of a wait that timed out, naming the lock and its holder.
    pub(super) fn busy_error(&self) -> Error {
        let holder = read_line(&self.path);
        let who = match &holder {
            Some(line) => format!(
                "owner {}, host {}",
                line.owner,
                line.host.as_deref().unwrap_or("not named")
            ),
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

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::time::SystemTime;

    use super::*;
    use crate::lockfile::fixtures::{lock_in, places};

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
        assert_eq!(
            read_line(&last).map(|l| l.owner),
            Some(owner),
            "the released line is the last lock"
        );
        let left: Vec<_> =
            fs::read_dir(dir.path()).expect("list").flatten().map(|e| e.path()).collect();
        assert_eq!(left, [last], "no staged file is left behind");
    }

    #[test]
    fn a_killed_writers_staged_line_is_gone_once_the_next_writer_has_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let staged = dir.path().join("s.db-lock.killed-before-linking");
        fs::write(&staged, "owner=killed-before-linking host=- mode=operation acquired_ms=1\n")
            .expect("a killed writer's staged line");
        let lock = lock_in(dir.path(), Duration::from_secs(1));
        drop(lock.acquire().expect("free lock"));
        assert!(!staged.exists(), "the staged line is cleared by the next holder");
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
        assert_eq!(
            places(dir.path()),
            Vec::<String>::new(),
            "a waiter that gave up left its place"
        );
    }

    #[test]
    fn a_lock_is_never_broken_by_age() {
        let dir = tempfile::tempdir().expect("tempdir");
        let holder = lock_in(dir.path(), Duration::from_secs(1));
        let guard = holder.acquire().expect("free lock");
        let ancient = SystemTime::now() - Duration::from_secs(30 * 24 * 3600);
        File::options()
            .write(true)
            .open(holder.path())
            .and_then(|f| f.set_modified(ancient))
            .expect("age it");
        assert!(matches!(
            lock_in(dir.path(), Duration::from_millis(100)).acquire(),
            Err(Error::Unavailable(_))
        ));
        assert_eq!(
            read_line(holder.path()).map(|l| l.owner),
            Some(guard.owner.clone()),
            "still the holder's"
        );
        drop(guard);
        assert!(
            lock_in(dir.path(), Duration::from_millis(100)).acquire().is_ok(),
            "free once released"
        );
    }

    #[test]
    fn a_lock_of_a_host_without_liveness_tag_says_it_must_be_removed_by_hand() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("s.db");
        let anonymous = FileLock::for_database(&db, Duration::from_secs(1), None);
        let _g = anonymous.acquire().expect("free lock");
        match FileLock::for_database(&db, Duration::from_millis(30), None).acquire() {
            Err(Error::Unavailable(msg)) => {
                assert!(msg.contains("remove the lock file by hand"), "{msg}")
            }
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
        assert_eq!(
            read_line(&companion(&dir.path().join("s.db"), LAST_SUFFIX)).map(|l| l.mode),
            Some(Mode::Exclusive)
        );
    }

    #[test]
    fn a_lock_that_is_no_longer_ours_is_not_removed_by_its_former_owner() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = lock_in(dir.path(), Duration::from_secs(1));
        let guard = lock.acquire().expect("free lock");
        fs::write(lock.path(), "owner=someone-else host=- mode=operation acquired_ms=1")
            .expect("replace");
        drop(guard);
        assert!(lock.path().exists(), "another owner's lock must survive");
    }

    #[test]
    fn a_directory_that_cannot_be_written_is_unavailable_and_left_clean() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = FileLock::for_database(
            &dir.path().join("missing").join("s.db"),
            Duration::from_secs(1),
            None,
        );
        match lock.acquire() {
            Err(Error::Unavailable(msg)) => {
                assert!(msg.contains("cannot write the lock file"), "{msg}")
            }
            other => panic!("expected Unavailable, got {other:?}"),
        };
    }
}
