//! Reading without the lock (shared locking): the whole rule, in one place. A `find` runs
//! on a read-only connection, as a seqlock reader does, and is kept only if no writer can
//! have touched the file meanwhile; otherwise it is done again under the lock. The rule and
//! why it is enough: [docs/durability.md](../../../docs/durability.md#reading-without-the-lock).
//!
//! | step | item |
//! |---|---|
//! | before: the lock free, `<db>-lock-last` noted | [`Quiet::begin`] |
//! | before: a rollback-journal database, its change counter noted | [`Reader::header`] |
//! | the read, on a connection that cannot write | [`Reader::find`], [`Reader::load`] |
//! | after: the lock free, `<db>-lock-last` unchanged | [`Quiet::still`] |
//! | after: the journal idle, the header unchanged | [`journal_is_idle`], [`Reader::header`] |
//! | the row carries the id asked for | [`LocalBackend::find_unlocked`], [`LocalBackend::load_unlocked`] |

use std::cell::OnceCell;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use futures::executor::block_on;
use libsql::{params, Connection, Database as LibsqlDatabase, Statement};

use super::statements::loaded_from;
use super::{FileAccess, LocalBackend};
use crate::backend::Loaded;
use crate::lockfile::{companion, FileLock};
use crate::schema::Sql;

/// What a read without the lock saw of the lock before it began: the lock free, and the
/// owner of the lock released last (`None` if none was ever released).
#[derive(Debug, PartialEq, Eq)]
struct Quiet {
    last_owner: Option<String>,
}

impl Quiet {
    /// Notes `<db>-lock-last`, then checks that `<db>-lock` does not exist: `None` if the
    /// lock is held now, so the read must take it.
    fn begin(lock: &FileLock) -> Option<Quiet> {
        let last_owner = lock.last_owner();
        lock.is_free().then_some(Quiet { last_owner })
    }

    /// After the read: true if nobody has held the lock since [`Quiet::begin`] (`<db>-lock`
    /// absent, then `<db>-lock-last` unchanged: every release changes it).
    fn still(&self, lock: &FileLock) -> bool {
        lock.is_free() && lock.last_owner() == self.last_owner
    }
}

/// A read-only connection and its statements, for [`LocalBackend::find_unlocked`] and
/// [`LocalBackend::load_unlocked`], and the file opened for reading its header.
pub(super) struct Reader {
    file: File,
    conn: Connection,
    find: OnceCell<Statement>,
    load: OnceCell<Statement>,
    // Dropped last: the connection and statement borrow its handle.
    _db: LibsqlDatabase,
}

