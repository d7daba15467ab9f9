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
//!   included: opening touches no file, and the read-write connection is opened and the
//!   file readied (journal mode, caches) under the first call's turn of the lock.
//! * Under shared locking a `find` first runs without the lock, on a second, read-only
//!   connection, and is kept only if no writer can have touched the file meanwhile (see
//!   `lockfile`, "Reading without the lock", and [`LocalBackend::find_unlocked`]); otherwise
//!   it runs again under the lock. So finds do not wait for each other, nor write any file.
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
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
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
    stmts: Statements,
    /// The read-write connection, opened by its first use, under the lock: at open under
    /// exclusive locking, by the first call that takes the lock under shared locking (an
    /// instance whose finds all run without the lock never opens it).
    writer: OnceCell<Writer>,
    lock: FileAccess,
    /// The database as SESSIONS_DATABASE names it, for messages.
    path: String,
    /// Whether the file has been readied for this connection (see [`LocalBackend::ready_file`]);
    /// under shared locking that happens under the first call's turn of the lock.
    ready: Cell<bool>,
    /// The read-only connection of finds without the lock (shared locking only), opened by
    /// the first such find.
    reader: OnceCell<Reader>,
    /// Rows per second of this instance's last full sweep chunk, commit included.
    sweep_rate: Option<f64>,
}

/// The read-write connection.
struct Writer {
    conn: Connection,
    // Dropped last: the connection and statements borrow its handle.
    _db: LibsqlDatabase,
}

/// A read-only connection and its find statement, for [`LocalBackend::find_unlocked`], and
/// the file opened for reading its header.
struct Reader {
    file: File,
    conn: Connection,
    find: OnceCell<Statement>,
    // Dropped last: the connection and statement borrow its handle.
    _db: LibsqlDatabase,
}

impl Reader {
    /// `None` if the file is missing or cannot be opened for reading.
    fn open(path: &str) -> Option<Reader> {
        let file = File::open(path).ok()?;
        let db = block_on(libsql::Builder::new_local(path).flags(libsql::OpenFlags::SQLITE_OPEN_READ_ONLY).build()).ok()?;
        Some(Reader { file, conn: db.connect().ok()?, _db: db, find: OnceCell::new() })
    }

    /// The file's header if it is a database in rollback-journal mode. `None` otherwise: an
    /// empty or foreign file, or one in WAL mode, is left to reads under the lock (which
    /// create, refuse or convert it). One positioned read.
    fn header(&self) -> Option<FileHeader> {
        let mut header = [0u8; FileHeader::LEN];
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0)).ok()?;
        file.read_exact(&mut header).ok()?;
        (header.starts_with(FileHeader::MAGIC) && header[18] == 1 && header[19] == 1).then_some(FileHeader(header))
    }

    /// The row of `id` if active: its stored id and data. Errors include a missing table
    /// (nothing is created: this connection cannot write) and a hot journal.
    fn find(&self, sql: &Sql, id: &str, now: i64) -> libsql::Result<Option<(String, Vec<u8>)>> {
        let stmt = match self.find.get() {
            Some(stmt) => stmt,
            None => {
                let stmt = block_on(self.conn.prepare(&sql.find_with_id))?;
                self.find.get_or_init(|| stmt)
            }
        };
        stmt.reset();
        let found = block_on(async {
            let mut rows = stmt.query(params![id, now]).await?;
            match rows.next().await? {
                Some(row) => Ok(Some((row.get::<String>(0)?, row.get::<Vec<u8>>(1)?))),
                None => Ok(None),
            }
        });
        stmt.reset();
        found
    }
}

/// The bytes of a database file's header that say whether it may be read without the lock,
/// and which version of it a read saw ([`Reader::header`]): the magic string, the journal
/// mode (bytes 18 and 19) and the file change counter (bytes 24 to 27, which every
/// committed write transaction changes).
#[derive(Debug, PartialEq, Eq)]
struct FileHeader([u8; FileHeader::LEN]);

impl FileHeader {
    const LEN: usize = 28;
    const MAGIC: &'static [u8; 16] = b"SQLite format 3\0";
}

/// The suffix SQLite gives a database's rollback journal: `<db>-journal`.
const JOURNAL_SUFFIX: &str = "-journal";

