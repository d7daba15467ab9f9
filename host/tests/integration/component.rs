//! Black-box tests: the built `libsqlstore.wasm` loaded into wasmtime through the host
//! library, with a host-controlled wall clock. The store suite runs against both
//! backends: a libSQL file in a preopened temp directory, and a real `sqld` on loopback.
//!
//! `./dev test` builds the component and installs sqld first.

use crate::common;
use crate::conformance;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use common::sqld::Sqld;
use libsqlstore::lockfile::{self, LockLine, Mode};
use libsqlstore_host::lockrecovery::OwnerFile;
use libsqlstore_host::{
    ComponentStore, HostClock, Runtime, SessionCounts, StoreError, StoreOptions, SweepReport,
};

use common::runtime;
use conformance::{conformance, open, Backend, Fixture};

fn in_dir(dir: &Path) -> StoreOptions {
    StoreOptions::in_dir(dir)
}

fn now_ms(clock: &HostClock) -> u64 {
    clock.now_ms()
}

const HOUR: u64 = 3_600_000;

conformance!(
    commit_find_delete_round_trip,
    a_fresh_instance_sees_earlier_commits,
    two_live_instances_share_one_database_without_losing_writes,
    the_host_clock_decides_expiry,
    sweeps_are_bounded_and_report_exact_counts,
    create_touch_page_and_all_work,
    insert_under_the_callers_token_never_overwrites_a_stored_session,
    bad_input_gets_typed_errors_and_stored_data_survives,
    a_custom_table_is_created_on_first_use,
    concurrent_writes_go_as_one_group_commit_each_with_its_own_outcome,
);

#[test]
fn the_component_exports_both_store_versions_and_the_sweeper() {
    let exports = runtime().exports();
    assert!(exports.contains(&"edge:sessions/store@0.2.2".to_owned()), "{exports:?}");
    assert!(exports.contains(&"edge:sessions/sweeper@0.2.2".to_owned()), "{exports:?}");
    assert!(exports.contains(&"edge:sessions/store@0.3.0".to_owned()), "{exports:?}");
}

async fn commit_find_delete_round_trip(backend: Backend) {
    let fixture = Fixture::new(backend);
    let options = fixture.options();
    let clock = options.clock.clone();
    let store = open(options);
    store.commit("tok", b"hello".to_vec(), now_ms(&clock) + HOUR).await.expect("commit");
    assert_eq!(store.find("tok").await.expect("find"), Some(b"hello".to_vec()));
    store.delete("tok").await.expect("delete");
    assert_eq!(store.find("tok").await.expect("find"), None);
    store.delete("tok").await.expect("deleting an unknown token succeeds");
}

#[tokio::test]
async fn the_default_database_is_sessions_db_in_the_preopened_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(in_dir(dir.path()));
    store.commit("tok", b"x".to_vec(), u64::MAX).await.expect("commit");
    assert!(dir.path().join("sessions.db").is_file());
}

#[tokio::test]
async fn dead_waiters_places_and_a_killed_writers_staged_line_are_gone_after_the_next_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    open(in_dir(dir.path())).commit("first", b"x".to_vec(), u64::MAX).await.expect("commit");
    let epoch_ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("clock");
    let long_ago = u64::try_from(epoch_ms.as_millis()).expect("ms") - HOUR;
    for i in 0..400 {
        let place = format!("sessions.db-wait.{:020}.dead{i}", long_ago + i);
        std::fs::write(dir.path().join(place), b"").expect("a dead waiter's place");
    }
    let staged = "owner=killed host=- mode=operation acquired_ms=1\n";
    std::fs::write(dir.path().join("sessions.db-lock.killed"), staged).expect("staged line");
    let next = open(in_dir(dir.path()));
    next.commit("tok", b"y".to_vec(), u64::MAX).await.expect("the next writer");
    let litter: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.expect("entry").file_name().into_string().ok())
        .filter(|name| name.contains("-wait.") || name.starts_with("sessions.db-lock."))
        .collect();
    assert!(litter.is_empty(), "{} left, e.g. {:?}", litter.len(), litter.first());
    assert_eq!(next.find("first").await.expect("find"), Some(b"x".to_vec()));
}

