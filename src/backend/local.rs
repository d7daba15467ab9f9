//! The embedded backend: a libSQL database file (or `:memory:`) inside the instance.
//!
//! Durability and concurrency, chosen for hosts that may run one long-lived instance or
//! a fresh instance per request, in one or several processes:
//! * Shared locking (the default): `journal_mode=TRUNCATE`, `synchronous=FULL`, a
//!   rollback journal, because WAL needs shared memory, which WASI lacks. SQLite's
//!   `unix-none` VFS plus this crate's [`FileLock`]: every operation runs as one
//!   transaction under a lock file that cannot go permanently stale (see `lockfile`).
//! * Exclusive locking (`SESSIONS_LOCKING=exclusive`): the lock file is taken at open and
//!   kept; SQLite runs with `locking_mode=EXCLUSIVE` and `journal_mode=WAL` (its WAL index
//!   then lives in the instance's memory, no shared memory needed), `synchronous=FULL`.
//!   A commit is one WAL append and one fsync; reads touch no file while the page cache
//!   holds their pages. A shared opener of a file left in WAL mode turns it back into a
//!   rollback-journal file first (recovering the WAL if its writer died).
//! * Either way an acknowledged commit has been fsynced, so it survives SIGKILL of the
//!   host and power loss alike; a commit cut short is rolled back by the next opener.
//!   `:memory:` databases are private to the instance and take no lock.
//! * Prepared statements are kept for the life of the instance and reset after each use,
//!   so no read transaction stays open between calls.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures::executor::block_on;
use libsql::{params, Connection, Database as LibsqlDatabase, Statement};

use super::{Backend, Entry, SessionCounts, SweepReport};
use crate::config::{Config, Database, Locking};
use crate::error::{Error, Result};
use crate::lockfile::{FileLock, HeldLock, LockGuard};
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

/// Rows the first sweep chunk of an instance deletes, to measure its rate; also the fewest
/// any chunk deletes (when that many are expired and the batch allows), however slow the disk.
const SWEEP_CHUNK: u64 = 100;

/// Rows a listing examines (active or expired) per transaction. Under shared locking the
/// lock is released between chunks, so a listing over millions of expired rows never keeps
/// writers waiting longer than one chunk takes (a few milliseconds).
const LIST_CHUNK: i64 = 1024;

/// An open embedded database with its prepared statements.
pub struct LocalBackend {
    conn: Connection,
    stmts: Statements,
    lock: FileAccess,
    /// Rows per second of this instance's last full sweep chunk, commit included.
    sweep_rate: Option<f64>,
    // Dropped last: the connection and statements borrow its handle.
    _db: LibsqlDatabase,
}

/// How this instance shares its database file with others.
enum FileAccess {
    /// `:memory:`: nothing to share.
    Private,
    /// Shared locking: the lock is taken around every operation.
    PerOperation(FileLock),
    /// Exclusive locking: held since open (released when the backend is dropped).
    Held { _lock: HeldLock },
}

struct Statements {
    find: Statement,
    upsert: Statement,
    update: Statement,
    insert_new: Statement,
    delete: Statement,
    scan: Statement,
    touch: Statement,
    counts: Statement,
    sweep: Statement,
    any_expired: Statement,
    begin: Statement,
    commit: Statement,
    rollback: Statement,
}

