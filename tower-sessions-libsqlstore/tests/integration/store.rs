//! The `SessionStore` and `ExpiredDeletion` calls themselves: what tower-sessions leaves to
//! the store (collisions, saves racing deletes, error kinds, sweeps), and owners.

use std::time::Duration;

use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, ExpiredDeletion};
use tower_sessions::SessionStore;
use tower_sessions_libsqlstore::LibsqlStore;

use crate::common::{per_backend, Backend, Fixture};

per_backend!(
    create_draws_another_id_rather_than_overwrite_a_stored_session,
    save_never_brings_back_a_deleted_or_expired_session,
    delete_expired_sweeps_in_bounded_batches_until_none_is_left,
    undecodable_data_is_a_decode_error_and_a_failing_store_a_backend_error,
    owners_reach_the_sessions_tower_sessions_made,
);

const HOUR: Duration = Duration::from_secs(3600);

/// A record of `n` expiring in `lifetime`, under a random id.
fn record(n: u64, lifetime: time::Duration) -> Record {
    let mut data = std::collections::HashMap::new();
    data.insert("n".to_owned(), n.into());
    Record { id: Id::default(), data, expiry_date: OffsetDateTime::now_utc() + lifetime }
}

async fn n_of(store: &LibsqlStore, id: &Id) -> Option<u64> {
    let record = store.load(id).await.expect("load")?;
    assert_eq!(record.id, *id, "a loaded record carries the id it was found under");
    record.data.get("n").and_then(|v| v.as_u64())
}

async fn create_draws_another_id_rather_than_overwrite_a_stored_session(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = LibsqlStore::new(fixture.store(&[]));
    let mut first = record(1, time::Duration::hours(1));
    store.create(&mut first).await.expect("create");
    let mut colliding = Record { id: first.id, ..record(2, time::Duration::hours(1)) };
    store.create(&mut colliding).await.expect("create on a taken id");
    assert_ne!(colliding.id, first.id, "the record was given a fresh id");
    assert_eq!(n_of(&store, &first.id).await, Some(1), "the first session is untouched");
    assert_eq!(n_of(&store, &colliding.id).await, Some(2));

    let mut short = record(3, time::Duration::minutes(1));
    store.create(&mut short).await.expect("create");
    fixture.clock.advance(Duration::from_secs(120));
    assert_eq!(n_of(&store, &short.id).await, None, "expired");
    let mut over_expired = Record { id: short.id, ..record(4, time::Duration::hours(1)) };
    store.create(&mut over_expired).await.expect("create on an expired, unswept id");
    assert_ne!(over_expired.id, short.id, "a stale cookie never opens the new session");
    assert_eq!(n_of(&store, &short.id).await, None);
}

async fn save_never_brings_back_a_deleted_or_expired_session(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = LibsqlStore::new(fixture.store(&[]));
    let mut live = record(1, time::Duration::hours(2));
    store.create(&mut live).await.expect("create");
    live.data.insert("n".to_owned(), 5.into());
    store.save(&live).await.expect("save");
    assert_eq!(n_of(&store, &live.id).await, Some(5), "a save replaces an active session");

    store.delete(&live.id).await.expect("delete (logout)");
    store.save(&live).await.expect("a save that lost the race");
    assert_eq!(n_of(&store, &live.id).await, None, "logged out stays logged out");

    let mut ending = record(1, time::Duration::hours(1));
    store.create(&mut ending).await.expect("create");
    fixture.clock.advance(2 * HOUR);
    store
        .save(&Record {
            expiry_date: OffsetDateTime::now_utc() + time::Duration::days(1),
            ..ending.clone()
        })
        .await
        .expect("save after expiry");
    assert_eq!(n_of(&store, &ending.id).await, None, "an expired session is not revived");
    store.delete(&Id::default()).await.expect("deleting an unknown id is fine");
}

async fn delete_expired_sweeps_in_bounded_batches_until_none_is_left(backend: Backend) {
    let fixture = Fixture::new(backend);
    let sessions = fixture.store(&[("SESSIONS_SWEEP_BATCH", "2")]);
    let store = LibsqlStore::new(sessions.clone());
    for n in 0..7 {
        store.create(&mut record(n, time::Duration::minutes(1))).await.expect("create");
    }
    let mut kept = record(99, time::Duration::hours(2));
    store.create(&mut kept).await.expect("create");
    fixture.clock.advance(HOUR);
    assert_eq!(sessions.stats().await.expect("stats").expired, 7);
    let one = sessions.sweep().await.expect("one sweep");
    assert_eq!((one.removed, one.more), (2, true), "one sweep is bounded by the batch");
    store.delete_expired().await.expect("delete_expired");
    let counts = sessions.stats().await.expect("stats");
    assert_eq!((counts.active, counts.expired), (1, 0), "every expired one, and only those");
    assert_eq!(n_of(&store, &kept.id).await, Some(99));
}

async fn undecodable_data_is_a_decode_error_and_a_failing_store_a_backend_error(backend: Backend) {
    let fixture = Fixture::new(backend);
    let sessions = fixture.store(&[]);
    let store = LibsqlStore::new(sessions.clone());
    let id = Id::default();
    let expiry =
        u64::try_from(OffsetDateTime::now_utc().unix_timestamp() + 3600).expect("after 1970");
    sessions.commit(&id.to_string(), b"not msgpack".to_vec(), expiry * 1000).await.expect("commit");
    assert!(matches!(store.load(&id).await, Err(Error::Decode(_))), "garbage is not a record");

    sessions.close().await;
    let closed = store.load(&Id::default()).await;
    assert!(matches!(&closed, Err(Error::Backend(m)) if m.contains("closed")), "{closed:?}");
    let mut fresh = record(1, time::Duration::hours(1));
    assert!(matches!(store.create(&mut fresh).await, Err(Error::Backend(_))));
    assert!(matches!(store.delete_expired().await, Err(Error::Backend(_))));
}

async fn owners_reach_the_sessions_tower_sessions_made(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = LibsqlStore::new(fixture.store(&[]));
    let owners = store.component_store();
    let mut here = record(1, time::Duration::hours(1));
    let mut phone = record(2, time::Duration::hours(1));
    for session in [&mut here, &mut phone] {
        store.create(session).await.expect("create");
        assert!(owners.set_owner(&session.id.to_string(), Some("ada")).await.expect("owner"));
    }
    assert_eq!(owners.sessions_of("ada").await.expect("sessions_of").len(), 2);
    let here_token = here.id.to_string();
    assert_eq!(owners.revoke_owner("ada", Some(&here_token)).await.expect("revoke"), 1);
    assert_eq!(n_of(&store, &phone.id).await, None, "logged out everywhere else");
    assert_eq!(n_of(&store, &here.id).await, Some(1), "but here");
    store.save(&here).await.expect("save keeps the owner");
    assert_eq!(owners.sessions_of("ada").await.expect("sessions_of").len(), 1);
}