async fn a_fresh_instance_sees_earlier_commits(backend: Backend) {
    let fixture = Fixture::new(backend);
    let clock = HostClock::default();
    let first = open(fixture.options());
    first.commit("tok", b"kept".to_vec(), now_ms(&clock) + HOUR).await.expect("commit");
    first.close().await;
    let second = open(fixture.options());
    assert_eq!(second.find("tok").await.expect("find"), Some(b"kept".to_vec()));
}

async fn two_live_instances_share_one_database_without_losing_writes(backend: Backend) {
    let fixture = Fixture::new(backend);
    let clock = HostClock::default();
    let (a, b) = (open(fixture.options()), open(fixture.options()));
    let expiry = now_ms(&clock) + HOUR;
    let writes_a = async {
        for i in 0..50 {
            a.commit(&format!("a{i}"), vec![1; 100], expiry).await.expect("commit a");
        }
    };
    let writes_b = async {
        for i in 0..50 {
            b.commit(&format!("b{i}"), vec![2; 100], expiry).await.expect("commit b");
        }
    };
    tokio::join!(writes_a, writes_b);
    assert_eq!(a.stats().await.expect("stats"), SessionCounts { active: 100, expired: 0 });
    assert_eq!(b.find("a49").await.expect("find"), Some(vec![1; 100]));
}

async fn the_host_clock_decides_expiry(backend: Backend) {
    let fixture = Fixture::new(backend);
    let options = fixture.options();
    let clock = options.clock.clone();
    let store = open(options);
    store.commit("tok", b"x".to_vec(), now_ms(&clock) + 60_000).await.expect("commit");
    clock.advance(Duration::from_secs(59));
    assert!(store.find("tok").await.expect("find").is_some());
    clock.advance(Duration::from_secs(1));
    assert_eq!(store.find("tok").await.expect("find"), None);
    assert_eq!(store.stats().await.expect("stats"), SessionCounts { active: 0, expired: 1 });
}

async fn sweeps_are_bounded_and_report_exact_counts(backend: Backend) {
    let fixture = Fixture::new(backend);
    let options = fixture.options().env("SESSIONS_SWEEP_BATCH", "4");
    let clock = options.clock.clone();
    let store = open(options);
    let soon = now_ms(&clock) + 1000;
    for i in 0..10 {
        store.commit(&format!("old{i}"), b"x".to_vec(), soon).await.expect("commit");
    }
    store.commit("live", b"x".to_vec(), soon + HOUR).await.expect("commit");
    clock.advance(Duration::from_secs(2));
    let mut reports = Vec::new();
    loop {
        let report = store.sweep().await.expect("sweep");
        reports.push(report);
        if !report.more {
            break;
        }
    }
    assert_eq!(
        reports,
        [
            SweepReport { removed: 4, more: true },
            SweepReport { removed: 4, more: true },
            SweepReport { removed: 2, more: false }
        ]
    );
    assert_eq!(store.stats().await.expect("stats"), SessionCounts { active: 1, expired: 0 });
}

async fn create_touch_page_and_all_work(backend: Backend) {
    let fixture = Fixture::new(backend);
    let options = fixture.options();
    let clock = options.clock.clone();
    let store = open(options);
    let token = store.create(b"new".to_vec(), now_ms(&clock) + 1000).await.expect("create");
    assert_eq!(token.len(), 43);
    assert!(store.touch(&token, now_ms(&clock) + HOUR).await.expect("touch"));
    clock.advance(Duration::from_secs(10));
    assert_eq!(store.find(&token).await.expect("find"), Some(b"new".to_vec()));
    assert!(!store.touch("unknown", now_ms(&clock) + HOUR).await.expect("touch unknown"));
    for t in ["m1", "m2", "m3"] {
        store.commit(t, t.as_bytes().to_vec(), now_ms(&clock) + HOUR).await.expect("commit");
    }
    assert_eq!(store.all().await.expect("all").len(), 4);
    let first = store.page(None, 2).await.expect("page");
    let rest = store.page(Some(&first[1].0), 10).await.expect("page");
    assert_eq!(first.len() + rest.len(), 4);
    assert!(store.page(None, 0).await.expect("limit 0").is_empty());
    assert_eq!(store.page(Some("zzzz-unknown"), 10).await.expect("unknown after"), vec![]);
}

