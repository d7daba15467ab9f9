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
//! * Under shared locking an instance takes the lock once per call, its first call
//!   included: opening touches no file beyond SQLite's own open, and the file is readied
//!   (journal mode, caches) under the first call's turn of the lock.
//! * Statements are prepared on first use, so an instance that serves one request prepares
//!   only what it runs; they are kept for the life of the instance and reset after each use,
//!   so no read transaction stays open between calls. An existing table costs no schema
//!   statement: the table and its indexes are created when a prepare first finds them missing.
//! * A file in the 0.1 layout (plain tokens, no owner column) is upgraded in place when an
//!   instance first readies it: one transaction replaces every token by its id and adds the
//!   owner column and index ([`LocalBackend::upgrade_legacy`]). A SIGKILL mid-way rolls it
//!   back, and the next opener runs it again. `secure_delete` is on for every connection,
//!   so freed space (tokens replaced, sessions deleted) is zeroed rather than left in free
//!   pages; under WAL the upgrade ends with a truncating checkpoint, so no old frame keeps
//!   a token either.

use std::cell::{Cell, OnceCell};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures::executor::block_on;
use libsql::{params, Connection, Database as LibsqlDatabase, Statement};

use super::{Backend, Change, Entry, Rotation, SessionCounts, SessionInfo, SweepReport};
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

/// Rows the 0.1-layout upgrade reads per statement (all of them in one transaction).
const UPGRADE_CHUNK: i64 = 10_000;

/// An open embedded database with its prepared statements.
pub struct LocalBackend {
    conn: Connection,
    stmts: Statements,
    lock: FileAccess,
    /// The database as SESSIONS_DATABASE names it, for messages.
    path: String,
    /// Whether the file has been readied for this connection (see [`LocalBackend::ready_file`]);
    /// under shared locking that happens under the first call's turn of the lock.
    ready: Cell<bool>,
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

/// The statements the backend runs. Each is prepared on first use, under the lock, and kept
/// for the life of the connection: an instance that serves one request prepares only what
/// that request runs.
#[derive(Debug, Clone, Copy)]
enum Stmt {
    Find,
    Upsert,
    Update,
    InsertNew,
    Delete,
    Scan,
    Touch,
    Counts,
    Sweep,
    AnyExpired,
    SetOwner,
    SessionsOf,
    RevokeOwner,
    Revoke,
    RotateCopy,
    RotateDrop,
    IsActive,
}

impl Stmt {
    const COUNT: usize = Stmt::IsActive as usize + 1;

    /// The statements a change may run (`LocalBackend::change_row`).
    const WRITES: [Stmt; 4] = [Stmt::Upsert, Stmt::Update, Stmt::Touch, Stmt::Delete];

    fn text(self, sql: &Sql) -> &str {
        match self {
            Stmt::Find => &sql.find,
            Stmt::Upsert => &sql.upsert,
            Stmt::Update => &sql.update,
            Stmt::InsertNew => &sql.insert_new,
            Stmt::Delete => &sql.delete,
            Stmt::Scan => &sql.scan,
            Stmt::Touch => &sql.touch,
            Stmt::Counts => &sql.counts,
            Stmt::Sweep => &sql.sweep,
            Stmt::AnyExpired => &sql.any_expired,
            Stmt::SetOwner => &sql.set_owner,
            Stmt::SessionsOf => &sql.sessions_of,
            Stmt::RevokeOwner => &sql.revoke_owner,
            Stmt::Revoke => &sql.revoke,
            Stmt::RotateCopy => &sql.rotate_copy,
            Stmt::RotateDrop => &sql.rotate_drop,
            Stmt::IsActive => &sql.is_active,
        }
    }
}

/// The prepared statements of one connection, and the schema they need.
struct Statements {
    sql: Sql,
    prepared: [OnceCell<Statement>; Stmt::COUNT],
}

impl Statements {
    fn new(sql: Sql) -> Statements {
        Statements { sql, prepared: Default::default() }
    }