impl Reader {
    /// `None` if the file is missing or cannot be opened for reading.
    fn open(path: &str) -> Option<Reader> {
        let file = File::open(path).ok()?;
        let db = block_on(
            libsql::Builder::new_local(path)
                .flags(libsql::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .build(),
        )
        .ok()?;
        Some(Reader {
            file,
            conn: db.connect().ok()?,
            _db: db,
            find: OnceCell::new(),
            load: OnceCell::new(),
        })
    }

    /// The file's header if it is a database in rollback-journal mode. `None` otherwise: an
    /// empty or foreign file, or one in WAL mode, is left to reads under the lock (which
    /// create, refuse or convert it). One positioned read.
    fn header(&self) -> Option<FileHeader> {
        let mut header = [0u8; FileHeader::LEN];
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0)).ok()?;
        file.read_exact(&mut header).ok()?;
        (header.starts_with(FileHeader::MAGIC) && header[18] == 1 && header[19] == 1)
            .then_some(FileHeader(header))
    }

    /// The row of `id` if active: its stored id and data. Errors include a missing table
    /// (nothing is created: this connection cannot write) and a hot journal.
    fn find(&self, sql: &Sql, id: &str, now: i64) -> libsql::Result<Option<(String, Vec<u8>)>> {
        self.first_row(&self.find, &sql.find_with_id, id, now, |row| {
            Ok((row.get::<String>(0)?, row.get::<Vec<u8>>(1)?))
        })
    }

    /// The row of `id` if active: its stored id and what `load` reads. Errors as `find`.
    fn load(&self, sql: &Sql, id: &str, now: i64) -> libsql::Result<Option<(String, Loaded)>> {
        self.first_row(&self.load, &sql.load_with_id, id, now, |row| {
            Ok((row.get::<String>(0)?, loaded_from(row, 1)?))
        })
    }

    /// The first row `text` (prepared once into `cell`) answers for `id` at `now`.
    fn first_row<T>(
        &self,
        cell: &OnceCell<Statement>,
        text: &str,
        id: &str,
        now: i64,
        read: impl FnOnce(&libsql::Row) -> libsql::Result<T>,
    ) -> libsql::Result<Option<T>> {
        let stmt = match cell.get() {
            Some(stmt) => stmt,
            None => {
                let stmt = block_on(self.conn.prepare(text))?;
                cell.get_or_init(|| stmt)
            }
        };
        stmt.reset();
        let found = block_on(async {
            let mut rows = stmt.query(params![id, now]).await?;
            match rows.next().await? {
                Some(row) => read(&row).map(Some),
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
    match std::fs::symlink_metadata(companion(path, JOURNAL_SUFFIX)) {
        Ok(meta) => meta.len() == 0,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

impl LocalBackend {
    /// `find` without the lock ([`LocalBackend::read_unlocked`]); the row found must also
    /// carry the id asked for. `None`: do it under the lock.
    pub(super) fn find_unlocked(&self, id: &str, now: i64) -> Option<Option<Vec<u8>>> {
        match self.read_unlocked(|reader| reader.find(&self.stmts.sql, id, now))? {
            Some((stored, data)) => (stored == id).then_some(Some(data)),
            None => Some(None),
        }
    }

    /// `load` without the lock ([`LocalBackend::read_unlocked`]), not recording the read; the
    /// row found must also carry the id asked for. `None`: do it under the lock.
    pub(super) fn load_unlocked(&self, id: &str, now: i64) -> Option<Option<Loaded>> {
        match self.read_unlocked(|reader| reader.load(&self.stmts.sql, id, now))? {
            Some((stored, loaded)) => (stored == id).then_some(Some(loaded)),
            None => Some(None),
        }
    }

    /// Runs `read` on the read-only connection without the lock, under shared locking: its
    /// answer, or `None` when it cannot be trusted and must be done under the lock. Kept
    /// only if, around it, the lock was free and nobody released it (`Quiet::begin`,
    /// `Quiet::still`), and afterwards the journal is empty and the change counter
    /// is what it was before. Any failure (the lock held, a file that is new, in WAL mode or
    /// not yet readied, a missing table, a hot journal) means `None`.
    fn read_unlocked<T>(&self, read: impl FnOnce(&Reader) -> libsql::Result<T>) -> Option<T> {
        let FileAccess::PerOperation(lock) = &self.lock else {
            return None;
        };
        let quiet = Quiet::begin(lock)?;
        let reader = match self.reader.get() {
            Some(reader) => reader,
            None => {
                let opened = Reader::open(&self.path)?;
                self.reader.get_or_init(|| opened)
            }
        };
        let before = reader.header()?;
        let answer = read(reader).ok()?;
        let untouched = quiet.still(lock)
            && journal_is_idle(Path::new(&self.path))
            && reader.header() == Some(before);
        untouched.then_some(answer)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Config;
    use crate::error::Error;
    use crate::lockfile::fixtures::lock_in;
    use crate::store::{Deadlines, Write};
    use crate::testing::{file_config, open_with, T0};

    #[test]
    fn a_read_without_the_lock_is_kept_only_if_nobody_took_the_lock_meanwhile() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = lock_in(dir.path(), Duration::from_secs(1));
        let writer = lock_in(dir.path(), Duration::from_secs(1));

        let quiet = Quiet::begin(&lock).expect("free, never released: a read may start");
        assert!(quiet.still(&lock), "nothing happened");

        let quiet = Quiet::begin(&lock).expect("free");
        drop(writer.acquire().expect("free lock"));
        assert!(!quiet.still(&lock), "a writer came and went");

        let quiet = Quiet::begin(&lock).expect("free again");
        let held = writer.acquire().expect("free lock");
        assert!(!quiet.still(&lock), "a writer holds the lock");
        assert_eq!(Quiet::begin(&lock), None, "no read starts while the lock is held");
        drop(held);

        let quiet = Quiet::begin(&lock).expect("free after a release");
        assert!(quiet.still(&lock), "nothing happened since");
        for _ in 0..3 {
            drop(writer.acquire().expect("free lock"));
        }
        assert!(!quiet.still(&lock), "every release is told apart from the one before");
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
        assert_eq!(
            std::fs::read_to_string(&last).expect("last lock"),
            released,
            "the finds took no lock"
        );

        let busy = Config { busy_timeout: Duration::from_millis(50), ..config };
        let (mut waiting, _) = open_with(&busy);
        let holder =
            FileLock::for_database(&dir.path().join("sessions.db"), Duration::from_secs(1), None);
        let held = holder.acquire().expect("free lock");
        assert!(
            matches!(waiting.find("tok"), Err(Error::Unavailable(_))),
            "a find never reads past a held lock"
        );
        drop(held);
        assert_eq!(waiting.find("tok").expect("find"), Some(b"stored".to_vec()));
    }

    #[test]
    fn a_0_3_find_takes_the_lock_only_when_its_read_is_due_to_be_recorded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, clock) = open_with(&file_config(dir.path()));
        let deadlines = Deadlines { absolute: u64::MAX, idle: Some(600_000) };
        store.commit_with("tok", b"stored", deadlines, None).expect("commit");
        let last = dir.path().join("sessions.db-lock-last");
        let released = std::fs::read_to_string(&last).expect("the commit's released lock");

        clock.0.set(T0 + 30_000);
        for _ in 0..3 {
            let found = store.load("tok").expect("load").expect("active");
            assert_eq!((found.data, found.last_seen), (b"stored".to_vec(), Some(T0)));
        }
        assert_eq!(
            std::fs::read_to_string(&last).expect("last lock"),
            released,
            "within the last-seen interval the finds took no lock"
        );

        clock.0.set(T0 + 60_000);
        let found = store.load("tok").expect("load").expect("active");
        assert_eq!((found.last_seen, found.expiry), (Some(T0 + 60_000), T0 + 660_000));
        assert_ne!(
            std::fs::read_to_string(&last).expect("last lock"),
            released,
            "a read due to be recorded is written under the lock"
        );
        clock.0.set(T0 + 660_000);
        assert_eq!(store.load("tok").expect("load"), None, "idle for ten minutes");
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

        let lock =
            FileLock::for_database(&dir.path().join("sessions.db"), Duration::from_secs(1), None);
        let mut held = None;
        assert_eq!(
            reader.read_unlocked(|r| find(r).inspect(|_| held = lock.acquire().ok())),
            None,
            "a writer holds it"
        );
        assert!(held.is_some());
        drop(held);

        // A writer that takes no part in `<db>-lock-last` (an earlier version, or a tool): its
        // commit changes the file's change counter.
        let raw = block_on(libsql::Builder::new_local(dir.path().join("sessions.db")).build())
            .expect("raw");
        let raw = raw.connect().expect("connect");
        let unannounced = reader.read_unlocked(|r| {
            let found = find(r);
            block_on(raw.execute("UPDATE sessions SET data = x'00'", ()))
                .expect("a write without the lock");
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
            "PRAGMA journal_mode=TRUNCATE; PRAGMA cache_size=2; BEGIN; \
             UPDATE sessions SET data = zeroblob(3000);",
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
        assert!(
            left.iter().take(28).all(|&b| b == 0),
            "rolled back under the lock: the journal is no longer hot"
        );
        let check = block_on(async {
            let conn = libsql::Builder::new_local(crashed.path().join("sessions.db"))
                .build()
                .await?
                .connect()?;
            conn.query("PRAGMA integrity_check", ())
                .await?
                .next()
                .await?
                .map(|row| row.get::<String>(0))
                .transpose()
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
            let version: u32 =
                text.strip_prefix(token)?.strip_prefix(" v")?.get(..8)?.parse().ok()?;
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
                        let version = well_formed(&token, &stored).unwrap_or_else(|| {
                            panic!(
                                "a torn read of {token}: {:?}",
                                String::from_utf8_lossy(&stored[..40])
                            )
                        });
                        assert!(
                            version >= floor,
                            "{token}: v{version} read after v{floor} was acknowledged"
                        );
                        finds += 1;
                    }
                });
            }
        });
    }
}