async fn insert_under_the_callers_token_never_overwrites_a_stored_session(backend: Backend) {
    let fixture = Fixture::new(backend);
    let options = fixture.options();
    let clock = options.clock.clone();
    let store = open(options);
    assert!(store.insert("mine", b"first".to_vec(), now_ms(&clock) + HOUR).await.expect("insert"));
    assert!(!store.insert("mine", b"second".to_vec(), now_ms(&clock) + HOUR).await.expect("again"));
    assert_eq!(store.find("mine").await.expect("find"), Some(b"first".to_vec()));
    store.commit("stale", b"old".to_vec(), now_ms(&clock) + 1000).await.expect("commit");
    clock.advance(Duration::from_secs(2));
    let refused = store.insert("stale", b"new".to_vec(), now_ms(&clock) + HOUR);
    assert!(!refused.await.expect("insert over an expired row"), "an unswept id is not reused");
    assert_eq!(store.sweep().await.expect("sweep").removed, 1);
    assert!(store.insert("stale", b"new".to_vec(), now_ms(&clock) + HOUR).await.expect("swept"));
    assert_eq!(store.find("stale").await.expect("find"), Some(b"new".to_vec()));
    let bad = store.insert("", b"x".to_vec(), now_ms(&clock) + HOUR).await;
    assert!(matches!(bad, Err(StoreError::InvalidToken(_))), "{bad:?}");
}

async fn bad_input_gets_typed_errors_and_stored_data_survives(backend: Backend) {
    let fixture = Fixture::new(backend);
    let options = fixture.options().env("SESSIONS_MAX_DATA_BYTES", "1000");
    let clock = options.clock.clone();
    let store = open(options);
    let expiry = now_ms(&clock) + HOUR;
    store.commit("keep", b"precious".to_vec(), expiry).await.expect("commit");
    for bad in ["", "has space", "tab\t", &"x".repeat(300)] {
        assert!(matches!(store.find(bad).await, Err(StoreError::InvalidToken(_))), "{bad:?}");
        assert!(matches!(
            store.commit(bad, vec![], expiry).await,
            Err(StoreError::InvalidToken(_))
        ));
    }
    assert_eq!(store.commit("keep", vec![0; 1001], expiry).await, Err(StoreError::TooLarge(1000)));
    assert_eq!(store.create(vec![0; 1001], expiry).await, Err(StoreError::TooLarge(1000)));
    store.commit("zero", b"x".to_vec(), 0).await.expect("expiry 0");
    store.commit("past", b"x".to_vec(), now_ms(&clock) - 1).await.expect("past expiry");
    assert_eq!(store.find("zero").await.expect("find"), None);
    assert_eq!(store.find("past").await.expect("find"), None);
    store.commit("max", b"x".to_vec(), u64::MAX).await.expect("max expiry");
    clock.advance(Duration::from_secs(100 * 365 * 24 * 3600));
    assert_eq!(
        store.find("max").await.expect("find"),
        Some(b"x".to_vec()),
        "u64::MAX never expires"
    );
    assert_eq!(store.find("keep").await.expect("find"), None, "100 years later");
}

/// A write through the store, as a task of its own, and what it answered.
#[derive(Debug, PartialEq)]
enum Answer {
    Committed(Result<(), StoreError>),
    Updated(Result<bool, StoreError>),
}

