//! Proving a lock holder dead, and removing its lock: the host's half of the component's
//! lock protocol (the component's `lockfile` module is the specification).
//!
//! The component never removes a lock it does not hold, because it cannot tell a paused
//! holder from a dead one. A host can, with an OS lock the kernel releases when a process
//! exits, whatever PID namespace, container or clock it had:
//!
//! * [`OwnerFile`]: each store of this library creates `<db>-owner-<id>` beside its
//!   database and holds an exclusive flock on it for the store's life; its instances write
//!   `host=flock:<that name>` into the locks they take (`SESSIONS_LOCK_OWNER`).
//! * [`recover_abandoned_lock`]: a lock whose owner file is missing, or can be flocked by
//!   us, belongs to a process that exited. It is removed while holding `<db>-lock-break`
//!   (an OS lock, so two removers never race) and only if the lock reads the same as
//!   before; removing is renaming it to `<db>-lock-last`, as the component's release does. A lock without an owner file (`host=-`, another kind of tag) is left alone.
//! * [`release_own_lock`]: a store that discarded its instance (a trap, a missed deadline,
//!   closing) removes a lock that carries its own tag: that instance can no longer use it.
//!
//! Dead owner files (of processes that exited) are removed when the next store on the same
//! database is opened, once no lock names them.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use libsqlstore::lockfile::{
    self, LockLine, BREAK_SUFFIX, LAST_SUFFIX, LOCK_SUFFIX, OWNER_TAG_PREFIX,
};

/// The lock as read: its exact text (to check it unchanged before removing it) and its line.
#[derive(Debug, PartialEq, Eq)]
struct Held {
    text: String,
    line: LockLine,
}

impl Held {
    /// The holder's `SESSIONS_LOCK_OWNER`, if its host gave one.
    fn host(&self) -> Option<&str> {
        self.line.host.as_deref()
    }
}

/// An owner file this store holds an exclusive flock on for its life; removed on drop
/// (after the store's instance, which shares it through an `Arc`, is gone).
#[derive(Debug)]
pub struct OwnerFile {
    path: PathBuf,
    tag: String,
    _locked: File,
}

impl OwnerFile {
    /// Creates and flocks `<database>-owner-<random id>`. It appears under that name only
    /// once locked (it is locked under another name, then renamed), so nobody ever sees it
    /// unlocked while its store lives. Removes the owner files of exited processes first.
    pub fn create(database: &Path) -> io::Result<OwnerFile> {
        let dir = parent_dir(database);
        let name = file_name(database)?;
        remove_dead_owner_files(database, dir);
        let id = random_id()?;
        let final_name = lockfile::owner_file_name(&name, &id);
        let staged = dir.join(format!("{name}-newowner-{id}"));
        let file = OpenOptions::new().write(true).create_new(true).open(&staged)?;
        let locked = file.try_lock().map_err(|e| match e {
            TryLockError::Error(e) => e,
            TryLockError::WouldBlock => {
                io::Error::other("a file created just now is locked by someone else")
            }
        });
        let path = dir.join(&final_name);
        if let Err(e) = locked.and_then(|()| fs::rename(&staged, &path)) {
            let _ = fs::remove_file(&staged);
            return Err(e);
        }
        Ok(OwnerFile { path, tag: format!("{OWNER_TAG_PREFIX}{final_name}"), _locked: file })
    }

    /// The `SESSIONS_LOCK_OWNER` value for the instances of this store.
    pub fn tag(&self) -> &str {
        &self.tag
    }
}

impl Drop for OwnerFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Removes `<database>-lock` if the process that holds it has exited. True if removed.
pub fn recover_abandoned_lock(database: &Path) -> bool {
    let Some(held) = read_held(database) else {
        return false;
    };
    let Some(owner) = held.host().and_then(|tag| owner_file(database, tag)) else {
        return false; // a holder we cannot check is taken to be alive
    };
    if !owner_is_dead(&owner) {
        return false;
    }
    let removed = remove_if_unchanged(database, &held);
    if removed {
        tracing::warn!(
            lock = %lock_path(database).display(),
            "removed a lock left by a process that exited mid-operation"
        );
        let _ = fs::remove_file(&owner);
    }
    removed
}

/// Removes `<database>-lock` if it carries `tag`: for a store whose instance is gone, so
/// nothing can be using the lock it took. True if removed.
pub fn release_own_lock(database: &Path, tag: &str) -> bool {
    let removed = read_held(database)
        .is_some_and(|held| held.host() == Some(tag) && remove_if_unchanged(database, &held));
    if removed {
        tracing::debug!(lock = %lock_path(database).display(), "released the lock of a discarded instance");
    }
    removed
}

/// The lock, if there is one and it reads as the component writes it.
fn read_held(database: &Path) -> Option<Held> {
    let mut text = String::new();
    File::open(lock_path(database)).ok()?.take(512).read_to_string(&mut text).ok()?;
    let line = LockLine::parse(&text)?;
    Some(Held { text, line })
}

/// The owner file a lock's tag names beside the database (see [`lockfile::owner_file_of`]).
fn owner_file(database: &Path, tag: &str) -> Option<PathBuf> {
    let name = lockfile::owner_file_of(&file_name(database).ok()?, tag)?;
    Some(parent_dir(database).join(name))
}

