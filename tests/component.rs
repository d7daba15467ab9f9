//! Black-box tests: the built `libsqlstore.wasm` loaded into wasmtime through the host
//! library, with a preopened temp directory and a host-controlled wall clock.
//!
//! Build the component first (`./dev build`, or `cargo build --release --target
//! wasm32-wasip2`); `./dev test` does it.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use host_example::{HostClock, Runtime, SessionCounts, SessionStore, StoreError, StoreOptions, SweepReport};

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let path = host_example::locate_component().expect("component built (./dev build)");
        Runtime::load(&path).expect("component loads")
    })
}

fn open(options: StoreOptions) -> SessionStore {
    SessionStore::open(runtime(), options).expect("store opens")
}

fn in_dir(dir: &Path) -> StoreOptions {
    StoreOptions::in_dir(dir)
}

fn now_ms(clock: &HostClock) -> u64 {
    clock.now_ms()
}

const HOUR: u64 = 3_600_000;

#[test]
fn the_component_exports_the_session_interfaces() {
    let exports = runtime().exports();
    assert!(exports.contains(&"edge:sessions/store@0.1.0".to_owned()), "{exports:?}");
    assert!(exports.contains(&"edge:sessions/sweeper@0.1.0".to_owned()), "{exports:?}");
}

#[tokio::test]
async fn commit_find_delete_round_trip_through_the_component() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = in_dir(dir.path());
    let clock = options.clock.clone();
    let store = open(options);
    store.commit("tok", b"hello".to_vec(), now_ms(&clock) + HOUR).await.expect("commit");
    assert_eq!(store.find("tok").await.expect("find"), Some(b"hello".to_vec()));
    store.delete("tok").await.expect("delete");
    assert_eq!(store.find("tok").await.expect("find"), None);
    assert!(dir.path().join("sessions.db").is_file(), "the default database is /data/sessions.db");
}

#[tokio::test]
async fn a_fresh_instance_sees_earlier_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = HostClock::default();
    let first = open(in_dir(dir.path()));
    first.commit("tok", b"kept".to_vec(), now_ms(&clock) + HOUR).await.expect("commit");
    first.close().await;
    let second = open(in_dir(dir.path()));
    assert_eq!(second.find("tok").await.expect("find"), Some(b"kept".to_vec()));
}

#[tokio::test]
async fn two_live_instances_share_one_file_without_losing_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = HostClock::default();
    let (a, b) = (open(in_dir(dir.path())), open(in_dir(dir.path())));
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

#[tokio::test]
async fn the_host_clock_decides_expiry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = in_dir(dir.path());
    let clock = options.clock.clone();
    let store = open(options);
    store.commit("tok", b"x".to_vec(), now_ms(&clock) + 60_000).await.expect("commit");
    clock.advance(Duration::from_secs(59));
    assert!(store.find("tok").await.expect("find").is_some());
    clock.advance(Duration::from_secs(1));
    assert_eq!(store.find("tok").await.expect("find"), None);
    assert_eq!(store.stats().await.expect("stats"), SessionCounts { active: 0, expired: 1 });
}

#[tokio::test]
async fn sweeps_are_bounded_and_report_exact_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = in_dir(dir.path()).env("SESSIONS_SWEEP_BATCH", "4");
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
        [SweepReport { removed: 4, more: true }, SweepReport { removed: 4, more: true }, SweepReport { removed: 2, more: false }]
    );
    assert_eq!(store.stats().await.expect("stats"), SessionCounts { active: 1, expired: 0 });
}

#[tokio::test]
async fn create_touch_page_and_all_work_through_the_component() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = in_dir(dir.path());
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