async fn concurrent_writes_go_as_one_group_commit_each_with_its_own_outcome(backend: Backend) {
    let fixture = Fixture::new(backend);
    let options = fixture.options().env("SESSIONS_MAX_DATA_BYTES", "64");
    let clock = options.clock.clone();
    let store = open(options);
    let expiry = now_ms(&clock) + HOUR;
    store.commit("live", b"v0".to_vec(), expiry).await.expect("commit");
    let requests_before = store.http_requests();
    // Every task queues its write before the first batch leaves (one test thread).
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64usize {
        let store = store.clone();
        tasks.spawn(async move {
            let answer = match i {
                60 => Answer::Updated(store.update("live", b"v1".to_vec(), expiry).await),
                61 => Answer::Updated(store.update("nobody", b"x".to_vec(), expiry).await),
                62 => Answer::Committed(store.commit("bad token", b"x".to_vec(), expiry).await),
                63 => Answer::Committed(store.commit("big", vec![0; 65], expiry).await),
                _ => Answer::Committed(
                    store.commit(&format!("tok{i}"), format!("data{i}").into_bytes(), expiry).await,
                ),
            };
            (i, answer)
        });
    }
    let mut answers = tasks.join_all().await;
    answers.sort_by_key(|(i, _)| *i);
    for (i, answer) in &answers[..60] {
        assert_eq!(answer, &Answer::Committed(Ok(())), "write {i}");
    }
    assert_eq!(answers[60].1, Answer::Updated(Ok(true)));
    assert_eq!(answers[61].1, Answer::Updated(Ok(false)), "update never creates");
    assert!(
        matches!(answers[62].1, Answer::Committed(Err(StoreError::InvalidToken(_)))),
        "{:?}",
        answers[62]
    );
    assert_eq!(
        answers[63].1,
        Answer::Committed(Err(StoreError::TooLarge(64))),
        "a refused write fails alone"
    );
    if backend == Backend::Sqld {
        assert_eq!(store.http_requests() - requests_before, 1, "64 writes, one round trip");
    }
    let reopened = open(fixture.options());
    for i in 0..60 {
        assert_eq!(
            reopened.find(&format!("tok{i}")).await.expect("find"),
            Some(format!("data{i}").into_bytes())
        );
    }
    assert_eq!(reopened.find("live").await.expect("find"), Some(b"v1".to_vec()));
    assert_eq!(reopened.find("nobody").await.expect("find"), None);
    assert_eq!(reopened.find("big").await.expect("find"), None);
    assert_eq!(reopened.stats().await.expect("stats"), SessionCounts { active: 61, expired: 0 });
    // Alone, a write goes at once, as a batch of one.
    let before = store.http_requests();
    assert_eq!(store.touch("live", expiry + 1).await, Ok(true));
    if backend == Backend::Sqld {
        assert_eq!(store.http_requests() - before, 1);
    }
}

#[tokio::test]
async fn malformed_settings_fail_every_call_with_invalid_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, value) in [
        ("SESSIONS_CLEANUP_INTERVAL", "every now and then"),
        ("SESSIONS_SWEEP_BATCH", "0"),
        ("SESSIONS_MAX_DATA_BYTES", "lots"),
        ("SESSIONS_TABLE", "x; DROP TABLE y"),
        ("SESSIONS_DATABASE", "ftp://127.0.0.1:8080"),
        ("SESSIONS_AUTH_TOKEN", "has spaces"),
        ("SESSIONS_REMOTE_TIMEOUT", "never"),
    ] {
        let store = open(in_dir(dir.path()).env(name, value));
        match store.find("tok").await {
            Err(StoreError::InvalidConfig(msg)) => assert!(msg.contains(name), "{msg}"),
            other => panic!("{name}={value}: expected InvalidConfig, got {other:?}"),
        }
        assert!(matches!(store.sweep().await, Err(StoreError::InvalidConfig(_))));
        assert!(matches!(store.stats().await, Err(StoreError::InvalidConfig(_))));
    }
    let store = open(in_dir(dir.path()).env("SESSIONS_CLEANUP_INTERVAL", "soon"));
    assert_eq!(store.cleanup_interval().await.expect("no trap"), None);
}

