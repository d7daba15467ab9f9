//! tower-sessions' behaviour through real HTTP requests on loopback, with this store
//! underneath: what a browser sees (cookies) and what the next request reads.

use std::str::FromStr;
use std::time::Duration;

use time::Duration as CookieAge;
use tower_sessions::session::Id;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_libsqlstore::LibsqlStore;

use crate::common::{per_backend, serve, Backend, Client, Fixture};

per_backend!(
    a_request_that_never_touches_its_session_sets_no_cookie,
    a_value_written_in_one_request_is_read_by_the_next,
    an_unknown_or_malformed_cookie_starts_a_fresh_session,
    removing_the_last_value_leaves_nothing_to_read,
    cycling_the_id_keeps_the_data_and_the_old_id_stops_working,
    flushing_ends_the_session_and_expires_the_cookie,
    the_cookie_lifetime_follows_the_expiry_a_route_sets,
    a_session_expires_by_the_stores_clock,
    the_database_keeps_hashes_never_the_cookie_values,
);

const HOUR: Duration = Duration::from_secs(3600);

/// The app over a fresh database, sessions ending after an hour of inactivity.
async fn started(backend: Backend) -> (Fixture, Client) {
    let fixture = Fixture::new(backend);
    let store = LibsqlStore::new(fixture.store(&[]));
    let layer =
        SessionManagerLayer::new(store).with_expiry(Expiry::OnInactivity(CookieAge::hours(1)));
    let client = serve(layer).await;
    (fixture, client)
}

/// The session cookie's value after one `/count`.
async fn counted_once(client: &Client) -> String {
    let answer = client.get("/count", None).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "1"));
    answer.cookie.expect("a session cookie").value().to_owned()
}

async fn a_request_that_never_touches_its_session_sets_no_cookie(backend: Backend) {
    let (_fixture, client) = started(backend).await;
    let answer = client.get("/", None).await;
    assert_eq!(answer.status, 200);
    assert!(answer.cookie.is_none(), "nothing stored, nothing to name");
    let read = client.get("/read", None).await;
    assert_eq!(read.body, "None");
    assert!(read.cookie.is_none(), "a read of nothing stores nothing");
}

async fn a_value_written_in_one_request_is_read_by_the_next(backend: Backend) {
    let (_fixture, client) = started(backend).await;
    let id = counted_once(&client).await;
    let second = client.get("/count", Some(&id)).await;
    assert_eq!(second.body, "2");
    assert_eq!(client.get("/read", Some(&id)).await.body, "Some(2)");
}

async fn an_unknown_or_malformed_cookie_starts_a_fresh_session(backend: Backend) {
    let (_fixture, client) = started(backend).await;
    for presented in ["AAAAAAAAAAAAAAAAAAAAAA", "not-an-id"] {
        let answer = client.get("/count", Some(presented)).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, "1"), "{presented}");
        let fresh = answer.cookie.expect("a new session cookie");
        assert_ne!(fresh.value(), presented, "the presented id is never adopted");
        assert_eq!(client.get("/read", Some(fresh.value())).await.body, "Some(1)");
    }
}

async fn removing_the_last_value_leaves_nothing_to_read(backend: Backend) {
    let (_fixture, client) = started(backend).await;
    let id = counted_once(&client).await;
    assert_eq!(client.get("/forget", Some(&id)).await.status, 200);
    assert_eq!(client.get("/read", Some(&id)).await.body, "None");
}

async fn cycling_the_id_keeps_the_data_and_the_old_id_stops_working(backend: Backend) {
    let (_fixture, client) = started(backend).await;
    let old = counted_once(&client).await;
    let cycled = client.get("/cycle", Some(&old)).await;
    let new = cycled.cookie.expect("the new id's cookie").value().to_owned();
    assert_ne!(new, old);
    assert_eq!(client.get("/read", Some(&new)).await.body, "Some(1)");
    assert_eq!(client.get("/read", Some(&old)).await.body, "None", "the old id is gone");
}

async fn flushing_ends_the_session_and_expires_the_cookie(backend: Backend) {
    let (_fixture, client) = started(backend).await;
    let id = counted_once(&client).await;
    let flushed = client.get("/flush", Some(&id)).await;
    let cookie = flushed.cookie.expect("a removal cookie");
    assert_eq!(cookie.value(), "");
    assert_eq!(cookie.max_age(), Some(CookieAge::ZERO));
    assert_eq!(client.get("/read", Some(&id)).await.body, "None");
}

async fn the_cookie_lifetime_follows_the_expiry_a_route_sets(backend: Backend) {
    let (fixture, client) = started(backend).await;
    let first = client.get("/count", None).await.cookie.expect("cookie");
    let age = first.max_age().expect("a max-age");
    assert!(age <= CookieAge::hours(1) && age > CookieAge::minutes(59), "{age:?}");
    let longer = client.get("/keep-a-day", Some(first.value())).await.cookie.expect("cookie");
    let age = longer.max_age().expect("a max-age");
    assert!(age <= CookieAge::days(1) && age > CookieAge::hours(23), "{age:?}");
    fixture.clock.advance(2 * HOUR);
    let read = client.get("/read", Some(first.value())).await;
    assert_eq!(read.body, "Some(1)", "the store keeps it for the day too");
}

async fn a_session_expires_by_the_stores_clock(backend: Backend) {
    let (fixture, client) = started(backend).await;
    let id = counted_once(&client).await;
    fixture.clock.advance(HOUR - Duration::from_secs(60));
    assert_eq!(client.get("/count", Some(&id)).await.body, "2", "still active; renewed");
    fixture.clock.advance(HOUR + Duration::from_secs(60));
    assert_eq!(client.get("/read", Some(&id)).await.body, "None", "expired an hour after use");
    let again = client.get("/count", Some(&id)).await;
    assert_eq!(again.body, "1", "a fresh session");
    assert_ne!(again.cookie.expect("a new cookie").value(), id);
}

async fn the_database_keeps_hashes_never_the_cookie_values(backend: Backend) {
    let (fixture, client) = started(backend).await;
    let ids = [counted_once(&client).await, counted_once(&client).await];
    let stored = fixture.stored_bytes();
    assert!(!stored.is_empty(), "the database is under the fixture's directory");
    let holds = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
    for id in ids {
        assert!(!holds(id.as_bytes()), "{id} stored as the cookie carries it");
        let raw = Id::from_str(&id).expect("a tower-sessions id").0;
        assert!(!holds(&raw.to_le_bytes()) && !holds(&raw.to_be_bytes()), "{id} stored as bytes");
    }
}
