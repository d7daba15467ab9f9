//! Immediate recovery from a lock left by a killed host process.
//!
//! The component removes an abandoned `<db>-lock` only once it is 10 s old (it cannot
//! see processes from inside WASI). The host can: every instance this library runs tags
//! its lock files with `SESSIONS_LOCK_OWNER=pid:<pid>:<start time>`, and before it
//! instantiates, or when a call reports the database locked, the library checks whether
//! the process named in an existing lock file is still alive. A dead owner's lock is
//! removed at once, following the component's break protocol (take `<db>-lock-break`
//! exclusively, re-read, remove only if unchanged), so it never races a guest that is
//! breaking or acquiring the same lock. The start time guards against PID reuse.
//!
//! Liveness is read from `/proc`; on systems without it nothing is removed here and the
//! component's age rule applies.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The tag this process writes into lock files: `pid:<pid>:<start time in clock ticks>`.
pub fn owner_tag() -> String {
    let pid = std::process::id();
    format!("pid:{pid}:{}", start_time(pid).unwrap_or(0))
}

/// A tag for one store of this process: [`owner_tag`] plus `:<n>`, unique in the process,
/// so that one store never mistakes another's exclusive lock for its own.
pub fn store_tag() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{}:{}", owner_tag(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Removes `<database>-lock` if the process that holds it has died. True if removed.
pub fn recover_abandoned_lock(database: &Path) -> bool {
    let lock = with_suffix(database, "-lock");
    let Ok(content) = fs::read_to_string(&lock) else {
        return false;
    };
    if !owner_is_dead(&content) {
        return false;
    }
    let breaker = with_suffix(database, "-lock-break");
    if OpenOptions::new().write(true).create_new(true).open(&breaker).is_err() {
        return false; // someone else is breaking it
    }
    let removed = fs::read_to_string(&lock).is_ok_and(|now| now == content) && fs::remove_file(&lock).is_ok();
    let _ = fs::remove_file(&breaker);
    if removed {
        tracing::warn!(lock = %lock.display(), "removed a lock left by a process that died mid-operation");
    }
    removed
}

/// Removes `<database>-lock` if an instance tagged `tag` (see [`store_tag`]) took it for
/// good (`SESSIONS_LOCKING=exclusive`, file marked `mode=exclusive`): for a caller that
/// knows that instance is gone (discarded after a trap, or closed). True if removed.
pub fn release_own_exclusive_lock(database: &Path, tag: &str) -> bool {
    let lock = with_suffix(database, "-lock");
    let ours = format!(" host={tag} ");
    let removed = fs::read_to_string(&lock)
        .is_ok_and(|content| content.contains(&ours) && content.contains(" mode=exclusive "))
        && fs::remove_file(&lock).is_ok();
    if removed {
        tracing::debug!(lock = %lock.display(), "released the exclusive lock of a discarded instance");
    }
    removed
}

/// True only when the lock names a `pid:P:T[:N]` host and process P with start time T is
/// gone.
fn owner_is_dead(content: &str) -> bool {
    let Some(tag) = content.split_whitespace().find_map(|f| f.strip_prefix("host=pid:")) else {
        return false;
    };
    let mut fields = tag.split(':');
    let (Some(pid), Some(started)) = (fields.next(), fields.next()) else {
        return false;
    };
    let (Ok(pid), Ok(started)) = (pid.parse::<u32>(), started.parse::<u64>()) else {
        return false;
    };
    if !Path::new("/proc/self/stat").exists() {
        return false; // no way to tell here
    }
    start_time(pid) != Some(started)
}

/// Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks since boot.
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after it follow the last ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_an_unknown_pid_is_dead() {
        let own = owner_tag();
        assert!(!owner_is_dead(&format!("owner=x host={own} acquired_ms=1")));
        assert!(owner_is_dead("owner=x host=pid:4000000:1 acquired_ms=1"));
        let pid = std::process::id();
        assert!(owner_is_dead(&format!("owner=x host=pid:{pid}:1 acquired_ms=1")), "a reused pid");
        assert!(!owner_is_dead(&format!("owner=x host={} acquired_ms=1", store_tag())), "a store's tag");
        assert!(owner_is_dead("owner=x host=pid:4000000:1:3 acquired_ms=1"));
    }

    #[test]
    fn only_the_stores_own_exclusive_lock_is_released() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("s.db");
        let (mine, other) = (store_tag(), store_tag());
        for (content, released) in [
            (format!("owner=a host={other} mode=exclusive acquired_ms=1"), false),
            (format!("owner=a host={mine} mode=operation acquired_ms=1"), false),
            (format!("owner=a host={mine} mode=exclusive acquired_ms=1"), true),
        ] {
            fs::write(with_suffix(&db, "-lock"), &content).expect("write");
            assert_eq!(release_own_exclusive_lock(&db, &mine), released, "{content}");
            assert_eq!(with_suffix(&db, "-lock").exists(), !released, "{content}");
        }
    }

    #[test]
    fn locks_without_a_pid_tag_are_left_alone() {
        assert!(!owner_is_dead("owner=x host=- acquired_ms=1"));
        assert!(!owner_is_dead("garbage"));
    }

    #[test]
    fn a_dead_owners_lock_is_removed_and_a_live_one_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("s.db");
        fs::write(with_suffix(&db, "-lock"), "owner=a host=pid:4000000:7 acquired_ms=1").expect("write");
        assert!(recover_abandoned_lock(&db));
        assert!(!with_suffix(&db, "-lock").exists());
        fs::write(with_suffix(&db, "-lock"), format!("owner=b host={} acquired_ms=1", owner_tag())).expect("write");
        assert!(!recover_abandoned_lock(&db));
        assert!(with_suffix(&db, "-lock").exists());
    }
}
