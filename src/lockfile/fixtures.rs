//! Fixtures shared by the lock's unit tests.

use std::fs;
use std::path::Path;
use std::time::Duration;

use super::FileLock;

/// The lock of `<dir>/s.db`, with a liveness tag.
pub(crate) fn lock_in(dir: &Path, timeout: Duration) -> FileLock {
    FileLock::for_database(&dir.join("s.db"), timeout, Some("flock:s.db-owner-01ab".into()))
}

/// [`lock_in`], with a queue whose timing is in seconds, not milliseconds (a free lock left
/// unclaimed, an arrival carried over), so that the order holds on a loaded machine.
pub(crate) fn patient_lock_in(dir: &Path, timeout: Duration) -> FileLock {
    lock_in(dir, timeout).with_patience(Duration::from_secs(10))
}

/// The places of the queue in `dir`.
pub(crate) fn places(dir: &Path) -> Vec<String> {
    let names = fs::read_dir(dir)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned());
    names.filter(|n| n.starts_with("s.db-wait.")).collect()
}
