//! Opening a database and readying its file: the connection modes, the VFS, the checks of
//! the directory. Which modes, and why:
//! [docs/durability.md](../../../docs/durability.md#locking-modes).

use std::cell::{Cell, OnceCell};
use std::path::Path;
use std::sync::OnceLock;

use futures::executor::block_on;
use libsql::Connection;

use super::errors::open_error;
use super::statements::Statements;
use super::{FileAccess, LocalBackend, Writer};
use crate::config::{Config, Database, Locking};
use crate::error::{Error, Result};
use crate::lockfile::{FileLock, LockGuard};
use crate::schema::Sql;

/// SQLite's page cache per instance, in KiB (SQLite's default is 2,000 KiB). Inside a
/// component every cache miss is a WASI call to the host, ten times the cost of the
/// native `pread` it stands for, so a cache that holds the hot part of the table and its
/// indexes (about 300 bytes a session: some 100k sessions) pays for itself. The memory is
/// only taken as pages are read.
const PAGE_CACHE_KIB: u32 = 32 * 1024;

/// WAL size, in pages, at which a commit also checkpoints (SQLite's default is 1,000).
/// A checkpoint copies every page in the WAL back into the database and fsyncs it, all
/// inside the commit that triggers it, stalling every request queued behind; a smaller
/// WAL trades some sweep throughput (more, smaller fsyncs) for a shorter slowest call
/// (bench/README.md, "Why the settings are what they are", has the figures).
const WAL_CHECKPOINT_PAGES: u32 = 200;

impl LocalBackend {
    /// Opens (creating if absent) the database. The file itself is readied, and the table
    /// and its expiry index created if missing, under the lock: at open under exclusive
    /// locking, within the first call under shared locking (so an instance that serves one
    /// request takes the lock once).
    ///
    /// Errors: `Unavailable` when the directory is missing or not preopened, the file is
    /// not a database, or (exclusive locking) another instance holds the lock past the busy
    /// timeout; `Storage` for other engine failures. Under shared locking open touches no
    /// file: a missing directory, a file locked past the busy timeout, or one that is not
    /// a database fails the first call instead, with the same errors. A failed open changes
    /// nothing on disk.
    pub fn open(config: &Config) -> Result<LocalBackend> {
        let (path, lock) = match &config.database {
            Database::Memory => (":memory:".to_owned(), FileAccess::Private),
            Database::File(path) => {
                let text = path.to_str().ok_or_else(|| {
                    Error::InvalidConfig(format!(
                        "SESSIONS_DATABASE={path:?}: the path is not UTF-8"
                    ))
                })?;
                let lock =
                    FileLock::for_database(path, config.busy_timeout, config.lock_owner.clone());
                let lock = match config.locking {
                    Locking::Shared => FileAccess::PerOperation(lock),
                    // Taken before SQLite opens the file: nobody else touches it from here on.
                    Locking::Exclusive => match lock.hold() {
                        Ok(held) => FileAccess::Held { _lock: held },
                        Err(e) => return Err(check_parent_dir(path).err().unwrap_or(e)),
                    },
                };
                (text.to_owned(), lock)
            }
            Database::Remote(url) => {
                return Err(Error::InvalidConfig(format!(
                    "SESSIONS_DATABASE={url}: a server URL, not a local database"
                )))
            }
        };
        use_unix_none_vfs()?;
        let backend = LocalBackend {
            stmts: Statements::new(Sql::new(&config.table)),
            writer: OnceCell::new(),
            lock,
            path,
            ready: Cell::new(false),
            reader: OnceCell::new(),
            sweep_rate: None,
        };
        if !matches!(backend.lock, FileAccess::PerOperation(_)) {
            backend.ready_file().map_err(|e| backend.open_failed(e))?;
        }
        Ok(backend)
    }

    /// The read-write connection, opened on first use; call with the lock held.
    pub(super) fn conn(&self) -> libsql::Result<&Connection> {
        if let Some(writer) = self.writer.get() {
            return Ok(&writer.conn);
        }
        let db = block_on(libsql::Builder::new_local(&self.path).build())?;
        let writer = Writer { conn: db.connect()?, _db: db };
        Ok(&self.writer.get_or_init(|| writer).conn)
    }

    /// The error of a failed open or readying: what is wrong with the directory, if anything,
    /// else what SQLite said.
    fn open_failed(&self, e: libsql::Error) -> Error {
        match self.lock {
            FileAccess::Private => open_error(&self.path, e),
            FileAccess::PerOperation(_) | FileAccess::Held { .. } => {
                check_parent_dir(Path::new(&self.path))
                    .err()
                    .unwrap_or_else(|| open_error(&self.path, e))
            }
        }
    }