#[tokio::test]
async fn bad_input_gets_typed_errors_and_stored_data_survives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = in_dir(dir.path()).env("SESSIONS_MAX_DATA_BYTES", "1000");
    let clock = options.clock.clone();
    let store = open(options);
    let expiry = now_ms(&clock) + HOUR;
    store.commit("keep", b"precious".to_vec(), expiry).await.expect("commit");
    for bad in ["", "has space", "tab\t", &"x".repeat(300)] {
        assert!(matches!(store.find(bad).await, Err(StoreError::InvalidToken(_))), "{bad:?}");
        assert!(matches!(store.commit(bad, vec![], expiry).await, Err(StoreError::InvalidToken(_))));
    }
    assert_eq!(store.commit("keep", vec![0; 1001], expiry).await, Err(StoreError::TooLarge(1000)));
    assert_eq!(store.create(vec![0; 1001], expiry).await, Err(StoreError::TooLarge(1000)));
    store.commit("zero", b"x".to_vec(), 0).await.expect("expiry 0");
    store.commit("past", b"x".to_vec(), now_ms(&clock) - 1).await.expect("past expiry");
    assert_eq!(store.find("zero").await.expect("find"), None);
    assert_eq!(store.find("past").await.expect("find"), None);
    store.commit("max", b"x".to_vec(), u64::MAX).await.expect("max expiry");
    clock.advance(Duration::from_secs(100 * 365 * 24 * 3600));
    assert_eq!(store.find("max").await.expect("find"), Some(b"x".to_vec()), "u64::MAX never expires");
    assert_eq!(store.find("keep").await.expect("find"), None, "100 years later");
}

#[tokio::test]
async fn malformed_settings_fail_every_call_with_invalid_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, value) in [
        ("SESSIONS_CLEANUP_INTERVAL", "every now and then"),
        ("SESSIONS_SWEEP_BATCH", "0"),
        ("SESSIONS_MAX_DATA_BYTES", "lots"),
        ("SESSIONS_TABLE", "x; DROP TABLE y"),
        ("SESSIONS_DATABASE", "http://127.0.0.1:8080"),
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
    let memory = open(StoreOptions { data_dir: None, ..StoreOptions::default() }.env("SESSIONS_DATABASE", ":memory:"));
    memory.commit("tok", b"x".to_vec(), u64::MAX).await.expect(":memory: needs no preopen");
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_unavailable_and_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = b"definitely not SQLite ".repeat(200);
    std::fs::write(dir.path().join("sessions.db"), &garbage).expect("write");
    let store = open(in_dir(dir.path()));
    assert!(matches!(store.find("tok").await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.commit("tok", vec![1], u64::MAX).await, Err(StoreError::Unavailable(_))));
    assert_eq!(std::fs::read(dir.path().join("sessions.db")).expect("read"), garbage);
}

#[tokio::test]
async fn a_live_lock_makes_calls_wait_then_fail_and_recover_when_released() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(in_dir(dir.path()).env("SESSIONS_BUSY_TIMEOUT", "200ms"));
    store.commit("tok", b"x".to_vec(), u64::MAX).await.expect("commit");
    let lock = dir.path().join("sessions.db-lock");
    std::fs::write(&lock, "owner=another-instance").expect("hold the lock");
    match store.find("tok").await {
        Err(StoreError::Unavailable(msg)) => assert!(msg.contains("locked by another instance"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    std::fs::remove_file(&lock).expect("release");
    assert_eq!(store.find("tok").await.expect("find"), Some(b"x".to_vec()));
}

#[tokio::test]
async fn a_lock_left_by_a_killed_instance_is_recovered_automatically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(in_dir(dir.path()));
    store.commit("tok", b"x".to_vec(), u64::MAX).await.expect("commit");
    let lock = std::fs::File::create(dir.path().join("sessions.db-lock")).expect("lock");
    lock.set_modified(SystemTime::now() - Duration::from_secs(60)).expect("age it");
    drop(lock);
    assert_eq!(store.find("tok").await.expect("find"), Some(b"x".to_vec()));
}

#[tokio::test]
async fn a_guest_over_its_memory_limit_fails_typed_and_the_next_call_works() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = StoreOptions { memory_limit: 32 << 20, ..in_dir(dir.path()) };
    let store = open(options);
    store.commit("tok", b"x".to_vec(), u64::MAX).await.expect("commit");
    let result = store.commit("big", vec![7; 64 << 20], u64::MAX).await;
    assert!(matches!(result, Err(StoreError::Guest(_)) | Err(StoreError::TooLarge(_))), "{result:?}");
    assert_eq!(store.find("tok").await.expect("fresh instance"), Some(b"x".to_vec()));
    assert_eq!(store.find("big").await.expect("find"), None);
}