    /// `which`, prepared on first use. A table that is missing makes the prepare fail; the
    /// table and its indexes are then created (`IF NOT EXISTS`) and the statement prepared
    /// once more, whose error, if any, is the answer. So an existing database costs no schema
    /// statement. Call with the lock held, outside a transaction (see [`LocalBackend::transaction`]).
    fn get(&self, conn: &Connection, which: Stmt) -> libsql::Result<&Statement> {
        let cell = &self.prepared[which as usize];
        if let Some(stmt) = cell.get() {
            return Ok(stmt);
        }
        let text = which.text(&self.sql);
        let stmt = match block_on(conn.prepare(text)) {
            Ok(stmt) => stmt,
            Err(_) => {
                self.ensure_schema(conn)?;
                block_on(conn.prepare(text))?
            }
        };
        Ok(cell.get_or_init(|| stmt))
    }

    /// Creates the table and its indexes unless they exist, in one transaction (so the
    /// table never exists without them). Call with the lock held, outside a transaction.
    fn ensure_schema(&self, conn: &Connection) -> libsql::Result<()> {
        in_transaction(conn, |e| e, || block_on(conn.execute_batch(&self.ddl())).map(drop))
    }

    /// The table and index statements, `IF NOT EXISTS` each.
    fn ddl(&self) -> String {
        format!("{}; {}; {}", self.sql.create_table, self.sql.create_index, self.sql.create_owner_index)
    }
}

/// Runs `work` inside BEGIN IMMEDIATE … COMMIT on `conn`, rolling back if any of it fails;
/// `failed` turns the engine's errors (of BEGIN and COMMIT) into `work`'s error type.
fn in_transaction<T, E>(
    conn: &Connection,
    failed: impl Fn(libsql::Error) -> E,
    work: impl FnOnce() -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    block_on(conn.execute("BEGIN IMMEDIATE", ())).map_err(&failed)?;
    let done = work().and_then(|value| block_on(conn.execute("COMMIT", ())).map(|_| value).map_err(&failed));
    if done.is_err() && !conn.is_autocommit() {
        let _ = block_on(conn.execute("ROLLBACK", ()));
    }
    done
}

impl LocalBackend {
    /// Opens (creating if absent) the database. The file itself is readied, and the table
    /// and its expiry index created if missing, under the lock: at open under exclusive
    /// locking, within the first call under shared locking (so an instance that serves one
    /// request takes the lock once).
    ///
    /// Errors: `Unavailable` when the directory is missing or not preopened, the file is
    /// not a database, or (exclusive locking) another instance holds the lock past the busy
    /// timeout; `Storage` for other engine failures. Under shared locking a file that is
    /// locked past the busy timeout, or not a database, fails the first call instead. A
    /// failed open changes nothing on disk.
    pub fn open(config: &Config) -> Result<LocalBackend> {
        let (path, lock) = match &config.database {
            Database::Memory => (":memory:".to_owned(), FileAccess::Private),
            Database::File(path) => {
                let text = path.to_str().ok_or_else(|| {
                    Error::InvalidConfig(format!("SESSIONS_DATABASE={path:?}: the path is not UTF-8"))
                })?;
                let lock = FileLock::for_database(path, config.busy_timeout, config.lock_owner.clone());
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
                return Err(Error::InvalidConfig(format!("SESSIONS_DATABASE={url}: a server URL, not a local database")))
            }
        };
        use_unix_none_vfs()?;
        let failed = |e| match &config.database {
            Database::File(file) => check_parent_dir(file).err().unwrap_or_else(|| open_error(&path, e)),
            _ => open_error(&path, e),
        };
        let db = block_on(libsql::Builder::new_local(&path).build()).map_err(failed)?;
        let conn = db.connect().map_err(failed)?;
        let backend = LocalBackend {
            conn,
            stmts: Statements::new(Sql::new(&config.table)),
            lock,
            path: path.clone(),
            ready: Cell::new(false),
            sweep_rate: None,
            _db: db,
        };
        if !matches!(backend.lock, FileAccess::PerOperation(_)) {
            backend.ready_file().map_err(|e| open_error(&path, e))?;
        }
        Ok(backend)
    }

