//! The cross-instance lock that keeps two component instances from writing one database
//! file at once.
//!
//! WASI offers no POSIX or flock locks and no shared memory, and SQLite's dot-file lock is
//! never cleaned up when its holder dies. So the store opens SQLite with the `unix-none`
//! VFS and serialises every operation (one short transaction) through this lock instead:
//!
//! * Acquire = create `<db>-lock` with create-exclusive (atomic on every filesystem WASI
//!   hosts use). The file holds a random owner id, the host's tag (`SESSIONS_LOCK_OWNER`,
//!   e.g. `pid:1234:5678`) and the acquisition time: `owner=… host=… acquired_ms=…`.
//! * Release = remove it, after checking it is still ours.
//! * Waiting: a busy lock is retried with backoff until the busy timeout, then the
//!   operation fails with `Unavailable`: "waits its turn", then a clear error.
//! * Stale locks: an instance killed mid-operation (SIGKILL of the host, a trapped guest)
//!   leaves the file behind. Operations hold the lock for milliseconds, so a lock file
//!   older than [`STALE_AFTER`] is abandoned and is removed by the next waiter. Its age is
//!   measured in *filesystem* time (the lock's mtime against the mtime of a file created
//!   now), never the guest's wall clock, which a host may set freely. Breakers first take
//!   `<db>-lock-break` exclusively, so two waiters never both break (and so never break a
//!   fresh lock taken in between).
//! * Exclusive use (`SESSIONS_LOCKING=exclusive`): an instance may instead take the lock
//!   once and keep it for its whole life ([`FileLock::hold`]). Its file says
//!   `mode=exclusive` and is never broken by age (the holder may simply be idle); only
//!   the holder, or its host once the holder is gone, removes it.
//! * Hosts can do better than the age rule: a host that tags its instances' locks with its
//!   process identity can remove, at once, a lock whose process is dead, following the
//!   same break-file protocol (the host-example library does).
//!
//! Because every transaction runs under this lock, SQLite's own invariants hold: a journal
//! found when the lock is taken is hot (its writer died) and is rolled back, and the page
//! cache is revalidated against the file change counter at every transaction.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::clock::{Clock, WallClock};
use crate::error::{Error, Result};
use crate::token::{RandomTokens, TokenSource};

/// Age (filesystem time) after which a lock file is taken to belong to a dead instance.
/// Far above the longest an operation holds the lock (a sweep batch, a 1 MiB commit and
/// its fsyncs: milliseconds); long listings refresh the lock as they go.
pub const STALE_AFTER: Duration = Duration::from_secs(10);

/// How a lock file taken for an instance's whole life marks itself.
pub const EXCLUSIVE_MARK: &str = " mode=exclusive ";

const FIRST_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_millis(25);

/// The lock for one database file.
#[derive(Debug)]
pub struct FileLock {
    path: PathBuf,
    break_path: PathBuf,
    busy_timeout: Duration,
    host: Option<String>,
}

/// Proof of holding the lock for one operation; dropping it releases the lock.
#[derive(Debug)]
pub struct LockGuard<'a> {
    lock: &'a FileLock,
    owner: String,
}

/// The lock held for the life of an instance (exclusive locking); dropping it (natively:
/// closing the store) releases the lock. A component instance that is simply discarded
/// never drops it: its host removes the file (see `mode=exclusive` above).
#[derive(Debug)]
pub struct HeldLock {
    lock: FileLock,
    owner: String,
}

/// What a lock file says it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Operation,
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

impl FileLock {
    /// The lock guarding `database` (the lock file sits beside it); `host` tags the lock
    /// files this instance writes.
    pub fn for_database(database: &Path, busy_timeout: Duration, host: Option<String>) -> FileLock {
        let mut path = database.as_os_str().to_owned();
        path.push("-lock");
        let mut break_path = path.clone();
        break_path.push("-break");
        FileLock { path: path.into(), break_path: break_path.into(), busy_timeout, host }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the lock, waiting up to the busy timeout.
    ///
    /// Errors: `Unavailable` when another live instance held it for the whole timeout, or
    /// when the lock file cannot be created at all (directory missing or read-only).
    pub fn acquire(&self) -> Result<LockGuard<'_>> {
        let owner = self.take(Mode::Operation)?;
        Ok(LockGuard { lock: self, owner })
    }

