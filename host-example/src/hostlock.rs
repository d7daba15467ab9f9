//! One serving host per data directory.
//!
//! The component's own lock file already keeps two instances from writing at once, but
//! two servers sharing a directory would contend on it for every request. `serve` takes
//! an OS lock (flock) on `<data-dir>/host.lock` for its lifetime; the kernel drops it
//! when the process dies, even by SIGKILL, so a restart never finds it stale. Commands
//! that find the directory held (`sweep`, `stats`) ask the server through its control
//! socket instead (see `control`).

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use libsqlstore_host::LoadError;

/// Held for as long as the host serves the directory.
#[derive(Debug)]
pub struct HostLock {
    _file: File,
}

impl HostLock {
    /// Takes the lock, or says which directory is already served.
    pub fn acquire(data_dir: &Path) -> Result<HostLock, LoadError> {
        let path = data_dir.join("host.lock");
        let fail = |reason: String| LoadError::DataDir { path: data_dir.to_owned(), reason };
        // Never through a symlink planted in the directory: a root server would create its target.
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| {
                fail(format!("cannot create {}: {e} (is the directory writable?)", path.display()))
            })?;
        match file.try_lock() {
            Ok(()) => Ok(HostLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(fail(format!(
                "it is locked by another running host ({} is held); stop that host or use another --data-dir",
                path.display()
            ))),
            Err(TryLockError::Error(e)) => Err(fail(format!("cannot lock {}: {e}", path.display()))),
        }
    }

    /// True while a running host holds `data_dir` (its `host.lock` cannot be locked).
    pub fn is_held(data_dir: &Path) -> bool {
        std::fs::File::open(data_dir.join("host.lock"))
            .is_ok_and(|file| matches!(file.try_lock_shared(), Err(TryLockError::WouldBlock)))
    }
}
