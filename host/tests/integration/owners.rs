//! The 0.2 calls through the built component (owners, ids, revoke, rotate), on a file and on
//! a real `sqld`; what the store keeps (ids, never tokens); and the upgrade of a database
//! written by the 0.1 component, interrupted or not.

use crate::common;
use crate::conformance;

use std::path::Path;
use std::time::Duration;

use common::sqld::Sqld;
use common::{contains, database_bytes, id_of};
use conformance::{conformance, open, Backend, Fixture};
use libsqlstore_host::{ComponentStore, HostClock, SessionCounts, StoreError, StoreOptions};

const HOUR: u64 = 3_600_000;

/// A store on a fresh database of `backend`, the clock it reads, and the clock's time. Keep
/// the fixture alive as long as the store: it owns the database.
fn opened(backend: Backend) -> (Fixture, ComponentStore, HostClock, u64) {
    let fixture = Fixture::new(backend);
    let options = fixture.options();
    let clock = options.clock.clone();
    let store = open(options);
    let now = clock.now_ms();
    (fixture, store, clock, now)
}

conformance!(
    set_owner_answers_whether_the_session_is_active_and_none_clears_it,
    sessions_of_lists_only_active_sessions_soonest_expiry_first,
    revoke_owner_keeps_this_device_and_never_touches_another_owner,
    revoke_deletes_by_listed_id,
    rotate_moves_data_and_owner_to_a_fresh_token_and_the_old_one_dies,
    rotate_of_an_expired_or_unknown_token_is_none_and_creates_nothing,
    all_and_page_list_sha256_ids_never_tokens,
    malformed_owners_and_ids_are_invalid_input_and_change_nothing,
);

async fn set_owner_answers_whether_the_session_is_active_and_none_clears_it(backend: Backend) {
    let (_fixture, store, clock, now) = opened(backend);
    let token = store.create(b"a".to_vec(), now + HOUR).await.expect("create");
    assert!(store.set_owner(&token, Some("alice")).await.expect("set-owner"));
    assert_eq!(store.sessions_of("alice").await.expect("sessions-of").len(), 1);
    assert!(!store.set_owner("unknown-token", Some("alice")).await.expect("unknown"));
    let short = store.create(b"b".to_vec(), now + 1000).await.expect("create");
    clock.advance(Duration::from_secs(2));
    assert!(
        !store.set_owner(&short, Some("alice")).await.expect("expired"),
        "an expired session gets no owner"
    );
    assert!(store.set_owner(&token, None).await.expect("clear"));
    assert_eq!(store.sessions_of("alice").await.expect("sessions-of"), vec![]);
    assert_eq!(
        store.find(&token).await.expect("find"),
        Some(b"a".to_vec()),
        "clearing the owner keeps the session"
    );
}

async fn sessions_of_lists_only_active_sessions_soonest_expiry_first(backend: Backend) {
    let (_fixture, store, clock, now) = opened(backend);
    let mut owned = Vec::new();
    for offset in [3 * HOUR, HOUR, 2 * HOUR] {
        let token = store.create(b"x".to_vec(), now + offset).await.expect("create");
        assert!(store.set_owner(&token, Some("alice")).await.expect("set-owner"));
        owned.push((token, now + offset));
    }
    let expiring = store.create(b"x".to_vec(), now + 1000).await.expect("create");
    assert!(store.set_owner(&expiring, Some("alice")).await.expect("set-owner"));
    let other = store.create(b"x".to_vec(), now + HOUR).await.expect("create");
    assert!(store.set_owner(&other, Some("bob")).await.expect("set-owner"));
    store.create(b"x".to_vec(), now + HOUR).await.expect("an anonymous session");
    clock.advance(Duration::from_secs(2));
    owned.sort_by_key(|(_, expiry)| *expiry);
    let listed = store.sessions_of("alice").await.expect("sessions-of");
    let expected: Vec<(String, Option<String>, u64)> = owned
        .iter()
        .map(|(token, expiry)| (id_of(token), Some("alice".to_owned()), *expiry))
        .collect();
    let got: Vec<(String, Option<String>, u64)> =
        listed.into_iter().map(|s| (s.id, s.owner, s.expiry)).collect();
    assert_eq!(got, expected, "active only, soonest expiry first, ids not tokens");
    assert_eq!(store.sessions_of("nobody").await.expect("sessions-of"), vec![]);
}