impl LocalBackend {
    /// Opens (creating if absent) the database, its table and expiry index.
    ///
    /// Errors: `Unavailable` when the directory is missing or not preopened, the file is
    /// not a database, or another instance holds the lock past the busy timeout;
    /// `Storage` for other engine failures. A failed open changes nothing on disk.
    pub fn open(config: &Config) -> Result<LocalBackend> {
        let (path, lock) = match &config.database {
            Database::Memory => (":memory:".to_owned(), FileAccess::Private),
            Database::File(path) => {
                check_parent_dir(path)?;
                let text = path.to_str().ok_or_else(|| {
                    Error::InvalidConfig(format!("SESSIONS_DATABASE={path:?}: the path is not UTF-8"))
                })?;
                let lock = FileLock::for_database(path, config.busy_timeout, config.lock_owner.clone());
                let lock = match config.locking {
                    Locking::Shared => FileAccess::PerOperation(lock),
                    // Taken before SQLite opens the file: nobody else touches it from here on.
                    Locking::Exclusive => FileAccess::Held { _lock: lock.hold()? },
                };
                (text.to_owned(), lock)
            }
            Database::Remote(url) => {
                return Err(Error::InvalidConfig(format!("SESSIONS_DATABASE={url}: a server URL, not a local database")))
            }
        };
        use_unix_none_vfs()?;
        let db = block_on(libsql::Builder::new_local(&path).build()).map_err(|e| open_error(&path, e))?;
        let conn = db.connect().map_err(|e| open_error(&path, e))?;
        let sql = Sql::new(&config.table);
        let _guard = match &lock {
            FileAccess::PerOperation(lock) => Some(lock.acquire()?),
            _ => None,
        };
        let exclusive = matches!(lock, FileAccess::Held { .. });
        let stmts = block_on(async {
            // Exclusive locking must be set before the first access for WAL to work
            // without shared memory; a shared opener sets it too, for as long as it takes
            // to bring a file left in WAL mode back to a rollback journal.
            conn.query("PRAGMA locking_mode=EXCLUSIVE", ()).await?.next().await?;
            // journal_mode answers with a row; it must be read and dropped.
            let journal = if exclusive { "WAL" } else { "TRUNCATE" };
            conn.query(&format!("PRAGMA journal_mode={journal}"), ()).await?.next().await?;
            if exclusive {
                conn.query(&format!("PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}"), ()).await?.next().await?;
            } else {
                conn.query("PRAGMA locking_mode=NORMAL", ()).await?.next().await?;
            }
            conn.execute("PRAGMA synchronous=FULL", ()).await?;
            // Large sweeps and listings need temporary b-trees; WASI gives SQLite no
            // temporary directory, and the database's own directory is no place for them.
            conn.execute("PRAGMA temp_store=MEMORY", ()).await?;
            conn.execute(&format!("PRAGMA cache_size=-{}", PAGE_CACHE_KIB), ()).await?;
            conn.execute(&sql.create_table, ()).await?;
            conn.execute(&sql.create_index, ()).await?;
            Ok::<_, libsql::Error>(Statements {
                find: conn.prepare(&sql.find).await?,
                upsert: conn.prepare(&sql.upsert).await?,
                update: conn.prepare(&sql.update).await?,
                insert_new: conn.prepare(&sql.insert_new).await?,
                delete: conn.prepare(&sql.delete).await?,
                scan: conn.prepare(&sql.scan).await?,
                touch: conn.prepare(&sql.touch).await?,
                counts: conn.prepare(&sql.counts).await?,
                sweep: conn.prepare(&sql.sweep).await?,
                any_expired: conn.prepare(&sql.any_expired).await?,
                begin: conn.prepare("BEGIN IMMEDIATE").await?,
                commit: conn.prepare("COMMIT").await?,
                rollback: conn.prepare("ROLLBACK").await?,
            })
        })
        .map_err(|e| open_error(&path, e))?;
        drop(_guard);
        Ok(LocalBackend { conn, stmts, lock, sweep_rate: None, _db: db })
    }

    /// The per-operation lock, under shared locking; nothing otherwise.
    fn lock(&self) -> Result<Option<LockGuard<'_>>> {
        match &self.lock {
            FileAccess::PerOperation(lock) => lock.acquire().map(Some),
            FileAccess::Private | FileAccess::Held { .. } => Ok(None),
        }
    }

    /// Runs `work` inside BEGIN IMMEDIATE … COMMIT, rolling back if it fails.
    fn transaction<T>(&self, work: impl FnOnce(&Statements) -> libsql::Result<T>) -> Result<T> {
        let s = &self.stmts;
        run(&s.begin).map_err(storage)?;
        match work(s).and_then(|value| run(&s.commit).map(|()| value)) {
            Ok(value) => Ok(value),
            Err(e) => {
                if !self.conn.is_autocommit() {
                    let _ = run(&s.rollback);
                }
                Err(storage(e))
            }
        }
    }
}

