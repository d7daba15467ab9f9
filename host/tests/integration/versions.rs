//! The 0.3 calls through the library, on a file and on a real `sqld`: conditional updates
//! (applied only at the version read; nothing resurrected after a delete or a rotation),
//! both deadlines enforced by the store, and labels refused with nothing stored.

use std::time::Duration;

use libsqlstore_host::{Deadlines, StoreError};

use crate::conformance::{conformance, open, Backend, Fixture};

const MINUTE: u64 = 60_000;

conformance!(
    a_conditional_update_applies_only_at_the_version_it_read,
    a_conditional_update_after_a_delete_or_a_rotation_resurrects_nothing,
    reads_slide_the_idle_timeout_but_never_past_the_absolute_deadline,
    a_label_over_the_limit_or_with_control_characters_is_refused_and_nothing_stored,
);

async fn a_conditional_update_applies_only_at_the_version_it_read(backend: Backend) {
    let fixture = Fixture::new(backend);
    let options = fixture.options();
    let now = options.clock.now_ms();
    let store = open(options);
    let deadlines = Deadlines { absolute: now + 60 * MINUTE, idle: None };
    let token =
        store.create_with(b"first".to_vec(), deadlines, Some("curl")).await.expect("create");
    let read = store.load(&token).await.expect("load").expect("active");
    assert!(store.update_if(&token, b"second".to_vec(), read.version).await.expect("update"));
    assert!(
        !store.update_if(&token, b"stale".to_vec(), read.version).await.expect("update"),
        "a write came first: the version moved on"
    );
    let now_stored = store.load(&token).await.expect("load").expect("active");
    assert_eq!(now_stored.data, b"second");
    assert_ne!(now_stored.version, read.version);
    assert_eq!(now_stored.label.as_deref(), Some("curl"));
}

async fn a_conditional_update_after_a_delete_or_a_rotation_resurrects_nothing(backend: Backend) {
    let fixture = Fixture::new(backend);
    let options = fixture.options();
    let now = options.clock.now_ms();
    let store = open(options);
    let deadlines = Deadlines { absolute: now + 60 * MINUTE, idle: Some(10 * MINUTE) };
    let ended = store.create_with(b"a".to_vec(), deadlines, None).await.expect("create");
    let read = store.load(&ended).await.expect("load").expect("active");
    store.delete(&ended).await.expect("delete");
    assert!(!store.update_if(&ended, b"late".to_vec(), read.version).await.expect("update"));
    assert_eq!(store.load(&ended).await.expect("load"), None, "logout stays final");

    let old = store.create_with(b"b".to_vec(), deadlines, None).await.expect("create");
    let read = store.load(&old).await.expect("load").expect("active");
    let new = store.rotate_with(&old, deadlines).await.expect("rotate").expect("rotated");
    assert!(!store.update_if(&old, b"late".to_vec(), read.version).await.expect("update"));
    assert_eq!(store.load(&old).await.expect("load"), None, "the old token stays dead");
    let moved = store.load(&new).await.expect("load").expect("active");
    assert_eq!(moved.data, b"b", "the late save reached neither token");
    assert_eq!(store.stats().await.expect("stats").active, 1);
}

async fn reads_slide_the_idle_timeout_but_never_past_the_absolute_deadline(backend: Backend) {
    let fixture = Fixture::new(backend);
    let options = fixture.options().env("SESSIONS_LAST_SEEN_INTERVAL", "0");
    let clock = options.clock.clone();
    let now = clock.now_ms();
    let store = open(options);
    let absolute = now + 60 * MINUTE;
    let deadlines = Deadlines { absolute, idle: Some(10 * MINUTE) };
    let token = store.create_with(b"x".to_vec(), deadlines, None).await.expect("create");
    for _ in 0..6 {
        clock.advance(Duration::from_millis(9 * MINUTE));
        let read = store.load(&token).await.expect("load").expect("kept alive by each read");
        assert!(read.expiry <= absolute, "expiry {} past the deadline", read.expiry);
    }
    clock.advance(Duration::from_millis(7 * MINUTE));
    assert_eq!(store.load(&token).await.expect("load"), None, "ended at its absolute deadline");

    let idle =
        store.create_with(b"y".to_vec(), deadlines_from(&clock), None).await.expect("create");
    clock.advance(Duration::from_millis(11 * MINUTE));
    assert_eq!(store.load(&idle).await.expect("load"), None, "ended after 10 idle minutes");
}

fn deadlines_from(clock: &libsqlstore_host::HostClock) -> Deadlines {
    Deadlines { absolute: clock.now_ms() + 60 * MINUTE, idle: Some(10 * MINUTE) }
}

async fn a_label_over_the_limit_or_with_control_characters_is_refused_and_nothing_stored(
    backend: Backend,
) {
    let fixture = Fixture::new(backend);
    let options = fixture.options();
    let deadlines = Deadlines { absolute: options.clock.now_ms() + 60 * MINUTE, idle: None };
    let store = open(options);
    let long = "x".repeat(129);
    for label in [long.as_str(), "Firefox\non Linux", "\u{1b}[31m"] {
        let created = store.create_with(b"x".to_vec(), deadlines, Some(label)).await;
        assert!(matches!(created, Err(StoreError::InvalidInput(_))), "{label:?}: {created:?}");
    }
    assert_eq!(store.stats().await.expect("stats").active, 0, "nothing stored");
    let token = store.create_with(b"x".to_vec(), deadlines, Some("curl")).await.expect("create");
    let refused = store.set_label(&token, Some(&long)).await;
    assert!(matches!(refused, Err(StoreError::InvalidInput(_))), "{refused:?}");
    let kept = store.load(&token).await.expect("load").expect("active");
    assert_eq!(kept.label.as_deref(), Some("curl"), "the label is unchanged");
}

/// On a libSQL server, a read within the last-seen interval is a read only: it answers while
/// another client holds the server's write lock. The first read after the interval records
/// when the session was last seen.
#[tokio::test]
async fn reads_within_the_last_seen_interval_on_a_server_wait_for_no_writer() {
    let fixture = Fixture::new(Backend::Sqld);
    let options = fixture.options();
    let clock = options.clock.clone();
    let store = open(options);
    let deadlines = Deadlines { absolute: clock.now_ms() + 60 * MINUTE, idle: None };
    let token = store.create_with(b"x".to_vec(), deadlines, None).await.expect("create");
    let created = store.load(&token).await.expect("load").expect("active");

    let sqld = fixture.sqld.as_ref().expect("a server");
    let writer = crate::common::sqld_client(sqld).await;
    writer.execute("BEGIN IMMEDIATE", ()).await.expect("take the write lock");
    writer.execute("DELETE FROM sessions WHERE 0", ()).await.expect("write in the transaction");
    clock.advance(Duration::from_secs(30));
    let read = tokio::time::timeout(Duration::from_secs(2), store.load(&token))
        .await
        .expect("the read waited for the writer")
        .expect("load")
        .expect("active");
    assert_eq!(read.last_seen, created.last_seen, "within the interval: nothing recorded");
    writer.execute("COMMIT", ()).await.expect("commit");

    clock.advance(Duration::from_secs(31));
    let after_interval = clock.now_ms();
    let later = store.load(&token).await.expect("load").expect("active");
    assert!(
        later.last_seen.is_some_and(|seen| seen >= after_interval),
        "the first read after the interval is recorded: {:?}",
        later.last_seen
    );
}