async fn revoke_owner_keeps_this_device_and_never_touches_another_owner(backend: Backend) {
    let fixture = Fixture::new(backend);
    let options = fixture.options();
    let clock = options.clock.clone();
    let store = open(options);
    let expiry = clock.now_ms() + HOUR;
    let owned = |owner: &'static str| {
        let store = store.clone();
        async move {
            let token = store.create(owner.as_bytes().to_vec(), expiry).await.expect("create");
            assert!(store.set_owner(&token, Some(owner)).await.expect("set-owner"));
            token
        }
    };
    let (here, a2, a3, bob) =
        (owned("alice").await, owned("alice").await, owned("alice").await, owned("bob").await);
    assert_eq!(store.revoke_owner("alice", Some(&here)).await.expect("revoke-owner"), 2);
    assert_eq!(
        store.find(&here).await.expect("find"),
        Some(b"alice".to_vec()),
        "this device stays"
    );
    for gone in [&a2, &a3] {
        assert_eq!(store.find(gone).await.expect("find"), None);
    }
    assert_eq!(store.find(&bob).await.expect("find"), Some(b"bob".to_vec()));
    let a4 = owned("alice").await;
    assert_eq!(
        store.revoke_owner("alice", Some(&bob)).await.expect("revoke-owner"),
        0,
        "a keep token of another owner ends nothing of alice's"
    );
    assert_eq!(
        store.revoke_owner("alice", Some(&a2)).await.expect("revoke-owner"),
        0,
        "an ended keep ends nothing"
    );
    assert_eq!(store.revoke_owner("alice", None).await.expect("revoke-owner"), 2);
    assert_eq!(
        (store.find(&here).await.expect("find"), store.find(&a4).await.expect("find")),
        (None, None)
    );
    assert_eq!(
        store.find(&bob).await.expect("find"),
        Some(b"bob".to_vec()),
        "bob's session is untouched"
    );
    assert_eq!(store.sessions_of("bob").await.expect("sessions-of").len(), 1);
    assert_eq!(store.revoke_owner("alice", None).await.expect("nothing left"), 0);
}

async fn revoke_deletes_by_listed_id(backend: Backend) {
    let fixture = Fixture::new(backend);
    let options = fixture.options();
    let clock = options.clock.clone();
    let store = open(options);
    let expiry = clock.now_ms() + HOUR;
    let token = store.create(b"x".to_vec(), expiry).await.expect("create");
    let kept = store.create(b"y".to_vec(), expiry).await.expect("create");
    assert!(store.set_owner(&token, Some("alice")).await.expect("set-owner"));
    let id = store.sessions_of("alice").await.expect("sessions-of").remove(0).id;
    assert!(store.revoke(&id).await.expect("revoke"));
    assert_eq!(store.find(&token).await.expect("find"), None);
    assert!(!store.revoke(&id).await.expect("revoke again"), "already gone");
    let listed = store.all().await.expect("all");
    assert_eq!(listed, vec![(id_of(&kept), b"y".to_vec())]);
    assert!(store.revoke(&listed[0].0).await.expect("revoke an id all() listed"));
    assert_eq!(store.find(&kept).await.expect("find"), None);
    assert!(
        !store.revoke(&kept).await.expect("a token is not an id"),
        "nothing has the token as its id"
    );
}

async fn rotate_moves_data_and_owner_to_a_fresh_token_and_the_old_one_dies(backend: Backend) {
    let (_fixture, store, _clock, now) = opened(backend);
    let old = store.create(b"precious".to_vec(), now + HOUR).await.expect("create");
    assert!(store.set_owner(&old, Some("alice")).await.expect("set-owner"));
    let new = store.rotate(&old, now + 2 * HOUR).await.expect("rotate").expect("a new token");
    assert_eq!(new.len(), 43);
    assert_ne!(new, old);
    assert_eq!(store.find(&old).await.expect("find old"), None, "the old token is gone");
    assert_eq!(store.find(&new).await.expect("find new"), Some(b"precious".to_vec()));
    let listed = store.sessions_of("alice").await.expect("sessions-of");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].id.as_str(), listed[0].expiry),
        (id_of(&new).as_str(), now + 2 * HOUR),
        "the owner moved along"
    );
    assert_eq!(store.stats().await.expect("stats"), SessionCounts { active: 1, expired: 0 });
    assert_eq!(store.rotate(&old, now + HOUR).await.expect("rotate the dead token"), None);
}