impl Backend for LocalBackend {
    fn find(&mut self, token: &str, now: i64) -> Result<Option<Vec<u8>>> {
        let _guard = self.lock()?;
        let stmt = &self.stmts.find;
        let found = block_on(async {
            let mut rows = stmt.query(params![token, now]).await?;
            match rows.next().await? {
                Some(row) => row.get::<Vec<u8>>(0).map(Some),
                None => Ok(None),
            }
        });
        stmt.reset();
        found.map_err(storage)
    }

    fn upsert(&mut self, token: &str, data: &[u8], expiry: i64) -> Result<()> {
        let _guard = self.lock()?;
        execute(&self.stmts.upsert, params![token, data, expiry]).map(drop)
    }

    fn update(&mut self, token: &str, data: &[u8], expiry: i64, now: i64) -> Result<bool> {
        let _guard = self.lock()?;
        execute(&self.stmts.update, params![token, data, expiry, now]).map(|n| n == 1)
    }

    fn insert_new(&mut self, token: &str, data: &[u8], expiry: i64) -> Result<bool> {
        let _guard = self.lock()?;
        execute(&self.stmts.insert_new, params![token, data, expiry]).map(|n| n == 1)
    }

    fn delete(&mut self, token: &str) -> Result<()> {
        let _guard = self.lock()?;
        execute(&self.stmts.delete, params![token]).map(drop)
    }

    fn all(&mut self, now: i64) -> Result<Vec<Entry>> {
        self.scan("", None, now)
    }

    fn page(&mut self, after: &str, limit: u32, now: i64) -> Result<Vec<Entry>> {
        self.scan(after, Some(limit as usize), now)
    }

    fn touch(&mut self, token: &str, expiry: i64, now: i64) -> Result<bool> {
        let _guard = self.lock()?;
        execute(&self.stmts.touch, params![token, expiry, now]).map(|n| n == 1)
    }

    fn counts(&mut self, now: i64) -> Result<SessionCounts> {
        let _guard = self.lock()?;
        let stmt = &self.stmts.counts;
        let counts = block_on(async {
            let mut rows = stmt.query(params![now]).await?;
            let row = rows.next().await?.ok_or(libsql::Error::QueryReturnedNoRows)?;
            Ok::<_, libsql::Error>(SessionCounts {
                active: u64::try_from(row.get::<i64>(0)?).unwrap_or(0),
                expired: u64::try_from(row.get::<i64>(1)?).unwrap_or(0),
            })
        });
        stmt.reset();
        counts.map_err(storage)
    }

    /// Deletes up to `batch` expired rows, oldest first, in chunks: each chunk is one
    /// transaction (under shared locking, one turn of the lock, so other instances' calls
    /// run between chunks). With a `budget`, each chunk deletes as many rows as this
    /// instance's last full chunk says fit in it, commit included ([`SWEEP_CHUNK`] rows
    /// first, to measure): the longest anyone waits behind a chunk. Where the instance
    /// itself is the queue (exclusive locking, `:memory:`: its host runs one call at a
    /// time), the call also starts no new chunk once the budget is spent. `more` is true
    /// when expired rows remain.
    ///
    /// A chunk that fails after earlier ones succeeded ends the call with what they
    /// removed and `more` set; the next call reports the failure if it persists.
    fn sweep(&mut self, now: i64, batch: u32, budget: Option<Duration>) -> Result<SweepReport> {
        let started = Instant::now();
        let batch = u64::from(batch);
        let one_call_at_a_time = !matches!(self.lock, FileAccess::PerOperation(_));
        let mut removed = 0;
        loop {
            let target = self.sweep_chunk(budget).min(batch - removed);
            let chunk = match self.sweep_chunk_of(now, target) {
                Ok(chunk) => chunk,
                Err(_) if removed > 0 => return Ok(SweepReport { removed, more: true }),
                Err(e) => return Err(e),
            };
            removed += chunk.removed;
            let spent = one_call_at_a_time && budget.is_some_and(|b| started.elapsed() >= b);
            if !chunk.more || removed >= batch || spent {
                return Ok(SweepReport { removed, more: chunk.more });
            }
        }
    }
}

impl LocalBackend {
    /// Rows the next sweep chunk may delete: the budget times the measured rate.
    fn sweep_chunk(&self, budget: Option<Duration>) -> u64 {
        match (budget, self.sweep_rate) {
            (None, _) => u64::MAX,
            (Some(_), None) => SWEEP_CHUNK,
            (Some(budget), Some(rows_per_s)) => ((rows_per_s * budget.as_secs_f64()) as u64).max(SWEEP_CHUNK),
        }
    }