    /// Takes the lock for good (exclusive locking), waiting up to the busy timeout like
    /// [`FileLock::acquire`]; same errors.
    pub fn hold(self) -> Result<HeldLock> {
        let owner = self.take(Mode::Exclusive)?;
        Ok(HeldLock { lock: self, owner })
    }

    /// Creates the lock file marked with `mode`; the random owner id written into it.
    fn take(&self, mode: Mode) -> Result<String> {
        let owner = RandomTokens.draw()?;
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&self.path) {
                Ok(mut file) => {
                    // The content is informational (who, since when); a failed write still
                    // leaves a valid lock, so it is not an error. One write call: `write!`
                    // on a File issues one per fragment, and inside a component each is a
                    // WASI output-stream write that wasmtime-wasi hands to a blocking thread.
                    let host = self.host.as_deref().unwrap_or("-");
                    let content = format!(
                        "owner={owner} host={host} mode={} acquired_ms={}",
                        mode.label(),
                        WallClock.now_ms()
                    );
                    let _ = file.write_all(content.as_bytes());
                    return Ok(owner);
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(self.io_unavailable("cannot create the lock file", &e)),
            }
            if self.break_if_stale()? {
                continue;
            }
            if started.elapsed() >= self.busy_timeout {
                let holder = read_lock(&self.path).unwrap_or_else(|| "owner unknown".into());
                if holder.contains(EXCLUSIVE_MARK) {
                    return Err(Error::Unavailable(format!(
                        "the database is held exclusively by another instance ({}: {holder}), \
                         which opened it with SESSIONS_LOCKING=exclusive; it is released when \
                         that instance's host closes it or exits. Stop that host, or run both \
                         with SESSIONS_LOCKING=shared",
                        self.path.display(),
                    )));
                }
                return Err(Error::Unavailable(format!(
                    "the database is locked by another instance ({}: {}); it held the lock for \
                     the whole busy timeout of {:?}. Retry later or raise SESSIONS_BUSY_TIMEOUT; \
                     a lock left by a killed instance is removed automatically once it is {}s old",
                    self.path.display(),
                    holder,
                    self.busy_timeout,
                    STALE_AFTER.as_secs(),
                )));
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Removes the lock file if it is older than [`STALE_AFTER`]; true if it did. An
    /// exclusive lock is never stale by age.
    fn break_if_stale(&self) -> Result<bool> {
        match read_lock(&self.path) {
            None => return Ok(false), // released meanwhile: just retry
            Some(content) if content.contains(EXCLUSIVE_MARK) => return Ok(false),
            Some(_) => {}
        }
        match OpenOptions::new().write(true).create_new(true).open(&self.break_path) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                // Another waiter is breaking. If that waiter died in those microseconds,
                // its break file is stale too: remove it, and the next round retries.
                if let (Some(break_mtime), Some(now)) = (mtime(&self.break_path), self.fs_now()) {
                    if now.duration_since(break_mtime).unwrap_or_default() >= STALE_AFTER {
                        let _ = fs::remove_file(&self.break_path);
                    }
                }
                return Ok(false);
            }
            Err(e) => return Err(self.io_unavailable("cannot create the lock-break file", &e)),
        }
        // The break file's own mtime is "now" in filesystem time.
        let broke = match (mtime(&self.break_path), mtime(&self.path)) {
            (Some(now), Some(lock_mtime)) => {
                now.duration_since(lock_mtime).unwrap_or_default() >= STALE_AFTER
                    && fs::remove_file(&self.path).is_ok()
            }
            _ => false,
        };
        let _ = fs::remove_file(&self.break_path);
        Ok(broke)
    }