async fn rotate_of_an_expired_or_unknown_token_is_none_and_creates_nothing(backend: Backend) {
    let (_fixture, store, clock, now) = opened(backend);
    let expiring = store.create(b"x".to_vec(), now + 1000).await.expect("create");
    clock.advance(Duration::from_secs(2));
    let before = store.stats().await.expect("stats");
    assert_eq!(before, SessionCounts { active: 0, expired: 1 });
    assert_eq!(store.rotate(&expiring, now + HOUR).await.expect("rotate expired"), None);
    assert_eq!(store.rotate("never-issued-token", now + HOUR).await.expect("rotate unknown"), None);
    assert_eq!(store.stats().await.expect("stats"), before, "nothing created or deleted");
    assert_eq!(store.find(&expiring).await.expect("find"), None);
}

async fn all_and_page_list_sha256_ids_never_tokens(backend: Backend) {
    let fixture = Fixture::new(backend);
    let options = fixture.options();
    let clock = options.clock.clone();
    let store = open(options);
    let expiry = clock.now_ms() + HOUR;
    let mut tokens = vec!["committed-token".to_owned()];
    store.commit("committed-token", b"c".to_vec(), expiry).await.expect("commit");
    for i in 0..4 {
        tokens.push(store.create(vec![i], expiry).await.expect("create"));
    }
    let mut ids: Vec<String> = tokens.iter().map(|t| id_of(t)).collect();
    ids.sort();
    let all: Vec<String> = store.all().await.expect("all").into_iter().map(|(id, _)| id).collect();
    assert_eq!(all, ids, "ids, in id order");
    assert!(all.iter().all(|id| id.len() == 43 && !tokens.contains(id)));
    let first = store.page(None, 2).await.expect("page");
    let rest = store.page(Some(&first[1].0), 10).await.expect("page");
    let paged: Vec<String> = first.into_iter().chain(rest).map(|(id, _)| id).collect();
    assert_eq!(paged, ids);
}

async fn malformed_owners_and_ids_are_invalid_input_and_change_nothing(backend: Backend) {
    let fixture = Fixture::new(backend);
    let options = fixture.options();
    let clock = options.clock.clone();
    let store = open(options);
    let token = store.create(b"precious".to_vec(), clock.now_ms() + HOUR).await.expect("create");
    assert!(store.set_owner(&token, Some("alice")).await.expect("set-owner"));
    let at_limit = "o".repeat(256);
    let other = store.create(b"limit".to_vec(), clock.now_ms() + HOUR).await.expect("create");
    assert!(store.set_owner(&other, Some(&at_limit)).await.expect("256 bytes is an owner"));
    let long = "o".repeat(257);
    let bad = ["", long.as_str(), "ali\nce", "ali\0ce"];
    let invalid = |r: &Result<_, StoreError>, what: &str| {
        assert!(matches!(r, Err(StoreError::InvalidInput(_))), "{what}: {:?}", r.as_ref().err());
    };
    for owner in bad {
        invalid(&store.set_owner(&token, Some(owner)).await.map(|_| ()), "set-owner");
        invalid(&store.sessions_of(owner).await.map(|_| ()), "sessions-of");
        invalid(&store.revoke_owner(owner, Some(&token)).await.map(|_| ()), "revoke-owner");
        invalid(&store.revoke_owner(owner, None).await.map(|_| ()), "revoke-owner without keep");
        invalid(&store.revoke(owner).await.map(|_| ()), "revoke");
    }
    assert_eq!(store.find(&token).await.expect("find"), Some(b"precious".to_vec()));
    assert_eq!(store.find(&other).await.expect("find"), Some(b"limit".to_vec()));
    let listed = store.sessions_of("alice").await.expect("sessions-of");
    assert_eq!(
        listed.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        vec![id_of(&token)],
        "the owner is unchanged"
    );
    assert_eq!(store.stats().await.expect("stats"), SessionCounts { active: 2, expired: 0 });
}