    /// Sets the connection's journal mode, durability, `secure_delete` and caches, and
    /// upgrades a table in the 0.1 layout ([`LocalBackend::upgrade_legacy`]). These read the
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
                "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=TRUNCATE; PRAGMA locking_mode=NORMAL;".to_owned()
            }
        };
        block_on(self.conn.execute_batch(&format!(
            "{modes} PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; PRAGMA temp_store=MEMORY; \
             PRAGMA cache_size=-{PAGE_CACHE_KIB}"
        )))?;
        if self.is_legacy()? {
            self.upgrade_legacy()?;
        }
        self.ready.set(true);
        Ok(())
    }

    /// Whether the table has the 0.1 layout (plain tokens). One read of the schema SQLite
    /// has already loaded; an absent table is not legacy.
    fn is_legacy(&self) -> libsql::Result<bool> {
        block_on(async {
            let mut rows = self.conn.query(&self.stmts.sql.legacy_probe, ()).await?;
            Ok(rows.next().await?.is_some())
        })
    }

    /// Upgrades a 0.1-layout table in place, in one transaction: every stored token is
    /// replaced by its id (`token::id_of`), the `token` column becomes `id`, and the owner
    /// column and the indexes are added. Under WAL a truncating checkpoint follows, so the
    /// replaced tokens survive in no WAL frame. A second opener finds the upgrade done (the
    /// probe runs under the lock), and one killed mid-way leaves the file as it was.
    fn upgrade_legacy(&self) -> libsql::Result<()> {
        let sql = &self.stmts.sql;
        in_transaction(&self.conn, |e| e, || {
            let rekey = block_on(self.conn.prepare(&sql.legacy_rekey))?;
            let mut after = 0i64;
            loop {
                let chunk: Vec<(i64, String)> = block_on(async {
                    let mut rows = self.conn.query(&sql.legacy_rows, params![after, UPGRADE_CHUNK]).await?;
                    let mut chunk = Vec::new();
                    while let Some(row) = rows.next().await? {
                        chunk.push((row.get::<i64>(0)?, row.get::<String>(1)?));
                    }
                    Ok::<_, libsql::Error>(chunk)
                })?;
                for (rowid, token) in &chunk {
                    rekey.reset();
                    block_on(rekey.execute(params![*rowid, crate::token::id_of(token)]))?;
                }
                match chunk.last() {
                    Some((last, _)) if chunk.len() as i64 == UPGRADE_CHUNK => after = *last,
                    _ => break,
                }
            }
            rekey.reset();
            block_on(self.conn.execute_batch(&format!("{}; {}", sql.legacy_upgrade, self.stmts.ddl())))?;
            Ok(())
        })?;
        if matches!(self.lock, FileAccess::Held { .. }) {
            block_on(self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)"))?;
        }
        Ok(())
    }

    /// Takes the per-operation lock, under shared locking (nothing otherwise), and readies
    /// the file on the first turn.
    fn lock(&self) -> Result<Option<LockGuard<'_>>> {
        let guard = match &self.lock {
            FileAccess::PerOperation(lock) => Some(lock.acquire()?),
            FileAccess::Private | FileAccess::Held { .. } => None,
        };
        if !self.ready.get() {
            self.ready_file().map_err(|e| open_error(&self.path, e))?;
        }
        Ok(guard)
    }

    /// `which`, prepared on first use; call with the lock held.
    fn stmt(&self, which: Stmt) -> Result<&Statement> {
        self.stmts.get(&self.conn, which).map_err(storage)
    }

    /// Runs `work` inside BEGIN IMMEDIATE … COMMIT, rolling back if it fails. `uses` are
    /// the statements `work` runs: they are prepared first, outside the transaction, so
    /// that a missing table is created in a transaction of its own.
    fn transaction<T>(&self, uses: &[Stmt], work: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        for &which in uses {
            self.stmt(which)?;
        }
        in_transaction(&self.conn, storage, || work(self))
    }

    /// One change, under a lock (and transaction) the caller holds; its answer as
    /// `Backend::apply` gives it.
    fn change_row(&self, change: &Change<'_>, now: i64) -> Result<bool> {
        match change {
            Change::Upsert { id, data, expiry } => {
                execute(self.stmt(Stmt::Upsert)?, params![id.as_str(), *data, *expiry, now]).map(|_| true)
            }
            Change::Update { id, data, expiry } => {
                execute(self.stmt(Stmt::Update)?, params![id.as_str(), *data, *expiry, now]).map(|n| n == 1)
            }
            Change::Touch { id, expiry } => execute(self.stmt(Stmt::Touch)?, params![id.as_str(), *expiry, now]).map(|n| n == 1),
            Change::Delete { id } => execute(self.stmt(Stmt::Delete)?, params![id.as_str()]).map(|_| true),
        }
    }
}