    /// One sweep chunk: at most `target` rows in one transaction under one turn of the lock.
    fn sweep_chunk_of(&mut self, now: i64, target: u64) -> Result<SweepReport> {
        let guard = self.lock()?;
        let started = Instant::now();
        let limit = i64::try_from(target).unwrap_or(i64::MAX);
        let report = self.transaction(|s| {
            s.sweep.reset();
            let removed = block_on(s.sweep.execute(params![now, limit]));
            s.sweep.reset();
            let removed = removed? as u64;
            s.any_expired.reset();
            let more = block_on(async {
                let mut rows = s.any_expired.query(params![now]).await?;
                let row = rows.next().await?.ok_or(libsql::Error::QueryReturnedNoRows)?;
                row.get::<i64>(0)
            });
            s.any_expired.reset();
            Ok(SweepReport { removed, more: more? != 0 })
        })?;
        drop(guard);
        if report.removed == target && target > 0 {
            self.sweep_rate = Some(target as f64 / started.elapsed().as_secs_f64().max(1e-6));
        }
        Ok(report)
    }

    /// Active sessions with token > `after` in token order, at most `limit`: chunk after
    /// chunk of [`LIST_CHUNK`] rows examined, each under its own turn of the lock. Not one
    /// snapshot: a session written between chunks shows if it sorts after the chunk read.
    fn scan(&mut self, after: &str, limit: Option<usize>, now: i64) -> Result<Vec<Entry>> {
        let mut entries = Vec::new();
        let mut cursor = after.to_owned();
        loop {
            let guard = self.lock()?;
            let stmt = &self.stmts.scan;
            stmt.reset();
            let chunk = block_on(async {
                let mut rows = stmt.query(params![cursor.as_str(), now, LIST_CHUNK]).await?;
                let mut examined = 0;
                let mut last = None;
                while let Some(row) = rows.next().await? {
                    examined += 1;
                    let token = row.get::<String>(0)?;
                    // Expired rows come with no data (their blobs are never read).
                    if let Some(data) = row.get::<Option<Vec<u8>>>(1)? {
                        entries.push((token.clone(), data));
                    }
                    last = Some(token);
                }
                Ok::<_, libsql::Error>((examined, last))
            });
            stmt.reset();
            drop(guard);
            let (examined, last) = chunk.map_err(storage)?;
            if let Some(limit) = limit {
                if entries.len() >= limit {
                    entries.truncate(limit);
                    return Ok(entries);
                }
            }
            match last {
                Some(last) if examined == LIST_CHUNK => cursor = last,
                _ => return Ok(entries),
            }
        }
    }
}

/// Executes a statement that returns no rows; the number of rows it changed.
fn execute(stmt: &Statement, params: impl libsql::params::IntoParams) -> Result<usize> {
    stmt.reset();
    let changed = block_on(stmt.execute(params));
    stmt.reset();
    changed.map_err(storage)
}

fn run(stmt: &Statement) -> libsql::Result<()> {
    stmt.reset();
    let result = block_on(stmt.run(()));
    stmt.reset();
    result
}