    /// Sets the connection's journal mode, durability, `secure_delete` and caches, and
    /// upgrades a table in the 0.1 layout ([`LocalBackend::upgrade_legacy`]) or the 0.2 one
    /// ([`LocalBackend::upgrade_v2`]). These read the
    /// file (the journal mode, the schema): call with the lock held, once.
    ///
    /// Exclusive locking must be set before the first access for WAL to work without
    /// shared memory; a shared opener sets it too, for as long as it takes to bring a file
    /// left in WAL mode back to a rollback journal. Large sweeps and listings need
    /// temporary b-trees; WASI gives SQLite no temporary directory, and the database's own
    /// directory is no place for them: they are kept in memory.
    fn ready_file(&self) -> libsql::Result<()> {
        let modes = match self.lock {
            FileAccess::Held { .. } => format!(
                "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; \
                 PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES};"
            ),
            FileAccess::PerOperation(_) | FileAccess::Private => {
                "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=TRUNCATE; \
                 PRAGMA locking_mode=NORMAL;"
                    .to_owned()
            }
        };
        block_on(self.conn()?.execute_batch(&format!(
            "{modes} PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; PRAGMA temp_store=MEMORY; \
             PRAGMA cache_size=-{PAGE_CACHE_KIB}"
        )))?;
        if self.is_legacy()? {
            self.upgrade_legacy()?;
        }
        if self.is_v2()? {
            self.upgrade_v2()?;
        }
        self.ready.set(true);
        Ok(())
    }

    /// Takes the per-operation lock, under shared locking (nothing otherwise), and readies
    /// the file on the first turn.
    pub(super) fn lock(&self) -> Result<Option<LockGuard<'_>>> {
        let guard = match &self.lock {
            FileAccess::PerOperation(lock) => Some(
                lock.acquire()
                    .map_err(|e| check_parent_dir(Path::new(&self.path)).err().unwrap_or(e))?,
            ),
            FileAccess::Private | FileAccess::Held { .. } => None,
        };
        if !self.ready.get() {
            self.ready_file().map_err(|e| self.open_failed(e))?;
        }
        Ok(guard)
    }
}

/// Makes `unix-none` SQLite's default VFS for this process (or component instance):
/// locking is done by `FileLock`, which, unlike SQLite's dot-file lock, recovers from a
/// holder that died.
///
/// libsql configures SQLite's threading mode (which must precede SQLite's initialisation)
/// and initialises SQLite when its first database handle is built, and asserts that this
/// succeeds; looking up a VFS would initialise SQLite first. So a `:memory:` handle, never
/// connected, is built first.
fn use_unix_none_vfs() -> Result<()> {
    static DONE: OnceLock<Result<()>> = OnceLock::new();
    DONE.get_or_init(|| {
        let init = block_on(libsql::Builder::new_local(":memory:").build())
            .map(drop)
            .map_err(|e| Error::Storage(format!("cannot initialise libSQL: {e}")));
        init?;
        // SAFETY: sqlite3_vfs_find and sqlite3_vfs_register are thread-safe, take a
        // NUL-terminated name and a VFS pointer that SQLite itself owns for the process.
        let registered = unsafe {
            let vfs = libsql::ffi::sqlite3_vfs_find(c"unix-none".as_ptr());
            !vfs.is_null() && libsql::ffi::sqlite3_vfs_register(vfs, 1) == libsql::ffi::SQLITE_OK
        };
        if registered {
            Ok(())
        } else {
            Err(Error::Storage("this libSQL build has no unix-none VFS".into()))
        }
    })
    .clone()
}