impl Backend for LocalBackend {
    fn find(&mut self, id: &str, now: i64) -> Result<Option<Vec<u8>>> {
        let _guard = self.lock()?;
        let stmt = self.stmt(Stmt::Find)?;
        let found = block_on(async {
            let mut rows = stmt.query(params![id, now]).await?;
            match rows.next().await? {
                Some(row) => row.get::<Vec<u8>>(0).map(Some),
                None => Ok(None),
            }
        });
        stmt.reset();
        found.map_err(storage)
    }

    fn insert_new(&mut self, id: &str, data: &[u8], expiry: i64) -> Result<bool> {
        let _guard = self.lock()?;
        execute(self.stmt(Stmt::InsertNew)?, params![id, data, expiry]).map(|n| n == 1)
    }

    fn all(&mut self, now: i64) -> Result<Vec<Entry>> {
        self.scan("", None, now)
    }

    fn page(&mut self, after: &str, limit: u32, now: i64) -> Result<Vec<Entry>> {
        self.scan(after, Some(limit as usize), now)
    }

    fn set_owner(&mut self, id: &str, owner: Option<&str>, now: i64) -> Result<bool> {
        let _guard = self.lock()?;
        execute(self.stmt(Stmt::SetOwner)?, params![id, owner, now]).map(|n| n == 1)
    }

    fn sessions_of(&mut self, owner: &str, now: i64) -> Result<Vec<SessionInfo>> {
        let _guard = self.lock()?;
        rows(self.stmt(Stmt::SessionsOf)?, params![owner, now], |row| {
            let expiry = u64::try_from(row.get::<i64>(2)?).unwrap_or(0);
            Ok(SessionInfo { id: row.get(0)?, owner: row.get(1)?, expiry })
        })
    }

    fn revoke_owner(&mut self, owner: &str, keep: Option<&str>, now: i64) -> Result<u64> {
        let _guard = self.lock()?;
        let was_active = rows(self.stmt(Stmt::RevokeOwner)?, params![owner, keep, now], |row| row.get::<bool>(0))?;
        Ok(was_active.into_iter().filter(|&active| active).count() as u64)
    }

    fn revoke(&mut self, id: &str, now: i64) -> Result<bool> {
        let _guard = self.lock()?;
        let was_active = rows(self.stmt(Stmt::Revoke)?, params![id, now], |row| row.get::<bool>(0))?;
        Ok(was_active.first().copied().unwrap_or(false))
    }

    fn rotate(&mut self, old: &str, new: &str, expiry: i64, now: i64) -> Result<Rotation> {
        let _guard = self.lock()?;
        self.transaction(&[Stmt::RotateCopy, Stmt::RotateDrop, Stmt::IsActive], |b| {
            if execute(b.stmt(Stmt::RotateCopy)?, params![new, old, expiry, now])? == 1 {
                execute(b.stmt(Stmt::RotateDrop)?, params![old])?;
                return Ok(Rotation::Rotated);
            }
            let active = rows(b.stmt(Stmt::IsActive)?, params![old, now], |row| row.get::<bool>(0))?;
            Ok(if active.first().copied().unwrap_or(false) { Rotation::Taken } else { Rotation::NotActive })
        })
    }

