//! Older layouts upgraded in place, under the lock, when an instance first readies the file:
//! 0.1 (plain tokens, no owner column) to 0.2, then 0.2 (no version, deadlines or device
//! columns) to 0.3, one transaction each. What survives a crash midway:
//! [docs/durability.md](../../../docs/durability.md#what-is-fsynced-when).

use futures::executor::block_on;
use libsql::params;

use super::statements::in_transaction;
use super::{FileAccess, LocalBackend};

/// Rows the 0.1-layout upgrade reads per statement (all of them in one transaction).
const UPGRADE_CHUNK: i64 = 10_000;

impl LocalBackend {
    /// Whether the table has the 0.1 layout (plain tokens). One read of the schema SQLite
    /// has already loaded; an absent table is not legacy.
    pub(super) fn is_legacy(&self) -> libsql::Result<bool> {
        block_on(async {
            let mut rows = self.conn()?.query(&self.stmts.sql.legacy_probe, ()).await?;
            Ok(rows.next().await?.is_some())
        })
    }

    /// Whether the table has the 0.2 layout (ids, no version column).
    pub(super) fn is_v2(&self) -> libsql::Result<bool> {
        block_on(async {
            let mut rows = self.conn()?.query(&self.stmts.sql.v2_probe, ()).await?;
            Ok(rows.next().await?.is_some())
        })
    }

    /// Upgrades a 0.2-layout table in place, in one transaction: the 0.3 columns are added
    /// (no row is rewritten: versions start at 0, no deadline, no idle timeout, created and
    /// last seen unknown). Killed midway, the file keeps the 0.2 layout and every session.
    pub(super) fn upgrade_v2(&self) -> libsql::Result<()> {
        let conn = self.conn()?;
        in_transaction(
            conn,
            |e| e,
            || {
                block_on(conn.execute_batch(&self.stmts.sql.v2_upgrade))?;
                Ok(())
            },
        )
    }