/// Makes `unix-none` SQLite's default VFS for this process (or component instance):
/// locking is done by `FileLock`, which, unlike SQLite's dot-file lock, recovers from a
/// holder that died.
///
/// libsql configures SQLite's threading mode (which must precede SQLite's initialisation)
/// on its first connection, and asserts that this succeeds; looking up a VFS initialises
/// SQLite. So a throwaway `:memory:` connection comes first.
fn use_unix_none_vfs() -> Result<()> {
    static DONE: OnceLock<Result<()>> = OnceLock::new();
    DONE.get_or_init(|| {
        let init = block_on(libsql::Builder::new_local(":memory:").build())
            .and_then(|db| db.connect().map(drop))
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
        return Err(Error::Unavailable(format!("{} is a directory, not a database file", path.display())));
    }
    Ok(())
}

/// SQLite primary result codes that mean "cannot open or reach", not "query failed".
fn is_unavailable_code(code: i32) -> bool {
    use libsql::ffi;
    matches!(
        code & 0xff,
        ffi::SQLITE_BUSY
            | ffi::SQLITE_LOCKED
            | ffi::SQLITE_CANTOPEN
            | ffi::SQLITE_NOTADB
            | ffi::SQLITE_PERM
            | ffi::SQLITE_READONLY
            | ffi::SQLITE_AUTH
    )
}

fn open_error(path: &str, e: libsql::Error) -> Error {
    match e {
        libsql::Error::SqliteFailure(code, msg) if code & 0xff == libsql::ffi::SQLITE_NOTADB => {
            Error::Unavailable(format!(
                "{path} is not a libSQL/SQLite database ({msg}); it was left untouched. Point \
                 SESSIONS_DATABASE at another file"
            ))
        }
        libsql::Error::SqliteFailure(code, msg) if is_unavailable_code(code) => {
            Error::Unavailable(format!("cannot open {path}: {msg}"))
        }
        libsql::Error::ConnectionFailed(msg) => Error::Unavailable(format!("cannot open {path}: {msg}")),
        other => storage(other),
    }
}

fn storage(e: libsql::Error) -> Error {
    match e {
        libsql::Error::SqliteFailure(code, msg) if is_unavailable_code(code) => Error::Unavailable(msg),
        libsql::Error::SqliteFailure(_, msg) => Error::Storage(msg),
        other => Error::Storage(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{file_config, open_with, T0};

    #[test]
    fn sessions_survive_reopening_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = file_config(dir.path());
        {
            let (mut s, _) = open_with(&config);
            s.commit("tok", b"persisted", T0 + 1000).expect("commit");
        }
        let (mut s, _) = open_with(&config);
        assert_eq!(s.find("tok").expect("find"), Some(b"persisted".to_vec()));
    }

    #[test]
    fn two_stores_on_one_file_see_each_others_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = file_config(dir.path());
        let (mut a, _) = open_with(&config);
        let (mut b, _) = open_with(&config);
        a.commit("tok", b"from a", T0 + 1000).expect("commit");
        assert_eq!(b.find("tok").expect("find"), Some(b"from a".to_vec()));
        b.commit("tok", b"from b", T0 + 1000).expect("commit");
        assert_eq!(a.find("tok").expect("find"), Some(b"from b".to_vec()));
        assert!(!dir.path().join("sessions.db-lock").exists(), "no lock is held between calls");
    }

    #[test]
    fn an_exclusive_store_keeps_the_file_to_itself_until_it_is_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = Config { busy_timeout: std::time::Duration::from_millis(50), ..file_config(dir.path()) };
        let exclusive = Config { locking: crate::config::Locking::Exclusive, ..shared.clone() };
        let (mut owner, _) = open_with(&exclusive);
        owner.commit("tok", b"kept", T0 + 1000).expect("commit");
        assert!(dir.path().join("sessions.db-lock").exists(), "the lock is held between calls");
        for config in [&shared, &exclusive] {
            match LocalBackend::open(config) {
                Err(Error::Unavailable(msg)) => assert!(msg.contains("held exclusively"), "{msg}"),
                Err(other) => panic!("expected Unavailable, got {other:?}"),
                Ok(_) => panic!("a second opener got in"),
            }
        }
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
    fn a_custom_table_name_is_used() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = crate::schema::TableName::new("web_sessions").expect("valid");
        let config = Config { table, ..file_config(dir.path()) };
        let (mut s, _) = open_with(&config);
        s.commit("tok", b"x", T0 + 1000).expect("commit");
        assert_eq!(s.find("tok").expect("find"), Some(b"x".to_vec()));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_unavailable_and_left_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = file_config(dir.path());
        let garbage = b"this is not a database, it is a text file that happens to be here".repeat(100);
        std::fs::write(dir.path().join("sessions.db"), &garbage).expect("write");
        match LocalBackend::open(&config) {
            Err(Error::Unavailable(msg)) => assert!(msg.contains("not a libSQL/SQLite database"), "{msg}"),
            Err(other) => panic!("expected Unavailable, got {other:?}"),
            Ok(_) => panic!("expected Unavailable, got an open store"),
        }
        assert_eq!(std::fs::read(dir.path().join("sessions.db")).expect("read"), garbage);
    }

    #[test]
    fn a_missing_directory_is_unavailable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = file_config(&dir.path().join("missing"));
        match LocalBackend::open(&config) {
            Err(Error::Unavailable(msg)) => assert!(msg.contains("not accessible"), "{msg}"),
            Err(other) => panic!("expected Unavailable, got {other:?}"),
            Ok(_) => panic!("expected Unavailable, got an open store"),
        }
    }

    #[test]
    fn a_lock_held_by_another_instance_is_never_broken_however_old() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config { busy_timeout: std::time::Duration::from_millis(100), ..file_config(dir.path()) };
        let (mut s, _) = open_with(&config);
        s.commit("tok", b"x", T0 + 1000).expect("commit");
        let lock_path = dir.path().join("sessions.db-lock");
        let line = "owner=paused-writer host=flock:sessions.db-owner-0a mode=operation acquired_ms=1";
        std::fs::write(&lock_path, line).expect("a paused writer's lock");
        let ancient = std::time::SystemTime::now() - std::time::Duration::from_secs(365 * 24 * 3600);
        std::fs::File::options().write(true).open(&lock_path).and_then(|f| f.set_modified(ancient)).expect("age");
        assert!(matches!(s.commit("tok", b"y", T0 + 1000), Err(Error::Unavailable(_))));
        assert_eq!(std::fs::read_to_string(&lock_path).expect("lock"), line, "the lock is still the writer's");
        std::fs::remove_file(&lock_path).expect("the writer releases");
        assert_eq!(s.find("tok").expect("find"), Some(b"x".to_vec()), "nothing was written meanwhile");
    }

    #[test]
    fn a_sweep_from_a_fresh_instance_removes_the_whole_batch_in_chunks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config { sweep_batch: 1000, ..file_config(dir.path()) };
        let (mut s, clock) = open_with(&config);
        for i in 0..2500 {
            s.commit(&format!("old{i:04}"), b"x", T0 + 10).expect("commit");
        }
        s.commit("live", b"x", T0 + 10_000).expect("commit");
        clock.0.set(T0 + 10);
        let (mut fresh, fresh_clock) = open_with(&config);
        fresh_clock.0.set(T0 + 10);
        assert_eq!(fresh.sweep().expect("sweep"), SweepReport { removed: 1000, more: true });
        assert_eq!(fresh.sweep().expect("sweep"), SweepReport { removed: 1000, more: true });
        assert_eq!(fresh.sweep().expect("sweep"), SweepReport { removed: 500, more: false });
        assert_eq!(s.stats().expect("stats"), SessionCounts { active: 1, expired: 0 });
        assert!(!dir.path().join("sessions.db-lock").exists(), "no lock is left between calls");
    }

    #[test]
    fn a_sweep_batch_of_a_million_rows_needs_no_temporary_file() {
        let config = Config { database: Database::Memory, sweep_batch: 1_000_000, sweep_budget: None, ..Config::default() };
        let (mut s, clock) = open_with(&config);
        for i in 0..300_000 {
            s.commit(&format!("old{i:06}"), b"x", T0 + 10).expect("commit");
        }
        clock.0.set(T0 + 10);
        assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 300_000, more: false });
    }

    #[test]
    fn listings_skip_any_number_of_expired_rows_across_chunks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut s, clock) = open_with(&file_config(dir.path()));
        for i in 0..5000 {
            s.commit(&format!("b{i:05}"), b"gone", T0 + 10).expect("commit");
        }
        for token in ["a", "b02500x", "c", "d", "e"] {
            s.commit(token, token.as_bytes(), T0 + 10_000).expect("commit");
        }
        clock.0.set(T0 + 10);
        let tokens = |entries: Vec<Entry>| entries.into_iter().map(|(t, _)| t).collect::<Vec<_>>();
        assert_eq!(tokens(s.all().expect("all")), ["a", "b02500x", "c", "d", "e"]);
        assert_eq!(tokens(s.page(Some("a"), 2).expect("page")), ["b02500x", "c"]);
        assert_eq!(tokens(s.page(Some("c"), 10).expect("page")), ["d", "e"]);
        assert_eq!(s.all().expect("all")[1].1, b"b02500x".to_vec());
    }
}