    /// One turn of the lock, one transaction: under WAL one fsync for the whole batch. A
    /// change alone is its statement alone, a transaction of its own.
    fn apply(&mut self, changes: &[Change<'_>], now: i64) -> Result<Vec<bool>> {
        let _guard = self.lock()?;
        if let [change] = changes {
            return self.change_row(change, now).map(|done| vec![done]);
        }
        self.transaction(&Stmt::WRITES, |b| changes.iter().map(|change| b.change_row(change, now)).collect())
    }

    fn counts(&mut self, now: i64) -> Result<SessionCounts> {
        let _guard = self.lock()?;
        let stmt = self.stmt(Stmt::Counts)?;
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
        let report = self.transaction(&[Stmt::Sweep, Stmt::AnyExpired], |b| {
            let sweep = b.stmt(Stmt::Sweep)?;
            sweep.reset();
            let removed = block_on(sweep.execute(params![now, limit]));
            sweep.reset();
            let removed = removed.map_err(storage)? as u64;
            let any_expired = b.stmt(Stmt::AnyExpired)?;
            any_expired.reset();
            let more = block_on(async {
                let mut rows = any_expired.query(params![now]).await?;
                let row = rows.next().await?.ok_or(libsql::Error::QueryReturnedNoRows)?;
                row.get::<i64>(0)
            });
            any_expired.reset();
            Ok(SweepReport { removed, more: more.map_err(storage)? != 0 })
        })?;
        drop(guard);
        if report.removed == target && target > 0 {
            self.sweep_rate = Some(target as f64 / started.elapsed().as_secs_f64().max(1e-6));
        }
        Ok(report)
    }

    /// Active sessions with id > `after` in id order, at most `limit`: chunk after
    /// chunk of [`LIST_CHUNK`] rows examined, each under its own turn of the lock. Not one
    /// snapshot: a session written between chunks shows if it sorts after the chunk read.
    fn scan(&mut self, after: &str, limit: Option<usize>, now: i64) -> Result<Vec<Entry>> {
        let mut entries = Vec::new();
        let mut cursor = after.to_owned();
        loop {
            let guard = self.lock()?;
            let stmt = self.stmt(Stmt::Scan)?;
            stmt.reset();
            let chunk = block_on(async {
                let mut rows = stmt.query(params![cursor.as_str(), now, LIST_CHUNK]).await?;
                let mut examined = 0;
                let mut last = None;
                while let Some(row) = rows.next().await? {
                    examined += 1;
                    let id = row.get::<String>(0)?;
                    // Expired rows come with no data (their blobs are never read).
                    if let Some(data) = row.get::<Option<Vec<u8>>>(1)? {
                        entries.push((id.clone(), data));
                    }
                    last = Some(id);
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

/// Runs a statement that returns rows (a query, or a change with RETURNING, which is done
/// once every row is read); each row through `read`.
fn rows<T>(
    stmt: &Statement,
    params: impl libsql::params::IntoParams,
    mut read: impl FnMut(&libsql::Row) -> libsql::Result<T>,
) -> Result<Vec<T>> {
    stmt.reset();
    let read = block_on(async {
        let mut rows = stmt.query(params).await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            out.push(read(&row)?);
        }
        Ok::<_, libsql::Error>(out)
    });
    stmt.reset();
    read.map_err(storage)
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
    use crate::testing::{file_config, open_with, TestStore, T0};

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
        // A shared opener meets the lock at its first call, an exclusive one at open.
        let (mut shared_store, _) = open_with(&shared);
        let attempts = [shared_store.find("tok").map(drop), LocalBackend::open(&exclusive).map(drop)];
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
    fn a_custom_table_name_is_used() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = crate::schema::TableName::new("web_sessions").expect("valid");
        let config = Config { table, ..file_config(dir.path()) };
        let (mut s, _) = open_with(&config);
        s.commit("tok", b"x", T0 + 1000).expect("commit");
        assert_eq!(s.find("tok").expect("find"), Some(b"x".to_vec()));
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
            s.commit("after", b"y", T0 + 1000).unwrap_or_else(|e| panic!("commit after {name}: {e:?}"));
            assert_eq!(s.find("after").expect("find"), Some(b"y".to_vec()), "after {name}");
        }
    }

    #[test]
    fn a_file_that_is_not_a_database_is_unavailable_and_left_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = file_config(dir.path());
        let garbage = b"this is not a database, it is a text file that happens to be here".repeat(100);
        std::fs::write(dir.path().join("sessions.db"), &garbage).expect("write");
        // Under shared locking the file is first read by the first call.
        match LocalBackend::open(&config).and_then(|mut backend| backend.find("tok", 0)) {
            Err(Error::Unavailable(msg)) => assert!(msg.contains("not a libSQL/SQLite database"), "{msg}"),
            Err(other) => panic!("expected Unavailable, got {other:?}"),
            Ok(_) => panic!("expected Unavailable, got an answer"),
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

    /// The sessions of `host-example/tests/fixtures/sessions-0.1.db`, written by the 0.1
    /// component (shared locking): (token, data); all expire in the year 3000.
    const LEGACY_ACTIVE: [(&str, &[u8]); 3] = [
        ("fixture-plain-token-1", b"hello"),
        ("fixture-plain-token-2", b"world"),
        ("wCt7d60kILR_wJ4Yca_HNRJBGjpKC_MzRL9OHZ_sWtE", b"created"),
    ];
    /// The fixture's expired session.
    const LEGACY_EXPIRED: &str = "fixture-expired-token";
    /// A time after the fixture was written (2027-01-15): its expired session has expired.
    const LEGACY_NOW: u64 = 1_800_000_000_000;

    fn legacy_fixture(dir: &Path) -> Config {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("host-example/tests/fixtures/sessions-0.1.db");
        std::fs::copy(fixture, dir.join("sessions.db")).expect("copy the 0.1 fixture");
        file_config(dir)
    }

    /// Every file of the database (main file, journal, WAL) that holds `needle`.
    fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("read dir")
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.file_name().to_string_lossy().starts_with("sessions.db"))
            .filter(|entry| {
                let bytes = std::fs::read(entry.path()).expect("read");
                bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
            })
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_file_in_the_0_1_layout_is_upgraded_in_place_and_every_token_still_finds_its_session() {
        for locking in [crate::config::Locking::Shared, crate::config::Locking::Exclusive] {
            let dir = tempfile::tempdir().expect("tempdir");
            let config = Config { locking, ..legacy_fixture(dir.path()) };
            let clock = crate::testing::ManualClock::default();
            clock.0.set(LEGACY_NOW);
            let backend = LocalBackend::open(&config).expect("open");
            let mut s = TestStore::with_parts(backend, &config, clock, Default::default());
            for (token, data) in LEGACY_ACTIVE {
                assert_eq!(s.find(token).expect("find"), Some(data.to_vec()), "{token} ({locking:?})");
            }
            assert_eq!(s.find(LEGACY_EXPIRED).expect("find"), None);
            let mut ids: Vec<String> = LEGACY_ACTIVE.iter().map(|(t, _)| crate::token::id_of(t)).collect();
            ids.sort();
            assert_eq!(s.all().expect("all").into_iter().map(|(id, _)| id).collect::<Vec<_>>(), ids);
            assert_eq!(s.stats().expect("stats"), SessionCounts { active: 3, expired: 1 });
            assert!(s.set_owner(LEGACY_ACTIVE[0].0, Some("ada")).expect("owners work after the upgrade"));
            drop(s);
            for (token, _) in LEGACY_ACTIVE.iter().chain([&(LEGACY_EXPIRED, &b""[..])]) {
                assert!(files_holding(dir.path(), token).is_empty(), "{token} left in a file ({locking:?})");
            }
        }
    }

    #[test]
    fn no_token_reaches_the_file_its_journal_or_its_free_pages() {
        for locking in [crate::config::Locking::Shared, crate::config::Locking::Exclusive] {
            let dir = tempfile::tempdir().expect("tempdir");
            let config = Config { locking, ..file_config(dir.path()) };
            let (mut s, _) = open_with(&config);
            let mut tokens = Vec::new();
            for i in 0..50 {
                let token = s.create(format!("session {i}").as_bytes(), T0 + 10_000).expect("create");
                s.set_owner(&token, Some("ada")).expect("set_owner");
                tokens.push(token);
            }
            let rotated = s.rotate(&tokens[0], T0 + 20_000).expect("rotate").expect("rotated");
            s.delete(&tokens[1]).expect("delete");
            s.revoke_owner("ada", Some(&rotated)).expect("revoke_owner");
            tokens.push(rotated);
            for token in &tokens {
                assert!(files_holding(dir.path(), token).is_empty(), "a token in the files ({locking:?})");
            }
            drop(s);
            for token in &tokens {
                assert!(files_holding(dir.path(), token).is_empty(), "a token in the files after close ({locking:?})");
            }
        }
    }

    #[test]
    fn the_owner_queries_read_the_owner_index_and_never_scan_the_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut backend = LocalBackend::open(&file_config(dir.path())).expect("open");
        backend.find("x", 0).expect("creates the table");
        for sql in [&backend.stmts.sql.sessions_of, &backend.stmts.sql.revoke_owner] {
            let plan = block_on(async {
                let mut rows = backend.conn.query(&format!("EXPLAIN QUERY PLAN {sql}"), ()).await?;
                let mut plan = Vec::new();
                while let Some(row) = rows.next().await? {
                    plan.push(row.get::<String>(3)?);
                }
                Ok::<_, libsql::Error>(plan)
            })
            .expect("explain");
            assert!(plan.iter().any(|step| step.contains("USING INDEX sessions_owner_idx")), "{sql}: {plan:?}");
            assert!(!plan.iter().any(|step| step.starts_with("SCAN")), "{sql}: {plan:?}");
            assert!(!plan.iter().any(|step| step.contains("TEMP B-TREE")), "{sql}: sorted by the index: {plan:?}");
        }
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
        let mut active: Vec<(String, &str)> =
            ["a", "b02500x", "c", "d", "e"].into_iter().map(|t| (crate::token::id_of(t), t)).collect();
        active.sort();
        let ids: Vec<String> = active.iter().map(|(id, _)| id.clone()).collect();
        let listed = |entries: Vec<Entry>| entries.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        assert_eq!(listed(s.all().expect("all")), ids);
        assert_eq!(listed(s.page(Some(&ids[0]), 2).expect("page")), ids[1..3]);
        assert_eq!(listed(s.page(Some(&ids[2]), 10).expect("page")), ids[3..]);
        assert_eq!(s.all().expect("all")[1].1, active[1].1.as_bytes().to_vec());
    }

    #[test]
    fn a_batch_that_fails_midway_stores_none_of_its_changes_and_the_next_one_commits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = crate::testing::file_config(dir.path());
        let mut b = LocalBackend::open(&config).expect("open");
        b.apply(&[Change::Upsert { id: "before".into(), data: b"x", expiry: 1000 }], 0).expect("upsert");
        // The engine refuses one row of the batch, after another was written.
        block_on(b.conn.execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON sessions WHEN NEW.data = x'ff' \
             BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END",
        ))
        .expect("trigger");
        let batch = [
            Change::Upsert { id: "a".into(), data: b"a", expiry: 1000 },
            Change::Update { id: "before".into(), data: b"changed", expiry: 1000 },
            Change::Upsert { id: "b".into(), data: &[0xff], expiry: 1000 },
        ];
        assert!(matches!(b.apply(&batch, 0), Err(Error::Storage(m)) if m.contains("refused by a trigger")));
        assert_eq!(b.find("a", 0).expect("find"), None, "rolled back with the rest");
        assert_eq!(b.find("before", 0).expect("find"), Some(b"x".to_vec()));
        let good = [Change::Upsert { id: "a".into(), data: b"a", expiry: 3000 }, Change::Touch { id: "before".into(), expiry: 2000 }];
        assert_eq!(b.apply(&good, 0).expect("next batch"), vec![true, true]);
        drop(b);
        let mut reopened = LocalBackend::open(&config).expect("reopen");
        assert_eq!(reopened.find("a", 1500).expect("find"), Some(b"a".to_vec()), "the batch reached the file");
        assert_eq!(reopened.find("before", 1500).expect("find"), Some(b"x".to_vec()));
    }
}