    /// Upgrades a 0.1-layout table in place, in one transaction: every stored token is
    /// replaced by its id (`token::id_of`), the `token` column becomes `id`, and the owner
    /// column and the indexes are added. Under WAL a truncating checkpoint follows, so the
    /// replaced tokens survive in no WAL frame. A second opener finds the upgrade done (the
    /// probe runs under the lock), and one killed mid-way leaves the file as it was.
    pub(super) fn upgrade_legacy(&self) -> libsql::Result<()> {
        let sql = &self.stmts.sql;
        let conn = self.conn()?;
        in_transaction(
            conn,
            |e| e,
            || {
                let rekey = block_on(conn.prepare(&sql.legacy_rekey))?;
                let mut after = 0i64;
                loop {
                    let chunk: Vec<(i64, String)> = block_on(async {
                        let mut rows =
                            conn.query(&sql.legacy_rows, params![after, UPGRADE_CHUNK]).await?;
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
                block_on(conn.execute_batch(&format!(
                    "{}; {}",
                    sql.legacy_upgrade,
                    self.stmts.ddl()
                )))?;
                Ok(())
            },
        )?;
        if matches!(self.lock, FileAccess::Held { .. }) {
            block_on(conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::backend::SessionCounts;
    use crate::config::Config;
    use crate::testing::{file_config, open_with, TestStore, T0};

    /// The sessions of `host/tests/fixtures/sessions-0.1.db`, written by the 0.1
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
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("host/tests/fixtures/sessions-0.1.db");
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
                assert_eq!(
                    s.find(token).expect("find"),
                    Some(data.to_vec()),
                    "{token} ({locking:?})"
                );
            }
            assert_eq!(s.find(LEGACY_EXPIRED).expect("find"), None);
            let mut ids: Vec<String> =
                LEGACY_ACTIVE.iter().map(|(t, _)| crate::token::id_of(t)).collect();
            ids.sort();
            assert_eq!(
                s.all().expect("all").into_iter().map(|(id, _)| id).collect::<Vec<_>>(),
                ids
            );
            assert_eq!(s.stats().expect("stats"), SessionCounts { active: 3, expired: 1 });
            assert!(s
                .set_owner(LEGACY_ACTIVE[0].0, Some("ada"))
                .expect("owners work after the upgrade"));
            drop(s);
            for (token, _) in LEGACY_ACTIVE.iter().chain([&(LEGACY_EXPIRED, &b""[..])]) {
                assert!(
                    files_holding(dir.path(), token).is_empty(),
                    "{token} left in a file ({locking:?})"
                );
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
                let token =
                    s.create(format!("session {i}").as_bytes(), T0 + 10_000).expect("create");
                s.set_owner(&token, Some("ada")).expect("set_owner");
                tokens.push(token);
            }
            let rotated = s.rotate(&tokens[0], T0 + 20_000).expect("rotate").expect("rotated");
            s.delete(&tokens[1]).expect("delete");
            s.revoke_owner("ada", Some(&rotated)).expect("revoke_owner");
            tokens.push(rotated);
            for token in &tokens {
                assert!(
                    files_holding(dir.path(), token).is_empty(),
                    "a token in the files ({locking:?})"
                );
            }
            drop(s);
            for token in &tokens {
                assert!(
                    files_holding(dir.path(), token).is_empty(),
                    "a token in the files after close ({locking:?})"
                );
            }
        }
    }

    /// The sessions of `host/tests/fixtures/sessions-0.2.db` (0.2 layout, rollback journal):
    /// (token, data, owner); all expire in the year 3000. Made by `docs/upgrading.md`'s recipe.
    const V2_ACTIVE: [(&str, &[u8], Option<&str>); 3] = [
        ("fixture-0.2-token-1", b"hello", Some("ada")),
        ("fixture-0.2-token-2", b"world", None),
        ("fixture-0.2-token-3", b"third", Some("ada")),
    ];

    fn v2_fixture(dir: &Path) -> Config {
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("host/tests/fixtures/sessions-0.2.db");
        std::fs::copy(fixture, dir.join("sessions.db")).expect("copy the 0.2 fixture");
        file_config(dir)
    }

    /// Opens `config` at [`LEGACY_NOW`] and checks every 0.2 session is there, with the 0.3
    /// calls working on it.
    fn assert_upgraded(config: &Config) {
        let clock = crate::testing::ManualClock::default();
        clock.0.set(LEGACY_NOW);
        let backend = LocalBackend::open(config).expect("open");
        let mut s = TestStore::with_parts(backend, config, clock, Default::default());
        for (token, data, owner) in V2_ACTIVE {
            let stored = s.load(token).expect("load").expect("active");
            assert_eq!((stored.data.as_slice(), stored.owner.as_deref()), (data, owner), "{token}");
            assert_eq!((stored.version, stored.absolute, stored.created), (0, None, None));
        }
        assert_eq!(s.stats().expect("stats"), SessionCounts { active: 3, expired: 1 });
        assert_eq!(s.sessions_of("ada").expect("sessions_of").len(), 2);
        let (token, _, _) = V2_ACTIVE[0];
        assert_eq!(s.update_if(token, b"v1", 0).expect("update_if"), Some(1));
        assert_eq!(s.update_if(token, b"stale", 0).expect("update_if"), None);
        assert!(s.set_label(token, Some("Firefox")).expect("set_label"));
    }

    #[test]
    fn a_file_in_the_0_2_layout_is_upgraded_in_place_and_keeps_every_session() {
        for locking in [crate::config::Locking::Shared, crate::config::Locking::Exclusive] {
            let dir = tempfile::tempdir().expect("tempdir");
            let config = Config { locking, ..v2_fixture(dir.path()) };
            assert_upgraded(&config);
            // Opened again: nothing left to upgrade, the writes kept.
            let backend = LocalBackend::open(&config).expect("reopen");
            let mut s =
                TestStore::with_parts(backend, &config, Default::default(), Default::default());
            let stored = s.load(V2_ACTIVE[0].0).expect("load").expect("active");
            assert_eq!((stored.data, stored.label.as_deref()), (b"v1".to_vec(), Some("Firefox")));
        }
    }

    #[test]
    fn an_upgrade_killed_midway_leaves_the_0_2_layout_and_the_next_open_upgrades_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = v2_fixture(dir.path());
        let sql = crate::schema::Sql::new(&config.table);
        // The upgrade's transaction, its changes spilled to the file, then the disk as a
        // process killed at that instant leaves it: the file and its hot journal.
        let crashed = tempfile::tempdir().expect("tempdir");
        let db = block_on(libsql::Builder::new_local(dir.path().join("sessions.db")).build())
            .expect("open");
        let conn = db.connect().expect("connect");
        block_on(conn.execute_batch(&format!(
            "PRAGMA cache_size=1; BEGIN IMMEDIATE; {}; UPDATE sessions SET data = data || 'x'",
            sql.v2_upgrade
        )))
        .expect("half an upgrade");
        for file in ["sessions.db", "sessions.db-journal"] {
            std::fs::copy(dir.path().join(file), crashed.path().join(file)).expect("crash image");
        }
        drop(conn);
        drop(db);
        assert_upgraded(&file_config(crashed.path()));
    }
}