fn check_parent_dir(path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::Unavailable(format!("{} is not a directory", parent.display())));
        }
        Err(e) => {
            return Err(Error::Unavailable(format!(
                "the database directory {} is not accessible ({e}). Create it, and (inside a \
                 component) have the host preopen it, e.g. `wasmtime run --dir ./data::/data`, \
                 or set SESSIONS_DATABASE to a path in a preopened directory",
                parent.display()
            )));
        }
    }
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(Error::Unavailable(format!(
            "{} is a directory, not a database file",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backend;
    use crate::testing::{file_config, open_with, TestStore, T0};

    #[test]
    fn an_exclusive_store_keeps_the_file_to_itself_until_it_is_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = Config {
            busy_timeout: std::time::Duration::from_millis(50),
            ..file_config(dir.path())
        };
        let exclusive = Config { locking: crate::config::Locking::Exclusive, ..shared.clone() };
        let (mut owner, _) = open_with(&exclusive);
        owner.commit("tok", b"kept", T0 + 1000).expect("commit");
        assert!(dir.path().join("sessions.db-lock").exists(), "the lock is held between calls");
        // A shared opener meets the lock at its first call, an exclusive one at open.
        let (mut shared_store, _) = open_with(&shared);
        let attempts =
            [shared_store.find("tok").map(drop), LocalBackend::open(&exclusive).map(drop)];
        for attempt in attempts {
            match attempt {
                Err(Error::Unavailable(msg)) => assert!(msg.contains("held exclusively"), "{msg}"),
                Err(other) => panic!("expected Unavailable, got {other:?}"),
                Ok(()) => panic!("a second opener got in"),
            }
        }
        drop(shared_store);
        drop(owner);
        assert!(!dir.path().join("sessions.db-lock").exists(), "closing releases the lock");
        // The file was left in WAL mode; a shared opener turns it back and sees everything.
        let (mut later, _) = open_with(&shared);
        assert_eq!(later.find("tok").expect("find"), Some(b"kept".to_vec()));
        later.commit("tok2", b"after", T0 + 1000).expect("commit");
        drop(later);
        let (mut again, _) = open_with(&exclusive);
        assert_eq!(again.find("tok2").expect("find"), Some(b"after".to_vec()));
    }

    #[test]
    fn every_call_works_as_the_first_on_a_new_file_and_creates_the_table() {
        type Call = fn(&mut TestStore) -> Result<()>;
        let calls: [(&str, Call); 7] = [
            ("find", |s| s.find("tok").map(drop)),
            ("commit", |s| s.commit("tok", b"x", T0 + 1000)),
            ("touch", |s| s.touch("tok", T0 + 1000).map(drop)),
            ("delete", |s| s.delete("tok")),
            ("page", |s| s.page(None, 10).map(drop)),
            ("stats", |s| s.stats().map(drop)),
            ("sweep", |s| s.sweep().map(drop)),
        ];
        for (name, call) in calls {
            let dir = tempfile::tempdir().expect("tempdir");
            let (mut s, _) = open_with(&file_config(dir.path()));
            call(&mut s).unwrap_or_else(|e| panic!("{name} as the first call: {e:?}"));
            s.commit("after", b"y", T0 + 1000)
                .unwrap_or_else(|e| panic!("commit after {name}: {e:?}"));
            assert_eq!(s.find("after").expect("find"), Some(b"y".to_vec()), "after {name}");
        }
    }

    #[test]
    fn a_file_that_is_not_a_database_is_unavailable_and_left_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = file_config(dir.path());
        let garbage =
            b"this is not a database, it is a text file that happens to be here".repeat(100);
        std::fs::write(dir.path().join("sessions.db"), &garbage).expect("write");
        // Under shared locking the file is first read by the first call.
        match LocalBackend::open(&config).and_then(|mut backend| backend.find("tok", 0)) {
            Err(Error::Unavailable(msg)) => {
                assert!(msg.contains("not a libSQL/SQLite database"), "{msg}")
            }
            Err(other) => panic!("expected Unavailable, got {other:?}"),
            Ok(_) => panic!("expected Unavailable, got an answer"),
        }
        assert_eq!(std::fs::read(dir.path().join("sessions.db")).expect("read"), garbage);
    }

    #[test]
    fn a_missing_directory_is_unavailable_at_open_or_under_shared_locking_at_the_first_call() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = file_config(&dir.path().join("missing"));
        let mut backend = LocalBackend::open(&shared).expect("shared locking opens nothing");
        match backend.find("id", 0) {
            Err(Error::Unavailable(msg)) => assert!(msg.contains("not accessible"), "{msg}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        let exclusive = Config { locking: Locking::Exclusive, ..shared };
        match LocalBackend::open(&exclusive) {
            Err(Error::Unavailable(msg)) => assert!(msg.contains("not accessible"), "{msg}"),
            Err(other) => panic!("expected Unavailable, got {other:?}"),
            Ok(_) => panic!("expected Unavailable, got an open store"),
        }
        assert!(!dir.path().join("missing").exists(), "nothing was created");
    }

    #[test]
    fn a_lock_held_by_another_instance_is_never_broken_however_old() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config {
            busy_timeout: std::time::Duration::from_millis(100),
            ..file_config(dir.path())
        };
        let (mut s, _) = open_with(&config);
        s.commit("tok", b"x", T0 + 1000).expect("commit");
        let lock_path = dir.path().join("sessions.db-lock");
        let line =
            "owner=paused-writer host=flock:sessions.db-owner-0a mode=operation acquired_ms=1";
        std::fs::write(&lock_path, line).expect("a paused writer's lock");
        let ancient =
            std::time::SystemTime::now() - std::time::Duration::from_secs(365 * 24 * 3600);
        std::fs::File::options()
            .write(true)
            .open(&lock_path)
            .and_then(|f| f.set_modified(ancient))
            .expect("age");
        assert!(matches!(s.commit("tok", b"y", T0 + 1000), Err(Error::Unavailable(_))));
        assert_eq!(
            std::fs::read_to_string(&lock_path).expect("lock"),
            line,
            "the lock is still the writer's"
        );
        std::fs::remove_file(&lock_path).expect("the writer releases");
        assert_eq!(
            s.find("tok").expect("find"),
            Some(b"x".to_vec()),
            "nothing was written meanwhile"
        );
    }
}
