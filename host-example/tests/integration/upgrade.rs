//! The upgrade of a database written by the 0.1 component, interrupted: the binary's `stats`
//! killed mid-way through it, then finished by the next open through the library.

use std::path::Path;
use std::time::{Duration, Instant};

use libsqlstore_host::{ComponentStore, SessionCounts, StoreOptions};

use crate::common;

const MIGRATED: usize = 200_000;

fn legacy_token(i: usize) -> String {
    format!("legacy-session-token-{i:07}")
}

/// A 0.1-layout file with `MIGRATED` sessions, written natively in one transaction.
async fn write_legacy_file(db: &Path) {
    let conn = common::native(db).await;
    conn.execute_batch(
        "CREATE TABLE sessions (token TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL, expiry INTEGER NOT NULL);
         CREATE INDEX sessions_expiry_idx ON sessions(expiry);",
    )
    .await
    .expect("the 0.1 schema");
    conn.execute("BEGIN", ()).await.expect("begin");
    let insert = conn
        .prepare("INSERT INTO sessions VALUES (?1, ?2, 32503680000000)")
        .await
        .expect("prepare");
    for i in 0..MIGRATED {
        insert
            .execute(libsql::params![legacy_token(i), format!("data-{i}").into_bytes()])
            .await
            .expect("insert");
        insert.reset();
    }
    conn.execute("COMMIT", ()).await.expect("commit");
}

#[tokio::test]
async fn an_upgrade_killed_mid_way_is_finished_by_the_next_open_with_nothing_lost_or_doubled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("sessions.db");
    write_legacy_file(&db).await;
    let journal = dir.path().join("sessions.db-journal");
    let mut child = std::process::Command::new(common::BIN)
        .args(["stats", "--locking", "shared", "--data-dir", common::data_dir(dir.path())])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the migrating process");
    let started = Instant::now();
    let mut killed_mid_way = false;
    while started.elapsed() < Duration::from_secs(120) {
        if std::fs::metadata(&journal).is_ok_and(|m| m.len() > 0) {
            child.kill().expect("SIGKILL");
            killed_mid_way = true;
            break;
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let _ = child.wait();
    assert!(
        killed_mid_way,
        "the upgrade finished before its journal was seen: nothing was interrupted"
    );
    assert!(std::fs::metadata(&journal).is_ok_and(|m| m.len() > 0), "killed with a hot journal");

    let options = StoreOptions::in_dir(dir.path()).env("SESSIONS_LOCKING", "shared");
    let store = ComponentStore::open(common::runtime(), options).expect("store opens");
    assert_eq!(
        store.stats().await.expect("stats"),
        SessionCounts { active: MIGRATED as u64, expired: 0 }
    );
    for i in (0..MIGRATED).step_by(997).chain([MIGRATED - 1]) {
        let token = legacy_token(i);
        assert_eq!(
            store.find(&token).await.expect("find"),
            Some(format!("data-{i}").into_bytes()),
            "{token}"
        );
    }
    store.close().await;
    let conn = common::native(&db).await;
    let counts = common::single_value(
        &conn,
        "SELECT count(*) = count(DISTINCT id) AND count(*) = sum(length(id) = 43) FROM sessions",
    )
    .await;
    assert_eq!(counts, libsql::Value::Integer(1), "one row per session, each keyed by its id");
    assert_eq!(
        common::single_value(&conn, "PRAGMA integrity_check").await,
        libsql::Value::Text("ok".into())
    );
}
