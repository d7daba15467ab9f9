//! The embedded backend: a libSQL database file (or `:memory:`) inside the instance.
//!
//! How it shares a file with other instances (shared or exclusive locking, the lock file,
//! finds without the lock) and what is fsynced when:
//! [docs/durability.md](../../../docs/durability.md#locking-modes).
//!
//! | item | file | what it is |
//! |---|---|---|
//! | [`LocalBackend`], its [`Backend`] impl | `mod.rs` | a call: one turn of the lock |
//! | [`LocalBackend::open`], `lock`, `ready_file` | `open.rs` | open; ready at the first turn |
//! | `Stmt`, `Statements`, `in_transaction` | `statements.rs` | statements prepared on first use |
//! | `Reader`, `FileHeader`, `Quiet` | `unlocked.rs` | the whole rule for reading without lock |
//! | `upgrade_legacy` | `upgrade.rs` | the 0.1 layout upgraded in place |
//! | `sweep_in_chunks` | `sweep.rs` | sweeps in chunks sized by a time budget |
//! | `scan` | `listing.rs` | listings in chunks of examined rows |
//! | `storage`, `open_error` | `errors.rs` | engine errors mapped to `Unavailable` or `Storage` |

mod errors;
mod listing;
mod open;
mod statements;
mod sweep;
mod unlocked;
mod upgrade;

use std::cell::{Cell, OnceCell};
use std::time::Duration;

use futures::executor::block_on;
use libsql::{params, Connection, Database as LibsqlDatabase};

use self::errors::storage;
use self::statements::{execute, loaded_from, rows, Statements, Stmt};
use self::unlocked::Reader;
use super::{
    Backend, Change, Device, Entry, Loaded, NewRow, Rotation, SessionCounts, SessionInfo,
    SweepReport,
};
use crate::error::Result;
use crate::lockfile::{FileLock, HeldLock};

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
    /// Whether the file has been readied for this connection (see `LocalBackend::ready_file`);
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

/// How this instance shares its database file with others.
enum FileAccess {
    /// `:memory:`: nothing to share.
    Private,
    /// Shared locking: the lock is taken around every operation.
    PerOperation(FileLock),
    /// Exclusive locking: held since open (released when the backend is dropped).
    Held { _lock: HeldLock },
}