/// Whether the rollback journal beside `path` is missing or empty, so that no write
/// transaction is under way or was cut short (`journal_mode=TRUNCATE` empties it at the end
/// of each).
fn journal_is_idle(path: &Path) -> bool {
    match std::fs::symlink_metadata(crate::lockfile::companion(path, JOURNAL_SUFFIX)) {
        Ok(meta) => meta.len() == 0,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
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
    /// timeout; `Storage` for other engine failures. Under shared locking open touches no
    /// file: a missing directory, a file locked past the busy timeout, or one that is not
    /// a database fails the first call instead, with the same errors. A failed open changes
    /// nothing on disk.
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
    fn conn(&self) -> libsql::Result<&Connection> {
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
                check_parent_dir(Path::new(&self.path)).err().unwrap_or_else(|| open_error(&self.path, e))
            }
        }
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
        block_on(self.conn()?.execute_batch(&format!(
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
            let mut rows = self.conn()?.query(&self.stmts.sql.legacy_probe, ()).await?;
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
        let conn = self.conn()?;
        in_transaction(conn, |e| e, || {
            let rekey = block_on(conn.prepare(&sql.legacy_rekey))?;
            let mut after = 0i64;
            loop {
                let chunk: Vec<(i64, String)> = block_on(async {
                    let mut rows = conn.query(&sql.legacy_rows, params![after, UPGRADE_CHUNK]).await?;
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
            block_on(conn.execute_batch(&format!("{}; {}", sql.legacy_upgrade, self.stmts.ddl())))?;
            Ok(())
        })?;
        if matches!(self.lock, FileAccess::Held { .. }) {
            block_on(conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)"))?;
        }
        Ok(())
    }

    /// Takes the per-operation lock, under shared locking (nothing otherwise), and readies
    /// the file on the first turn.
    fn lock(&self) -> Result<Option<LockGuard<'_>>> {
        let guard = match &self.lock {
            FileAccess::PerOperation(lock) => {
                Some(lock.acquire().map_err(|e| check_parent_dir(Path::new(&self.path)).err().unwrap_or(e))?)
            }
            FileAccess::Private | FileAccess::Held { .. } => None,
        };
        if !self.ready.get() {
            self.ready_file().map_err(|e| self.open_failed(e))?;
        }
        Ok(guard)
    }

    /// `find` without the lock ([`LocalBackend::read_unlocked`]); the row found must also
    /// carry the id asked for. `None`: do it under the lock.
    fn find_unlocked(&self, id: &str, now: i64) -> Option<Option<Vec<u8>>> {
        match self.read_unlocked(|reader| reader.find(&self.stmts.sql, id, now))? {
            Some((stored, data)) => (stored == id).then_some(Some(data)),
            None => Some(None),
        }
    }

    /// Runs `read` on the read-only connection without the lock, under shared locking: its
    /// answer, or `None` when it cannot be trusted and must be done under the lock. Kept
    /// only if, around it, the lock was free and nobody released it (`FileLock::quiet`,
    /// `FileLock::still_quiet`), and afterwards the journal is empty and the change counter
    /// is what it was before. Any failure (the lock held, a file that is new, in WAL mode or
    /// not yet readied, a missing table, a hot journal) means `None`.
    fn read_unlocked<T>(&self, read: impl FnOnce(&Reader) -> libsql::Result<T>) -> Option<T> {
        let FileAccess::PerOperation(lock) = &self.lock else {
            return None;
        };
        let quiet = lock.quiet()?;
        let reader = match self.reader.get() {
            Some(reader) => reader,
            None => {
                let opened = Reader::open(&self.path)?;
                self.reader.get_or_init(|| opened)
            }
        };
        let before = reader.header()?;
        let answer = read(reader).ok()?;
        let untouched =
            lock.still_quiet(&quiet) && journal_is_idle(Path::new(&self.path)) && reader.header() == Some(before);
        untouched.then_some(answer)
    }

    /// `which`, prepared on first use; call with the lock held.
    fn stmt(&self, which: Stmt) -> Result<&Statement> {
        self.stmts.get(self.conn().map_err(storage)?, which).map_err(storage)
    }

    /// Runs `work` inside BEGIN IMMEDIATE … COMMIT, rolling back if it fails. `uses` are
    /// the statements `work` runs: they are prepared first, outside the transaction, so
    /// that a missing table is created in a transaction of its own.
    fn transaction<T>(&self, uses: &[Stmt], work: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        for &which in uses {
            self.stmt(which)?;
        }
        in_transaction(self.conn().map_err(storage)?, storage, || work(self))
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
        if let Some(found) = self.find_unlocked(id, now) {
            return Ok(found);
        }
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
    use crate::store::Write;
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
    fn a_find_takes_no_lock_while_nobody_writes_and_waits_for_a_writer_that_holds_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = file_config(dir.path());
        let (mut writer, _) = open_with(&config);
        writer.commit("tok", b"stored", T0 + 1000).expect("commit");
        let last = dir.path().join("sessions.db-lock-last");
        let released = std::fs::read_to_string(&last).expect("the writer's released lock");

        let (mut reader, _) = open_with(&config);
        for _ in 0..3 {
            assert_eq!(reader.find("tok").expect("find"), Some(b"stored".to_vec()));
        }
        assert_eq!(std::fs::read_to_string(&last).expect("last lock"), released, "the finds took no lock");

        let busy = Config { busy_timeout: Duration::from_millis(50), ..config };
        let (mut waiting, _) = open_with(&busy);
        let holder = FileLock::for_database(&dir.path().join("sessions.db"), Duration::from_secs(1), None);
        let held = holder.acquire().expect("free lock");
        assert!(matches!(waiting.find("tok"), Err(Error::Unavailable(_))), "a find never reads past a held lock");
        drop(held);
        assert_eq!(waiting.find("tok").expect("find"), Some(b"stored".to_vec()));
    }

    #[test]
    fn a_read_without_the_lock_is_thrown_away_if_anyone_wrote_while_it_ran() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = file_config(dir.path());
        let (mut writer, _) = open_with(&config);
        writer.commit("tok", b"first", T0 + 1000).expect("commit");
        let reader = LocalBackend::open(&config).expect("open");
        let id = crate::token::id_of("tok");
        let find = |r: &Reader| r.find(&reader.stmts.sql, &id, T0 as i64);
        let stored = |data: &[u8]| Some(Some((id.clone(), data.to_vec())));

        assert_eq!(reader.read_unlocked(find), stored(b"first"), "nobody wrote: kept");
        let came_and_went = reader.read_unlocked(|r| {
            let found = find(r);
            writer.commit("tok", b"second", T0 + 1000).expect("commit");
            found
        });
        assert_eq!(came_and_went, None, "a writer took the lock and released it");

        let lock = FileLock::for_database(&dir.path().join("sessions.db"), Duration::from_secs(1), None);
        let mut held = None;
        assert_eq!(reader.read_unlocked(|r| find(r).inspect(|_| held = lock.acquire().ok())), None, "a writer holds it");
        assert!(held.is_some());
        drop(held);

        // A writer that takes no part in `<db>-lock-last` (an earlier version, or a tool): its
        // commit changes the file's change counter.
        let raw = block_on(libsql::Builder::new_local(dir.path().join("sessions.db")).build()).expect("raw");
        let raw = raw.connect().expect("connect");
        let unannounced = reader.read_unlocked(|r| {
            let found = find(r);
            block_on(raw.execute("UPDATE sessions SET data = x'00'", ())).expect("a write without the lock");
            found
        });
        assert_eq!(unannounced, None, "the change counter moved");

        // A writer mid-transaction whose lock was removed by hand: its journal is not empty.
        let journal = dir.path().join("sessions.db-journal");
        let mid_write = reader.read_unlocked(|r| {
            let found = find(r);
            std::fs::write(&journal, b"a journal being written").expect("journal");
            found
        });
        assert_eq!(mid_write, None, "the journal is in use");
        std::fs::write(&journal, b"").expect("empty the journal");
        assert_eq!(reader.read_unlocked(find), stored(b"\0"), "kept again once nothing moves");
    }

    #[test]
    fn a_find_never_reads_the_changes_of_a_writer_that_died_mid_transaction() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, _) = open_with(&file_config(dir.path()));
        let tokens: Vec<String> = (0..40).map(|i| format!("tok{i}")).collect();
        for token in &tokens {
            store.commit(token, b"committed", T0 + 1000).expect("commit");
        }
        drop(store);

        // A writer that spills its changes into the file before committing, copied as it is
        // mid-transaction: the image of a crash, with a hot journal and a file that holds
        // pages never committed. No lock file: it was removed by hand.
        let db = dir.path().join("sessions.db");
        let raw = block_on(libsql::Builder::new_local(&db).build()).expect("raw");
        let conn = raw.connect().expect("connect");
        block_on(conn.execute_batch(
            "PRAGMA journal_mode=TRUNCATE; PRAGMA cache_size=2; BEGIN; UPDATE sessions SET data = zeroblob(3000);",
        ))
        .expect("a spilling write");
        let crashed = tempfile::tempdir().expect("tempdir");
        for name in ["sessions.db", "sessions.db-journal"] {
            std::fs::copy(dir.path().join(name), crashed.path().join(name)).expect("copy");
        }
        let journal = crashed.path().join("sessions.db-journal");
        assert!(std::fs::metadata(&journal).expect("journal").len() > 0, "the journal is hot");

        let config = file_config(crashed.path());
        let backend = LocalBackend::open(&config).expect("open");
        let id = crate::token::id_of("tok7");
        assert_eq!(backend.find_unlocked(&id, T0 as i64), None, "not trusted without the lock");
        let (mut store, _) = open_with(&config);
        for token in &tokens {
            assert_eq!(store.find(token).expect("find"), Some(b"committed".to_vec()), "{token}");
        }
        let left = std::fs::read(&journal).expect("journal");
        assert!(left.iter().take(28).all(|&b| b == 0), "rolled back under the lock: the journal is no longer hot");
        let check = block_on(async {
            let conn = libsql::Builder::new_local(crashed.path().join("sessions.db")).build().await?.connect()?;
            conn.query("PRAGMA integrity_check", ()).await?.next().await?.map(|row| row.get::<String>(0)).transpose()
        });
        assert_eq!(check.expect("integrity_check").as_deref(), Some("ok"));
    }

    /// Writers rewrite their sessions in transactions of many pages while readers on other
    /// connections find them: every find answers a version its writer committed, whole, and
    /// none older than one acknowledged before it started.
    #[test]
    fn finds_alongside_writers_answer_only_whole_committed_versions() {
        const WRITERS: usize = 2;
        const READERS: usize = 2;
        const SESSIONS: usize = 24;
        const VERSIONS: u32 = 40;
        let dir = tempfile::tempdir().expect("tempdir");
        let config = file_config(dir.path());
        let token = |w: usize, s: usize| format!("writer{w}-session{s}");
        // The data names its session and version, and fills pages with the version.
        let data = |token: &str, version: u32| {
            let mut data = format!("{token} v{version:08} ").into_bytes();
            data.resize(1500, b'a' + (version % 26) as u8);
            data
        };
        let well_formed = |token: &str, stored: &[u8]| -> Option<u32> {
            let text = std::str::from_utf8(stored).ok()?;
            let version: u32 = text.strip_prefix(token)?.strip_prefix(" v")?.get(..8)?.parse().ok()?;
            (data(token, version) == stored).then_some(version)
        };
        let committed: Vec<Vec<std::sync::atomic::AtomicU32>> =
            (0..WRITERS).map(|_| (0..SESSIONS).map(|_| Default::default()).collect()).collect();
        let done = std::sync::atomic::AtomicBool::new(false);
        {
            let (mut store, _) = open_with(&config);
            for w in 0..WRITERS {
                for s in 0..SESSIONS {
                    store.commit(&token(w, s), &data(&token(w, s), 0), u64::MAX).expect("seed");
                }
            }
        }
        std::thread::scope(|scope| {
            for w in 0..WRITERS {
                let (config, committed, done) = (&config, &committed, &done);
                scope.spawn(move || {
                    let (mut store, _) = open_with(config);
                    for version in 1..=VERSIONS {
                        let tokens: Vec<String> = (0..SESSIONS).map(|s| token(w, s)).collect();
                        let datas: Vec<Vec<u8>> = tokens.iter().map(|t| data(t, version)).collect();
                        let writes: Vec<Write<'_>> = tokens
                            .iter()
                            .zip(&datas)
                            .map(|(token, data)| Write::Commit { token, data, expiry: u64::MAX })
                            .collect();
                        for outcome in store.write_all(&writes).expect("batch") {
                            outcome.expect("write");
                        }
                        for acknowledged in &committed[w] {
                            acknowledged.store(version, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                    done.store(true, std::sync::atomic::Ordering::SeqCst);
                });
            }
            for r in 0..READERS {
                let (config, committed, done) = (&config, &committed, &done);
                scope.spawn(move || {
                    let (mut store, _) = open_with(config);
                    let mut finds = 0;
                    while !done.load(std::sync::atomic::Ordering::SeqCst) || finds < 100 {
                        let (w, s) = ((finds + r) % WRITERS, (finds * 7 + r) % SESSIONS);
                        let token = token(w, s);
                        let floor = committed[w][s].load(std::sync::atomic::Ordering::SeqCst);
                        let stored = store.find(&token).expect("find").expect("a stored session");
                        let version = well_formed(&token, &stored)
                            .unwrap_or_else(|| panic!("a torn read of {token}: {:?}", String::from_utf8_lossy(&stored[..40])));
                        assert!(version >= floor, "{token}: v{version} read after v{floor} was acknowledged");
                        finds += 1;
                    }
                });
            }
        });
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
                let mut rows = backend.conn()?.query(&format!("EXPLAIN QUERY PLAN {sql}"), ()).await?;
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
        block_on(b.conn().expect("the connection").execute_batch(
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