#[tokio::test]
async fn cleanup_interval_follows_the_setting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let default = open(in_dir(dir.path()));
    assert_eq!(default.cleanup_interval().await.expect("call"), Some(Duration::from_secs(300)));
    let off = open(in_dir(dir.path()).env("SESSIONS_CLEANUP_INTERVAL", "0"));
    assert_eq!(off.cleanup_interval().await.expect("call"), None);
    let custom = open(in_dir(dir.path()).env("SESSIONS_CLEANUP_INTERVAL", "30s"));
    assert_eq!(custom.cleanup_interval().await.expect("call"), Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn a_database_outside_any_preopen_is_unavailable_with_a_hint() {
    let store = open(StoreOptions { data_dir: None, ..StoreOptions::default() });
    match store.find("tok").await {
        Err(StoreError::Unavailable(msg)) => assert!(msg.contains("preopen"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let memory = open(
        StoreOptions { data_dir: None, ..StoreOptions::default() }
            .env("SESSIONS_DATABASE", ":memory:"),
    );
    memory.commit("tok", b"x".to_vec(), u64::MAX).await.expect(":memory: needs no preopen");
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_unavailable_and_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = b"definitely not SQLite ".repeat(200);
    std::fs::write(dir.path().join("sessions.db"), &garbage).expect("write");
    let store = open(in_dir(dir.path()));
    assert!(matches!(store.find("tok").await, Err(StoreError::Unavailable(_))));
    assert!(matches!(
        store.commit("tok", vec![1], u64::MAX).await,
        Err(StoreError::Unavailable(_))
    ));
    assert_eq!(std::fs::read(dir.path().join("sessions.db")).expect("read"), garbage);
}

#[tokio::test]
async fn a_live_lock_is_never_broken_however_old_and_calls_recover_when_it_is_released() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(in_dir(dir.path()).env("SESSIONS_BUSY_TIMEOUT", "200ms"));
    store.commit("tok", b"x".to_vec(), u64::MAX).await.expect("commit");
    // A writer of another process, paused (SIGSTOP, a VM stall) for a year: its owner file is
    // still flocked, so its lock must stand.
    let paused = OwnerFile::create(&dir.path().join("sessions.db")).expect("owner file");
    let lock = dir.path().join("sessions.db-lock");
    let line = LockLine {
        owner: "paused".into(),
        host: Some(paused.tag().into()),
        mode: Mode::Operation,
        acquired_ms: 1,
    }
    .render();
    std::fs::write(&lock, &line).expect("hold the lock");
    let year_ago = SystemTime::now() - Duration::from_secs(365 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&lock)
        .and_then(|f| f.set_modified(year_ago))
        .expect("age it");
    for _ in 0..2 {
        match store.commit("tok", b"y".to_vec(), u64::MAX).await {
            Err(StoreError::Unavailable(msg)) => {
                assert!(msg.contains("locked by another instance"), "{msg}")
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    assert_eq!(
        std::fs::read_to_string(&lock).expect("lock"),
        line,
        "the paused writer still holds it"
    );
    std::fs::remove_file(&lock).expect("the writer resumes and releases");
    assert_eq!(store.find("tok").await.expect("find"), Some(b"x".to_vec()));
}

#[tokio::test]
async fn an_exclusive_instance_keeps_the_file_until_its_host_closes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let owner = open(in_dir(dir.path()).env("SESSIONS_LOCKING", "exclusive"));
    owner.commit("tok", b"kept".to_vec(), u64::MAX).await.expect("commit");
    assert!(
        dir.path().join("sessions.db-wal").exists(),
        "exclusive locking runs SQLite in WAL mode"
    );
    let other = open(in_dir(dir.path()).env("SESSIONS_BUSY_TIMEOUT", "100ms"));
    for _ in 0..2 {
        match other.find("tok").await {
            Err(StoreError::Unavailable(msg)) => assert!(msg.contains("held exclusively"), "{msg}"),
            result => panic!("expected Unavailable, got {result:?}"),
        }
    }
    assert_eq!(owner.find("tok").await.expect("owner still works"), Some(b"kept".to_vec()));
    // The guest never runs a destructor when its instance is dropped: the host removes the lock.
    owner.close().await;
    assert!(!dir.path().join("sessions.db-lock").exists(), "closing the store released the lock");
    assert_eq!(
        other.find("tok").await.expect("a shared opener reads the WAL file"),
        Some(b"kept".to_vec())
    );
    other.commit("tok2", b"shared".to_vec(), u64::MAX).await.expect("commit");
    other.close().await;
    let again = open(in_dir(dir.path()).env("SESSIONS_LOCKING", "exclusive"));
    assert_eq!(again.find("tok2").await.expect("find"), Some(b"shared".to_vec()));
}

#[tokio::test]
async fn a_lock_left_by_a_process_that_exited_is_recovered_at_once_by_a_restarted_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = open(in_dir(dir.path()));
    before.commit("tok", b"x".to_vec(), u64::MAX).await.expect("commit");
    before.close().await;
    // What a killed process leaves: its lock, and its owner file that nobody flocks any more.
    let dead = lockfile::owner_file_name("sessions.db", "dead01");
    std::fs::write(dir.path().join(&dead), "").expect("owner file");
    let host = Some(format!("{}{dead}", lockfile::OWNER_TAG_PREFIX));
    let line = LockLine { owner: "killed".into(), host, mode: Mode::Operation, acquired_ms: 1 };
    std::fs::write(dir.path().join("sessions.db-lock"), line.render()).expect("lock");
    let restarted = open(in_dir(dir.path()).env("SESSIONS_BUSY_TIMEOUT", "10s"));
    let started = Instant::now();
    assert_eq!(restarted.find("tok").await.expect("find"), Some(b"x".to_vec()));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "recovered without waiting: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_host_reads_the_lock_line_the_component_wrote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let owner = open(in_dir(dir.path()).env("SESSIONS_LOCKING", "exclusive"));
    owner.commit("tok", b"x".to_vec(), u64::MAX).await.expect("commit");
    let text =
        std::fs::read_to_string(dir.path().join("sessions.db-lock")).expect("the instance's lock");
    let line = LockLine::parse(&text).expect("the host parses the line the component wrote");
    assert_eq!(line.owner.len(), 43, "{text}");
    assert_eq!(line.mode, Mode::Exclusive, "{text}");
    let tag = line.host.as_deref().expect("a liveness tag");
    let owner_file =
        lockfile::owner_file_of("sessions.db", tag).expect("a tag naming an owner file");
    assert!(dir.path().join(owner_file).exists(), "{text} names this store's owner file");
    // The host's recovery reads the same line: the holder is alive, so nothing is removed.
    assert!(!libsqlstore_host::lockrecovery::recover_abandoned_lock(
        &dir.path().join("sessions.db")
    ));
    owner.close().await;
    assert!(!dir.path().join("sessions.db-lock").exists());
    assert!(!dir.path().join(owner_file).exists(), "a closed store's owner file is removed");
}

#[tokio::test]
async fn a_guest_over_its_memory_limit_fails_typed_and_the_next_call_works() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = StoreOptions { memory_limit: 32 << 20, ..in_dir(dir.path()) };
    let store = open(options);
    store.commit("tok", b"x".to_vec(), u64::MAX).await.expect("commit");
    let result = store.commit("big", vec![7; 64 << 20], u64::MAX).await;
    assert!(
        matches!(result, Err(StoreError::Guest(_)) | Err(StoreError::TooLarge(_))),
        "{result:?}"
    );
    assert_eq!(store.find("tok").await.expect("fresh instance"), Some(b"x".to_vec()));
    assert_eq!(store.find("big").await.expect("find"), None);
}

async fn a_custom_table_is_created_on_first_use(backend: Backend) {
    let fixture = Fixture::new(backend);
    let store = open(fixture.options().env("SESSIONS_TABLE", "web_sessions"));
    store.commit("tok", b"x".to_vec(), u64::MAX).await.expect("commit creates the table");
    let other = open(fixture.options());
    assert_eq!(other.find("tok").await.expect("find"), None, "the default table is another table");
    assert_eq!(store.stats().await.expect("stats"), SessionCounts { active: 1, expired: 0 });
}

#[tokio::test]
async fn a_stopped_server_gives_unavailable_within_the_timeout_and_recovery_loses_nothing() {
    let fixture = Fixture::new(Backend::Sqld);
    let store = open(fixture.options().env("SESSIONS_REMOTE_TIMEOUT", "2s"));
    store.commit("tok", b"committed".to_vec(), u64::MAX).await.expect("commit");
    let mut sqld = fixture.sqld.expect("sqld");
    sqld.stop();
    let started = Instant::now();
    match store.find("tok").await {
        Err(StoreError::Unavailable(msg)) => {
            assert!(msg.contains("cannot reach the libSQL server"), "{msg}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    sqld.restart().expect("sqld restarts");
    assert_eq!(store.find("tok").await.expect("recovered by itself"), Some(b"committed".to_vec()));
}

#[tokio::test]
async fn a_wrong_auth_token_is_unavailable_naming_auth() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use ed25519_dalek::{Signer, SigningKey};

    let dir = tempfile::tempdir().expect("tempdir");
    let server_key = SigningKey::from_bytes(&[7; 32]);
    let key_file = dir.path().join("jwt.key");
    std::fs::write(&key_file, URL_SAFE_NO_PAD.encode(server_key.verifying_key().as_bytes()))
        .expect("key");
    let sqld = Sqld::start(dir.path(), Some(&key_file)).expect("sqld with auth");
    let jwt = |key: &SigningKey| {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"a":"rw"}"#)
        );
        let signature = key.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    };
    let options = in_dir(dir.path()).env("SESSIONS_DATABASE", sqld.url());
    let good = open(options.clone().env("SESSIONS_AUTH_TOKEN", jwt(&server_key)));
    good.commit("tok", b"x".to_vec(), u64::MAX).await.expect("a valid token works");
    let wrong = open(options.env("SESSIONS_AUTH_TOKEN", jwt(&SigningKey::from_bytes(&[9; 32]))));
    match wrong.find("tok").await {
        Err(StoreError::Unavailable(msg)) => assert!(msg.contains("auth token"), "{msg}"),
        other => panic!("expected Unavailable naming auth, got {other:?}"),
    }
}

#[tokio::test]
async fn a_table_name_the_server_rejects_is_a_storage_error_not_a_trap() {
    let fixture = Fixture::new(Backend::Sqld);
    let store = open(fixture.options());
    store.commit("tok", b"x".to_vec(), u64::MAX).await.expect("commit");
    // `sessions_expiry_idx` is taken by the default table's index: the server refuses a
    // table of that name.
    let clash = open(fixture.options().env("SESSIONS_TABLE", "sessions_expiry_idx"));
    assert!(matches!(clash.find("tok").await, Err(StoreError::Storage(_))));
    assert_eq!(store.find("tok").await.expect("the first table is intact"), Some(b"x".to_vec()));
}

#[tokio::test]
async fn the_local_only_build_refuses_server_urls_with_invalid_config() {
    let Some(path) = local_only_component() else {
        panic!("the local-only component is missing: ./dev build makes it");
    };
    let runtime = Runtime::load(&path).expect("loads");
    assert!(
        runtime.imports().iter().all(|i| !i.starts_with("wasi:http")),
        "{:?}",
        runtime.imports()
    );
    let store = ComponentStore::open(
        &runtime,
        StoreOptions::default().env("SESSIONS_DATABASE", "http://127.0.0.1:9"),
    )
    .expect("open");
    assert!(
        matches!(store.find("tok").await, Err(StoreError::InvalidConfig(m)) if m.contains("no remote backend"))
    );
}

#[tokio::test]
async fn a_component_given_as_bytes_loads_as_from_its_file_and_other_bytes_are_invalid() {
    let bytes = std::fs::read(common::component()).expect("the component is built (./dev build)");
    let runtime = Runtime::from_bytes(&bytes).expect("loads");
    assert_eq!(runtime.exports(), common::runtime().exports());
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ComponentStore::open(&runtime, in_dir(dir.path())).expect("open");
    assert_eq!(store.stats().await.expect("stats"), SessionCounts { active: 0, expired: 0 });
    let refused = Runtime::from_bytes(b"not a component").err().expect("refused");
    assert!(matches!(refused, libsqlstore_host::LoadError::Invalid { .. }), "{refused}");
}

fn local_only_component() -> Option<std::path::PathBuf> {
    let path = common::local_only_component();
    path.is_file().then_some(path)
}

#[tokio::test]
async fn every_remote_store_operation_is_one_http_round_trip() {
    let fixture = Fixture::new(Backend::Sqld);
    let store = open(fixture.options());
    let expiry = now_ms(&HostClock::default()) + HOUR;
    let mut expected = 0;
    store.find("tok").await.expect("first call, schema included");
    expected += 1;
    assert_eq!(store.http_requests(), expected);
    store.commit("tok", b"x".to_vec(), expiry).await.expect("commit");
    let token = store.create(b"y".to_vec(), expiry).await.expect("create");
    assert!(store.touch(&token, expiry + 1).await.expect("touch"));
    store.find("tok").await.expect("find");
    store.page(None, 10).await.expect("page");
    store.all().await.expect("all");
    store.stats().await.expect("stats");
    store.sweep().await.expect("sweep");
    store.delete("tok").await.expect("delete");
    expected += 9;
    assert_eq!(store.http_requests(), expected, "one request per operation");
}

mod compile_cache;