    /// The filesystem's current time, read as the mtime of a just-created break file.
    fn fs_now(&self) -> Option<SystemTime> {
        let mut probe = self.break_path.as_os_str().to_owned();
        probe.push("-probe");
        let probe = PathBuf::from(probe);
        File::create(&probe).ok()?;
        let now = mtime(&probe);
        let _ = fs::remove_file(&probe);
        now
    }

    fn io_unavailable(&self, what: &str, e: &io::Error) -> Error {
        Error::Unavailable(format!(
            "{what} {}: {e}. The directory must exist, be writable, and (inside a component) be \
             preopened by the host, e.g. `wasmtime run --dir ./data::/data`",
            self.path.display()
        ))
    }
}

impl LockGuard<'_> {
    /// Marks the lock as in use now, so a long operation is not mistaken for a dead one.
    pub fn refresh(&self) {
        if let Ok(file) = OpenOptions::new().write(true).open(&self.lock.path) {
            let _ = file.set_modified(SystemTime::now());
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

impl FileLock {
    /// Removes the lock file only if it is still `owner`'s: had this instance stalled
    /// past STALE_AFTER, the file may now be another instance's lock.
    fn release(&self, owner: &str) {
        if read_lock(&self.path).is_some_and(|c| c.contains(owner)) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The lock file's content (at most 256 bytes, which it never exceeds) in one read call;
/// `read_to_string` probes in 32-byte steps, each a WASI call inside a component.
fn read_lock(path: &Path) -> Option<String> {
    let mut buf = [0u8; 256];
    let n = File::open(path).ok()?.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock_in(dir: &Path, timeout: Duration) -> FileLock {
        FileLock::for_database(&dir.join("s.db"), timeout, Some("pid:1:2".into()))
    }

    #[test]
    fn acquire_creates_and_release_removes_the_lock_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = lock_in(dir.path(), Duration::from_secs(1));
        {
            let _guard = lock.acquire().expect("free lock");
            assert!(lock.path().exists());
        }
        assert!(!lock.path().exists());
    }

    #[test]
    fn the_lock_file_names_its_host() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = lock_in(dir.path(), Duration::from_secs(1));
        let _guard = lock.acquire().expect("free lock");
        let content = read_lock(lock.path()).expect("content");
        assert!(content.contains(" host=pid:1:2 "), "{content}");
    }

    #[test]
    fn a_held_lock_makes_others_wait_then_fail_unavailable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let holder = lock_in(dir.path(), Duration::from_secs(1));
        let _guard = holder.acquire().expect("free lock");
        let waiter = lock_in(dir.path(), Duration::from_millis(50));
        match waiter.acquire() {
            Err(Error::Unavailable(msg)) => assert!(msg.contains("locked by another instance"), "{msg}"),
            other => panic!("expected Unavailable, got {other:?}"),
        };
    }

    #[test]
    fn a_lock_left_by_a_dead_instance_is_broken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = lock_in(dir.path(), Duration::from_millis(200));
        let file = File::create(lock.path()).expect("stale lock");
        file.set_modified(SystemTime::now() - STALE_AFTER - Duration::from_secs(1)).expect("age it");
        drop(file);
        let guard = lock.acquire().expect("stale lock is broken");
        drop(guard);
        assert!(!lock.path().exists());
    }

    #[test]
    fn an_exclusive_lock_is_never_broken_by_age_and_is_released_when_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let held = lock_in(dir.path(), Duration::from_secs(1)).hold().expect("free lock");
        let path = held.lock.path().to_owned();
        File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(SystemTime::now() - STALE_AFTER * 10))
            .expect("age it");
        match lock_in(dir.path(), Duration::from_millis(50)).acquire() {
            Err(Error::Unavailable(msg)) => assert!(msg.contains("held exclusively"), "{msg}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        assert!(path.exists());
        drop(held);
        assert!(!path.exists());
    }

    #[test]
    fn a_broken_lock_is_not_removed_by_its_former_owner() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = lock_in(dir.path(), Duration::from_secs(1));
        let guard = lock.acquire().expect("free lock");
        fs::write(lock.path(), "owner=someone-else").expect("replace");
        drop(guard);
        assert!(lock.path().exists(), "another owner's lock must survive");
    }
}