impl LocalBackend {
    /// One change, under a lock (and transaction) the caller holds; its answer as
    /// `Backend::apply` gives it.
    fn change_row(&self, change: &Change<'_>, now: i64) -> Result<bool> {
        match change {
            Change::Upsert { id, row } => execute(
                self.stmt(Stmt::Upsert)?,
                params![id.as_str(), row.data, row.expiry, now, row.absolute, row.idle, row.label],
            )
            .map(|_| true),
            Change::UpdateIf { id, data, version } => {
                execute(self.stmt(Stmt::UpdateIf)?, params![id.as_str(), *data, *version, now])
                    .map(|n| n == 1)
            }
            Change::Seen { id, seen_before } => {
                execute(self.stmt(Stmt::Seen)?, params![id.as_str(), now, *seen_before])
                    .map(|n| n == 1)
            }
            Change::Update { id, data, expiry } => {
                execute(self.stmt(Stmt::Update)?, params![id.as_str(), *data, *expiry, now])
                    .map(|n| n == 1)
            }
            Change::Touch { id, expiry } => {
                execute(self.stmt(Stmt::Touch)?, params![id.as_str(), *expiry, now]).map(|n| n == 1)
            }
            Change::Delete { id } => {
                execute(self.stmt(Stmt::Delete)?, params![id.as_str()]).map(|_| true)
            }
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

    fn insert_new(&mut self, id: &str, row: NewRow<'_>, now: i64) -> Result<bool> {
        let _guard = self.lock()?;
        execute(
            self.stmt(Stmt::InsertNew)?,
            params![id, row.data, row.expiry, row.absolute, row.idle, now, row.label],
        )
        .map(|n| n == 1)
    }

    /// Without the lock when the read need not be recorded (no session, or one last seen
    /// after `seen_before`); else under one turn of the lock: the read recorded (a write
    /// only when it is due), then the row read.
    fn load(&mut self, id: &str, now: i64, seen_before: i64) -> Result<Option<Loaded>> {
        match self.load_unlocked(id, now) {
            Some(None) => return Ok(None),
            Some(Some(found)) if found.seen_after(seen_before) => return Ok(Some(found)),
            _ => {}
        }
        let _guard = self.lock()?;
        execute(self.stmt(Stmt::Seen)?, params![id, now, seen_before])?;
        let found = rows(self.stmt(Stmt::Load)?, params![id, now], |row| loaded_from(row, 0))?;
        Ok(found.into_iter().next())
    }

    fn set_label(&mut self, id: &str, label: Option<&str>, now: i64) -> Result<bool> {
        let _guard = self.lock()?;
        execute(self.stmt(Stmt::SetLabel)?, params![id, label, now]).map(|n| n == 1)
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

    fn sessions_of(&mut self, owner: &str, now: i64) -> Result<Vec<Device>> {
        let _guard = self.lock()?;
        rows(self.stmt(Stmt::SessionsOf)?, params![owner, now], |row| {
            let ms = |at: Option<i64>| at.map(|at| u64::try_from(at).unwrap_or(0));
            Ok(Device {
                info: SessionInfo {
                    id: row.get(0)?,
                    owner: row.get(1)?,
                    expiry: u64::try_from(row.get::<i64>(2)?).unwrap_or(0),
                },
                created: ms(row.get(3)?),
                last_seen: ms(row.get(4)?),
                label: row.get(5)?,
            })
        })
    }

    fn revoke_owner(&mut self, owner: &str, keep: Option<&str>, now: i64) -> Result<u64> {
        let _guard = self.lock()?;
        let was_active = rows(self.stmt(Stmt::RevokeOwner)?, params![owner, keep, now], |row| {
            row.get::<bool>(0)
        })?;
        Ok(was_active.into_iter().filter(|&active| active).count() as u64)
    }

    fn revoke(&mut self, id: &str, now: i64) -> Result<bool> {
        let _guard = self.lock()?;
        let was_active =
            rows(self.stmt(Stmt::Revoke)?, params![id, now], |row| row.get::<bool>(0))?;
        Ok(was_active.first().copied().unwrap_or(false))
    }

    fn rotate(
        &mut self,
        old: &str,
        new: &str,
        expiry: i64,
        deadlines: Option<(i64, Option<i64>)>,
        now: i64,
    ) -> Result<Rotation> {
        let _guard = self.lock()?;
        let (absolute, idle) = deadlines.map_or((None, None), |(a, i)| (Some(a), i));
        self.transaction(&[Stmt::RotateCopy, Stmt::RotateDrop, Stmt::IsActive], |b| {
            let copy = params![new, old, expiry, now, absolute, idle];
            if execute(b.stmt(Stmt::RotateCopy)?, copy)? == 1 {
                execute(b.stmt(Stmt::RotateDrop)?, params![old])?;
                return Ok(Rotation::Rotated);
            }
            let active =
                rows(b.stmt(Stmt::IsActive)?, params![old, now], |row| row.get::<bool>(0))?;
            Ok(if active.first().copied().unwrap_or(false) {
                Rotation::Taken
            } else {
                Rotation::NotActive
            })
        })
    }

    /// One turn of the lock, one transaction: under WAL one fsync for the whole batch. A
    /// change alone is its statement alone, a transaction of its own.
    fn apply(&mut self, changes: &[Change<'_>], now: i64) -> Result<Vec<bool>> {
        let _guard = self.lock()?;
        if let [change] = changes {
            return self.change_row(change, now).map(|done| vec![done]);
        }
        self.transaction(&Stmt::WRITES, |b| {
            changes.iter().map(|change| b.change_row(change, now)).collect()
        })
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

    /// In chunks, one transaction (and one turn of the lock) each: see
    /// `LocalBackend::sweep_in_chunks`.
    fn sweep(&mut self, now: i64, batch: u32, budget: Option<Duration>) -> Result<SweepReport> {
        self.sweep_in_chunks(now, batch, budget)
    }
}

#[cfg(test)]
mod tests {
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
    fn two_devices_logging_out_everywhere_at_once_leave_exactly_one_logged_in() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = file_config(dir.path());
        let (mut setup, _) = open_with(&config);
        for round in 0..40 {
            let owner = format!("user{round}");
            let devices = [format!("a{round}"), format!("b{round}")];
            for device in &devices {
                setup.commit(device, b"x", T0 + 60_000).expect("commit");
                assert!(setup.set_owner(device, Some(&owner)).expect("set_owner"));
            }
            let start = std::sync::Barrier::new(2);
            std::thread::scope(|scope| {
                for device in &devices {
                    let (config, owner, start) = (&config, &owner, &start);
                    scope.spawn(move || {
                        let (mut s, _) = open_with(config);
                        start.wait();
                        s.revoke_owner(owner, Some(device)).expect("revoke_owner")
                    });
                }
            });
            let left = setup.sessions_of(&owner).expect("sessions_of").len();
            assert_eq!(left, 1, "round {round}: {left} devices logged in");
        }
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
}
