//! Deadlines the store keeps, as a host built for 0.2 meets them: whatever expiry it asks
//! for, no write moves a session past the absolute deadline a 0.3 host gave it.

use libsqlstore_host::HostClock;

use crate::common;
use crate::conformance::{conformance, open, Backend, Fixture};

const HOUR: u64 = 3_600_000;

conformance!(a_0_2_touch_update_or_commit_never_moves_a_session_past_its_absolute_deadline);

/// The database under `fixture`, reached as an operator would: the file natively, or the
/// server over its HTTP API.
async fn connection(fixture: &Fixture) -> libsql::Connection {
    match &fixture.sqld {
        Some(sqld) => common::sqld_client(sqld).await,
        None => common::native(&fixture.dir.path().join("sessions.db")).await,
    }
}

async fn expiry(conn: &libsql::Connection) -> libsql::Value {
    common::single_value(conn, "SELECT expiry FROM sessions").await
}

async fn a_0_2_touch_update_or_commit_never_moves_a_session_past_its_absolute_deadline(
    backend: Backend,
) {
    let fixture = Fixture::new(backend);
    let options = fixture.options();
    let clock: HostClock = options.clock.clone();
    let store = open(options);
    let now = clock.now_ms();
    store.commit("tok", b"first".to_vec(), now + HOUR).await.expect("commit");
    // The absolute deadline a 0.3 host gives the session, in the columns it keeps it in.
    let absolute = now + 2 * HOUR;
    let conn = connection(&fixture).await;
    conn.execute(&format!("UPDATE sessions SET absolute = {absolute}"), ())
        .await
        .expect("set the absolute deadline");
    let capped = libsql::Value::Integer(i64::try_from(absolute).expect("a timestamp"));
    let far = now + 10 * HOUR;

    assert!(store.touch("tok", far).await.expect("touch"), "active");
    assert_eq!(expiry(&conn).await, capped, "touch");
    assert!(store.update("tok", b"second".to_vec(), far).await.expect("update"), "active");
    assert_eq!(expiry(&conn).await, capped, "update");
    store.commit("tok", b"third".to_vec(), far).await.expect("commit");
    assert_eq!(expiry(&conn).await, capped, "commit over the active session");
    assert_eq!(store.find("tok").await.expect("find"), Some(b"third".to_vec()));

    clock.advance(std::time::Duration::from_millis(2 * HOUR));
    assert_eq!(store.find("tok").await.expect("find"), None, "ended at its absolute deadline");
    assert!(!store.touch("tok", far + HOUR).await.expect("touch"), "not revived");
}