/// The fixture's sessions: (token, data); all active until the year 3000.
const FIXTURE_ACTIVE: [(&str, &[u8]); 3] = [
    ("fixture-plain-token-1", b"hello"),
    ("fixture-plain-token-2", b"world"),
    ("wCt7d60kILR_wJ4Yca_HNRJBGjpKC_MzRL9OHZ_sWtE", b"created"),
];
const FIXTURE_EXPIRED: &str = "fixture-expired-token";

fn fixture_db() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sessions-0.1.db")
}

/// Every active session of the 0.1 fixture finds its data by its token, the expired one
/// nothing, and `all()` lists the active ones' ids.
async fn assert_the_fixture_sessions_are_findable(store: &ComponentStore) {
    for (token, data) in FIXTURE_ACTIVE {
        assert_eq!(store.find(token).await.expect("find").as_deref(), Some(data), "{token}");
    }
    assert_eq!(store.find(FIXTURE_EXPIRED).await.expect("find"), None);
    let mut ids: Vec<String> = FIXTURE_ACTIVE.iter().map(|(t, _)| id_of(t)).collect();
    ids.sort();
    let listed: Vec<String> =
        store.all().await.expect("all").into_iter().map(|(id, _)| id).collect();
    assert_eq!(listed, ids);
}

#[tokio::test]
async fn a_file_written_by_the_0_1_component_is_upgraded_and_keeps_no_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("sessions.db");
    std::fs::copy(fixture_db(), &db).expect("copy the fixture");
    let store = open(StoreOptions::in_dir(dir.path()).env("SESSIONS_LOCKING", "shared"));
    assert_the_fixture_sessions_are_findable(&store).await;
    store.close().await;
    let bytes = database_bytes(&db);
    for token in FIXTURE_ACTIVE.iter().map(|(t, _)| *t).chain([FIXTURE_EXPIRED]) {
        assert!(!contains(&bytes, token), "{token} is still in the file's bytes");
    }
    common::assert_intact(&db).await;
}

#[tokio::test]
async fn a_sweep_that_upgrades_a_0_1_table_on_sqld_reports_what_it_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqld = Sqld::start(dir.path(), None).expect("sqld starts (./dev setup installs it)");
    common::sqld_client(&sqld)
        .await
        .execute_batch(
            "CREATE TABLE sessions (token TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL, expiry INTEGER NOT NULL);
             INSERT INTO sessions VALUES ('live-token', CAST('kept' AS BLOB), 32503680000000);
             INSERT INTO sessions VALUES ('expired-token', CAST('gone' AS BLOB), 1);",
        )
        .await
        .expect("write the 0.1 table");
    let store = open(StoreOptions::in_dir(dir.path()).env("SESSIONS_DATABASE", sqld.url()));
    let report = store.sweep().await.expect("the first call upgrades, and sweeps");
    assert_eq!(
        (report.removed, report.more),
        (1, false),
        "the expired session it removed is counted"
    );
    assert_eq!(store.find("live-token").await.expect("find").as_deref(), Some(&b"kept"[..]));
    assert_eq!(store.stats().await.expect("stats"), SessionCounts { active: 1, expired: 0 });
}

#[tokio::test]
async fn a_0_1_table_on_sqld_is_upgraded_and_every_session_stays_findable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqld = Sqld::start(dir.path(), None).expect("sqld starts (./dev setup installs it)");
    // The 0.1 layout, written over sqld's HTTP API.
    let conn = common::sqld_client(&sqld).await;
    let year_3000 = 32_503_680_000_000_i64;
    conn.execute_batch(&format!(
        "CREATE TABLE sessions (token TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL, expiry INTEGER NOT NULL);
         CREATE INDEX sessions_expiry_idx ON sessions(expiry);
         INSERT INTO sessions VALUES ('fixture-plain-token-1', CAST('hello' AS BLOB), {year_3000});
         INSERT INTO sessions VALUES ('fixture-plain-token-2', CAST('world' AS BLOB), {year_3000});
         INSERT INTO sessions VALUES ('wCt7d60kILR_wJ4Yca_HNRJBGjpKC_MzRL9OHZ_sWtE', CAST('created' AS BLOB), {year_3000});
         INSERT INTO sessions VALUES ('fixture-expired-token', CAST('old' AS BLOB), 1);"
    ))
    .await
    .expect("write the 0.1 table");
    let store = open(StoreOptions::in_dir(dir.path()).env("SESSIONS_DATABASE", sqld.url()));
    assert_the_fixture_sessions_are_findable(&store).await;
    let token = FIXTURE_ACTIVE[0].0;
    assert!(store
        .set_owner(token, Some("alice"))
        .await
        .expect("an upgraded session takes an owner"));
    assert_eq!(store.sessions_of("alice").await.expect("sessions-of")[0].id, id_of(token));
    let mut rows = conn
        .query("SELECT count(*) = sum(length(id) = 43) FROM sessions", ())
        .await
        .expect("count ids");
    let row = rows.next().await.expect("row").expect("a row");
    assert_eq!(row.get::<i64>(0).expect("count"), 1, "every row keyed by its id");
}