/// True when nobody holds the owner file's flock any more (or it is gone). Taking the flock
/// here releases it again at once: a dead owner's file is never locked again by anyone.
fn owner_is_dead(owner: &Path) -> bool {
    match File::open(owner) {
        Err(e) => e.kind() == io::ErrorKind::NotFound,
        Ok(file) => file.try_lock_shared().is_ok(),
    }
}

/// Removes the lock while holding `<db>-lock-break`, if it still reads as `held`: renames it to
/// `<db>-lock-last`, as a release does, so that reads without the lock see it change.
fn remove_if_unchanged(database: &Path, held: &Held) -> bool {
    let breaker = lockfile::companion(database, BREAK_SUFFIX);
    // Never through a symlink planted beside the database: a root host would create its target.
    let breaker = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(breaker);
    let Ok(breaker) = breaker else {
        return false;
    };
    if breaker.lock().is_err() {
        return false;
    }
    read_held(database).is_some_and(|now| now == *held)
        && fs::rename(lock_path(database), lockfile::companion(database, LAST_SUFFIX)).is_ok()
}

/// Removes `<name>-owner-*` files nobody holds any more and no lock names.
fn remove_dead_owner_files(database: &Path, dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let held = read_held(database);
    let named = held.as_ref().and_then(Held::host);
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(file) = file.to_str() else { continue };
        let tag = format!("{OWNER_TAG_PREFIX}{file}");
        let Some(owner) = owner_file(database, &tag) else { continue };
        if named != Some(tag.as_str()) && owner_is_dead(&owner) {
            let _ = fs::remove_file(&owner);
        }
    }
}

fn lock_path(database: &Path) -> PathBuf {
    lockfile::companion(database, LOCK_SUFFIX)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn file_name(database: &Path) -> io::Result<String> {
    database
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| io::Error::other(format!("{} has no UTF-8 file name", database.display())))
}

/// 128 random bits as hex, from the OS.
fn random_id() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use libsqlstore::lockfile::Mode;

    use super::*;

    /// Writes the lock as the component does; `host` `-` is a holder that gave no tag.
    fn write_lock(db: &Path, host: &str) {
        let line = LockLine {
            owner: "abc".into(),
            host: (host != "-").then(|| host.into()),
            mode: Mode::Operation,
            acquired_ms: 1,
        };
        fs::write(lock_path(db), line.render()).expect("write lock");
    }

    #[test]
    fn a_live_owners_lock_is_kept_and_a_dead_owners_lock_is_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("s.db");
        let owner = OwnerFile::create(&db).expect("owner file");
        write_lock(&db, owner.tag());
        assert!(!recover_abandoned_lock(&db), "its owner holds the flock");
        assert!(lock_path(&db).exists());
        drop(owner);
        assert!(recover_abandoned_lock(&db), "the owner file is gone");
        assert!(!lock_path(&db).exists());
        let last = lockfile::read_line(&lockfile::companion(&db, LAST_SUFFIX)).map(|l| l.owner);
        assert_eq!(last.as_deref(), Some("abc"), "renamed to the last lock, as a release does");
    }

    #[test]
    fn an_owner_file_nobody_holds_means_its_process_exited() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("s.db");
        fs::write(dir.path().join("s.db-owner-00ff"), "").expect("a dead process's owner file");
        write_lock(&db, "flock:s.db-owner-00ff");
        assert!(recover_abandoned_lock(&db));
        assert!(!lock_path(&db).exists());
        assert!(!dir.path().join("s.db-owner-00ff").exists(), "its owner file goes too");
    }

    #[test]
    fn locks_whose_holder_cannot_be_checked_are_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("s.db");
        for host in [
            "-",
            "pid:1:2",
            "flock:../etc/passwd",
            "flock:other.db-owner-1",
            "flock:s.db-owner-x/y",
            "flock:",
        ] {
            write_lock(&db, host);
            assert!(!recover_abandoned_lock(&db), "{host}");
            assert!(lock_path(&db).exists(), "{host}");
        }
    }

    #[test]
    fn only_the_stores_own_lock_is_released() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("s.db");
        let (mine, other) =
            (OwnerFile::create(&db).expect("mine"), OwnerFile::create(&db).expect("other"));
        write_lock(&db, other.tag());
        assert!(!release_own_lock(&db, mine.tag()));
        assert!(lock_path(&db).exists());
        write_lock(&db, mine.tag());
        assert!(release_own_lock(&db, mine.tag()));
        assert!(!lock_path(&db).exists());
    }

    #[test]
    fn dead_owner_files_are_removed_when_a_store_opens_unless_a_lock_names_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("s.db");
        for id in ["01", "02"] {
            fs::write(dir.path().join(format!("s.db-owner-{id}")), "").expect("dead owner file");
        }
        write_lock(&db, "flock:s.db-owner-02");
        let live = OwnerFile::create(&db).expect("owner file");
        assert!(!dir.path().join("s.db-owner-01").exists());
        assert!(dir.path().join("s.db-owner-02").exists(), "a lock still names it");
        let _second = OwnerFile::create(&db).expect("second owner file");
        assert!(live.path.exists(), "a live store's owner file is never removed");
    }
}