#[tokio::test]
async fn a_0_2_table_on_sqld_is_upgraded_once_by_two_hosts_starting_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqld = Sqld::start(dir.path(), None).expect("sqld starts (./dev setup installs it)");
    let conn = common::sqld_client(&sqld).await;
    // The 0.2 layout, written over sqld's HTTP API.
    conn.execute_batch(&format!(
        "CREATE TABLE sessions (id TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL, expiry INTEGER NOT NULL, owner TEXT);
         CREATE INDEX sessions_expiry_idx ON sessions(expiry);
         CREATE INDEX sessions_owner_idx ON sessions(owner, expiry) WHERE owner IS NOT NULL;
         INSERT INTO sessions VALUES ('{}', CAST('kept' AS BLOB), 32503680000000, 'ada');",
        id_of("token-of-0.2")
    ))
    .await
    .expect("write the 0.2 table");
    let options = || StoreOptions::in_dir(dir.path()).env("SESSIONS_DATABASE", sqld.url());
    let (first, second) = (open(options()), open(options()));
    let (a, b) = tokio::join!(first.find("token-of-0.2"), second.find("token-of-0.2"));
    for found in [a, b] {
        assert_eq!(found.expect("find").as_deref(), Some(&b"kept"[..]));
    }
    assert_eq!(first.sessions_of("ada").await.expect("sessions-of").len(), 1);
    let upgraded = common::single_value(
        &conn,
        "SELECT count(*) FROM sessions WHERE version = 0 AND idle IS NULL AND last_seen IS NULL",
    )
    .await;
    assert_eq!(upgraded, libsql::Value::Integer(1), "the 0.3 columns, with their defaults");
    let store = open(options());
    store.commit("new", b"x".to_vec(), 32503680000000).await.expect("a write after the upgrade");
    assert_eq!(store.stats().await.expect("stats"), SessionCounts { active: 2, expired: 0 });
}

#[tokio::test]
async fn no_token_created_reaches_the_database_file_or_its_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("sessions.db");
    let mut tokens = Vec::new();
    for locking in ["shared", "exclusive"] {
        let store = open(StoreOptions::in_dir(dir.path()).env("SESSIONS_LOCKING", locking));
        let expiry = HostClock::default().now_ms() + HOUR;
        let mut created = Vec::new();
        for i in 0..20u8 {
            created.push(store.create(vec![i; 64], expiry).await.expect("create"));
        }
        let owner = format!("alice-{locking}");
        for token in &created[..10] {
            assert!(store.set_owner(token, Some(&owner)).await.expect("set-owner"));
        }
        let rotated = store.rotate(&created[0], expiry).await.expect("rotate").expect("rotated");
        store.delete(&created[1]).await.expect("delete");
        store
            .commit(&format!("committed-{locking}-token"), b"c".to_vec(), expiry)
            .await
            .expect("commit");
        assert!(store.update(&created[2], b"updated".to_vec(), expiry).await.expect("update"));
        assert_eq!(store.revoke_owner(&owner, Some(&rotated)).await.expect("revoke-owner"), 8);
        // Read while the store is open (journal or WAL present), then after it closed.
        let open_bytes = database_bytes(&db);
        store.close().await;
        tokens.extend(created);
        tokens.push(rotated);
        tokens.push(format!("committed-{locking}-token"));
        let closed_bytes = database_bytes(&db);
        for token in &tokens {
            assert!(
                !contains(&open_bytes, token) && !contains(&closed_bytes, token),
                "{token} reached the file ({locking})"
            );
        }
    }
    assert!(contains(&database_bytes(&db), &id_of(&tokens[15])), "ids are what the file holds");
}
