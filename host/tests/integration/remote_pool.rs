//! The guest's requests to a libSQL server go over the host's pooled, kept-alive
//! connections (`libsqlstore_host::http_pool`), from several instances of a store at once:
//! a real `sqld` on loopback, behind a small TCP proxy that counts the connections the host
//! opens, how many are still open, and how many requests are in flight at once.

use crate::common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::sqld::Sqld;
use libsqlstore_host::scheduler::sweep_until_done;
use libsqlstore_host::{
    ComponentStore, HostClock, PoolSettings, Runtime, SessionCounts, StoreError, StoreOptions,
};

/// A TCP proxy on 127.0.0.1 in front of `upstream`: counts the connections it accepts,
/// those still open (until both directions have ended), and the requests in flight. It lives
/// as long as the test.
struct CountingProxy {
    url: String,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    requests: Arc<InFlight>,
}

/// Requests between their first byte from the client and the first byte of their answer
/// (HTTP/1.1 without pipelining: on one connection, a request, then its answer).
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
    /// How long the proxy holds each answer back, in milliseconds.
    hold_ms: AtomicUsize,
}

impl InFlight {
    fn started(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
    }

    fn ended(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl CountingProxy {
    fn start(upstream: SocketAddr) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (accepted, open) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let requests = Arc::new(InFlight::default());
        let counters = (accepted.clone(), open.clone(), requests.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                counters.0.fetch_add(1, Ordering::SeqCst);
                counters.1.fetch_add(1, Ordering::SeqCst);
                let (open, requests) = (counters.1.clone(), counters.2.clone());
                std::thread::spawn(move || {
                    if let Ok(server) = TcpStream::connect(upstream) {
                        relay(client, server, &requests);
                    }
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        CountingProxy { url, accepted, open, requests }
    }

    /// Holds every answer back this long from now on: each request stays in flight at
    /// least that long, whatever the load of the machine.
    fn hold_answers(&self, hold: Duration) {
        let ms = usize::try_from(hold.as_millis()).expect("a short hold");
        self.requests.hold_ms.store(ms, Ordering::SeqCst);
    }

    /// The most requests in flight at once since the last call (or since the start).
    fn most_in_flight(&self) -> usize {
        let now = self.requests.now.load(Ordering::SeqCst);
        self.requests.most.swap(now, Ordering::SeqCst)
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Waits (at most `limit`) until at most `most` connections are open; how long it took.
    async fn until_open_at_most(&self, most: usize, limit: Duration) -> Duration {
        let started = Instant::now();
        while self.open() > most {
            assert!(
                started.elapsed() < limit,
                "{} connections still open after {limit:?}",
                self.open()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        started.elapsed()
    }
}

/// Copies bytes both ways until both sides have finished sending, passing each end of
/// stream on as a half-close, and counts the connection's requests in `requests`.
fn relay(client: TcpStream, server: TcpStream, requests: &Arc<InFlight>) {
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (Ok(client_in), Ok(server_in)) = (client.try_clone(), server.try_clone()) else { return };
    // A request of this connection is in flight: its bytes came, its answer's not yet.
    let busy = Arc::new(AtomicBool::new(false));
    let back = std::thread::spawn({
        let (busy, requests) = (busy.clone(), requests.clone());
        move || {
            pipe(server_in, client, || {
                if busy.load(Ordering::SeqCst) {
                    let hold = requests.hold_ms.load(Ordering::SeqCst) as u64;
                    std::thread::sleep(Duration::from_millis(hold));
                    busy.store(false, Ordering::SeqCst);
                    requests.ended();
                }
            })
        }
    });
    pipe(client_in, server, || {
        if !busy.swap(true, Ordering::SeqCst) {
            requests.started();
        }
    });
    let _ = back.join();
    if busy.swap(false, Ordering::SeqCst) {
        requests.ended();
    }
}

/// Copies `from` to `to`, calling `seen` as each chunk comes, before passing it on.
fn pipe(mut from: TcpStream, mut to: TcpStream, mut seen: impl FnMut()) {
    let mut buffer = [0; 16 << 10];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                seen();
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

fn start_sqld(dir: &std::path::Path) -> Sqld {
    Sqld::start(dir, None).expect("sqld starts (./dev setup installs it)")
}

fn address(url: &str) -> SocketAddr {
    url.strip_prefix("http://")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("not an http://IP:PORT URL: {url}"))
}

/// A store of `runtime` on the server at `url`, with no data directory.
fn store(runtime: &Runtime, url: &str) -> ComponentStore {
    store_of(runtime, url, StoreOptions::default().remote_instances)
}

/// A store of `runtime` on the server at `url` served by at most `instances` instances.
fn store_of(runtime: &Runtime, url: &str, instances: usize) -> ComponentStore {
    let options =
        StoreOptions { data_dir: None, remote_instances: instances, ..StoreOptions::default() }
            .env("SESSIONS_DATABASE", url);
    ComponentStore::open(runtime, options).expect("store opens")
}

fn in_an_hour() -> u64 {
    HostClock::default().now_ms() + 3_600_000
}

#[tokio::test]
async fn calls_from_many_stores_and_fresh_instances_share_one_kept_alive_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqld = start_sqld(dir.path());
    let proxy = CountingProxy::start(address(&sqld.url()));
    let runtime = common::runtime();
    let long_lived = store(runtime, &proxy.url);
    for i in 0..100 {
        long_lived.commit(&format!("token{i}"), vec![7; 200], in_an_hour()).await.expect("commit");
    }
    for i in 0..100 {
        assert_eq!(long_lived.find(&format!("token{i}")).await.expect("find"), Some(vec![7; 200]));
    }
    let another = store(runtime, &proxy.url);
    for i in 0..50 {
        assert!(another.find(&format!("token{i}")).await.expect("find").is_some());
    }
    // As a per-request host does: a new instance for every call.
    for i in 0..20 {
        let fresh = store(runtime, &proxy.url);
        assert!(fresh.find(&format!("token{i}")).await.expect("find").is_some());
        fresh.close().await;
    }
    let requests = long_lived.http_requests() + another.http_requests() + 20;
    eprintln!(
        "{requests} requests through the component opened {} connection(s)",
        proxy.accepted()
    );
    assert!(requests >= 270, "{requests} requests");
    assert!(proxy.accepted() <= 2, "{requests} requests opened {} connections", proxy.accepted());
    assert_eq!(proxy.open(), proxy.accepted(), "the connections are kept open between calls");
}

#[tokio::test]
async fn a_server_restarted_between_calls_is_reached_again_without_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sqld = start_sqld(dir.path());
    let store = store(common::runtime(), &sqld.url());
    store.commit("before", b"kept".to_vec(), in_an_hour()).await.expect("commit");
    assert_eq!(store.find("before").await.expect("find"), Some(b"kept".to_vec()));
    for restart in 0..3 {
        // The pooled connection dies with the server; the next call must not fail on it.
        sqld.restart().expect("sqld restarts");
        assert_eq!(
            store.find("before").await,
            Ok(Some(b"kept".to_vec())),
            "after restart {restart}"
        );
        store
            .commit(&format!("after{restart}"), b"new".to_vec(), in_an_hour())
            .await
            .expect("commit after the restart");
    }
    assert_eq!(store.find("after2").await.expect("find"), Some(b"new".to_vec()));
}

#[tokio::test]
async fn a_server_restarted_behind_the_pool_gets_a_new_connection_and_the_old_one_is_not_reused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sqld = start_sqld(dir.path());
    let proxy = CountingProxy::start(address(&sqld.url()));
    let store = store(common::runtime(), &proxy.url);
    store.commit("tok", b"kept".to_vec(), in_an_hour()).await.expect("commit");
    assert_eq!(proxy.accepted(), 1);
    sqld.restart().expect("sqld restarts");
    // The proxy passes the server's close on: the pooled connection ends.
    proxy.until_open_at_most(0, Duration::from_secs(10)).await;
    assert_eq!(store.find("tok").await, Ok(Some(b"kept".to_vec())));
    assert_eq!(proxy.accepted(), 2, "one new connection after the restart");
    assert_eq!(store.find("tok").await, Ok(Some(b"kept".to_vec())));
    assert_eq!(proxy.accepted(), 2, "and that one is kept");
}

#[tokio::test]
async fn an_idle_connection_is_closed_once_the_idle_timeout_passes() {
    const IDLE: Duration = Duration::from_millis(300);
    let dir = tempfile::tempdir().expect("tempdir");
    let sqld = start_sqld(dir.path());
    let proxy = CountingProxy::start(address(&sqld.url()));
    let settings = PoolSettings { idle_timeout: IDLE, ..PoolSettings::default() };
    let runtime = common::runtime().clone().with_pool_settings(settings).expect("a pool");
    let store = store(&runtime, &proxy.url);
    store.commit("tok", b"data".to_vec(), in_an_hour()).await.expect("commit");
    assert_eq!(proxy.open(), 1, "kept open after the call");
    let closed_after = proxy.until_open_at_most(0, Duration::from_secs(10)).await;
    eprintln!("an idle connection (idle timeout {IDLE:?}) was closed after {closed_after:?}");
    assert!(closed_after >= IDLE / 2, "closed after {closed_after:?}, before the idle timeout");
    assert_eq!(store.find("tok").await, Ok(Some(b"data".to_vec())));
    assert_eq!(proxy.accepted(), 2, "the next call opened a new one");
}

#[tokio::test]
async fn no_more_than_the_idle_limit_stay_open_after_concurrent_calls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqld = start_sqld(dir.path());
    let proxy = CountingProxy::start(address(&sqld.url()));
    let settings = PoolSettings { max_idle_per_host: 2, ..PoolSettings::default() };
    let runtime = common::runtime().clone().with_pool_settings(settings).expect("a pool");
    store(&runtime, &proxy.url)
        .commit("tok", b"data".to_vec(), in_an_hour())
        .await
        .expect("commit");
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = store(&runtime, &proxy.url);
        calls.spawn(async move {
            for _ in 0..10 {
                assert_eq!(store.find("tok").await, Ok(Some(b"data".to_vec())));
            }
        });
    }
    while let Some(done) = calls.join_next().await {
        done.expect("a caller panicked");
    }
    eprintln!("8 concurrent callers opened {} connection(s)", proxy.accepted());
    assert!(
        proxy.accepted() > 2,
        "the callers ran concurrently: {} connection(s)",
        proxy.accepted()
    );
    proxy.until_open_at_most(2, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn failures_are_the_errors_of_wasmtimes_default_handler() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqld = start_sqld(dir.path());
    let refused = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        drop(listener);
        url
    };
    let not_tls = sqld.url().replace("http://", "https://");
    let runtime = common::runtime();
    for (url, error) in
        [(refused.as_str(), "connection refused"), (not_tls.as_str(), "TlsProtocolError")]
    {
        match store(runtime, url).find("tok").await {
            Err(StoreError::Unavailable(msg)) => {
                assert!(
                    msg.contains("cannot reach the libSQL server") && msg.contains(error),
                    "{url}: {msg}"
                )
            }
            other => panic!("{url}: expected Unavailable, got {other:?}"),
        }
    }
    // The failures left nothing behind that a working server's calls would trip on.
    assert_eq!(store(runtime, &sqld.url()).find("tok").await, Ok(None));
}

/// Runs `calls` callers at once, each given its number, and waits for all of them.
async fn concurrently<F, Fut>(calls: usize, call: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut running = tokio::task::JoinSet::new();
    for i in 0..calls {
        running.spawn(call(i));
    }
    while let Some(done) = running.join_next().await {
        done.expect("a caller panicked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_on_a_libsql_server_overlap_up_to_the_instance_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqld = start_sqld(dir.path());
    let proxy = CountingProxy::start(address(&sqld.url()));
    let runtime = common::runtime();
    store(runtime, &proxy.url).commit("tok", b"data".to_vec(), in_an_hour()).await.expect("commit");
    // Every request stays in flight 50 ms at least: calls that overlap at all overlap then.
    proxy.hold_answers(Duration::from_millis(50));
    for instances in [1, 4] {
        let store = store_of(runtime, &proxy.url, instances);
        proxy.most_in_flight();
        let started = Instant::now();
        concurrently(16, |_| {
            let store = store.clone();
            async move {
                for _ in 0..2 {
                    assert_eq!(store.find("tok").await, Ok(Some(b"data".to_vec())));
                }
            }
        })
        .await;
        let most = proxy.most_in_flight();
        eprintln!(
            "32 finds on {instances} instance(s): at most {most} in flight, {:?}",
            started.elapsed()
        );
        assert_eq!(most, instances, "32 finds on {instances} instance(s)");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_go_as_one_write_all_at_a_time_beside_reads_on_other_instances() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqld = start_sqld(dir.path());
    let proxy = CountingProxy::start(address(&sqld.url()));
    let store = store_of(common::runtime(), &proxy.url, 8);
    store.commit("reader", b"r".to_vec(), in_an_hour()).await.expect("commit");
    proxy.hold_answers(Duration::from_millis(50));
    proxy.most_in_flight();
    let before = store.http_requests();
    concurrently(32, |i| {
        let store = store.clone();
        async move {
            let token = format!("writer{i}");
            store.commit(&token, vec![i as u8; 10], in_an_hour()).await.expect("commit");
            assert_eq!(store.find(&token).await, Ok(Some(vec![i as u8; 10])), "acknowledged");
        }
    })
    .await;
    let requests = store.http_requests() - before;
    eprintln!("32 commits and their finds: {requests} requests");
    assert!(requests <= 32 + 4, "32 commits went in a few write-all calls: {requests} requests");
    // Writes alone: one write-all in flight at a time, however many instances are free.
    proxy.most_in_flight();
    concurrently(32, |i| {
        let store = store.clone();
        async move {
            assert_eq!(
                store.update(&format!("writer{i}"), b"new".to_vec(), in_an_hour()).await,
                Ok(true)
            );
        }
    })
    .await;
    assert_eq!(proxy.most_in_flight(), 1, "one write-all at a time");
    // Writes and reads together: the reads go beside the write-all.
    concurrently(16, |i| {
        let store = store.clone();
        async move {
            if i % 2 == 0 {
                store.touch(&format!("writer{i}"), in_an_hour()).await.expect("touch");
            } else {
                assert_eq!(store.find("reader").await, Ok(Some(b"r".to_vec())));
            }
        }
    })
    .await;
    assert!(proxy.most_in_flight() > 1, "reads ran beside the writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_after_an_acknowledged_write_sees_it_whichever_instance_serves_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqld = start_sqld(dir.path());
    let store = store_of(common::runtime(), &sqld.url(), 8);
    concurrently(32, |i| {
        let store = store.clone();
        async move {
            for round in 0..10u8 {
                let token = format!("client{i}-{round}");
                let data = vec![round; 64];
                store.commit(&token, data.clone(), in_an_hour()).await.expect("commit");
                assert_eq!(store.find(&token).await, Ok(Some(data)), "{token}: committed");
                assert_eq!(store.update(&token, b"updated".to_vec(), in_an_hour()).await, Ok(true));
                assert_eq!(store.find(&token).await, Ok(Some(b"updated".to_vec())), "{token}");
                store.delete(&token).await.expect("delete");
                assert_eq!(store.find(&token).await, Ok(None), "{token}: deleted");
                // Final: a save after the delete stores nothing, whatever instance runs it.
                assert_eq!(store.update(&token, b"late".to_vec(), in_an_hour()).await, Ok(false));
                assert_eq!(store.touch(&token, in_an_hour()).await, Ok(false));
                assert_eq!(store.find(&token).await, Ok(None), "{token}: not resurrected");
                let created = store.create(b"c".to_vec(), in_an_hour()).await.expect("create");
                let rotated =
                    store.rotate(&created, in_an_hour()).await.expect("rotate").expect("active");
                assert_eq!(store.find(&created).await, Ok(None), "{token}: rotated away");
                assert_eq!(store.find(&rotated).await, Ok(Some(b"c".to_vec())));
                assert_eq!(store.rotate(&created, in_an_hour()).await, Ok(None), "once only");
            }
        }
    })
    .await;
    assert_eq!(store.stats().await, Ok(SessionCounts { active: 320, expired: 0 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeps_on_several_instances_remove_each_expired_session_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqld = start_sqld(dir.path());
    let clock = HostClock::default();
    let options = StoreOptions {
        data_dir: None,
        remote_instances: 4,
        clock: clock.clone(),
        ..StoreOptions::default()
    }
    .env("SESSIONS_DATABASE", sqld.url())
    .env("SESSIONS_SWEEP_BATCH", "25");
    let store = ComponentStore::open(common::runtime(), options).expect("store opens");
    let soon = clock.now_ms() + 60_000;
    let later = clock.now_ms() + 3_600_000;
    concurrently(20, |i| {
        let store = store.clone();
        async move {
            for j in 0..20 {
                let expiry = if j < 15 { soon } else { later };
                store.commit(&format!("s{i}-{j}"), vec![1; 32], expiry).await.expect("commit");
            }
        }
    })
    .await;
    assert_eq!(store.stats().await, Ok(SessionCounts { active: 400, expired: 0 }));
    clock.advance(Duration::from_secs(120));
    let removed = Arc::new(AtomicUsize::new(0));
    concurrently(6, |i| {
        let (store, removed) = (store.clone(), removed.clone());
        async move {
            if i < 3 {
                let run = sweep_until_done(&store).await.expect("sweep");
                removed.fetch_add(run.removed as usize, Ordering::SeqCst);
            } else {
                for j in 15..20 {
                    assert!(store.find(&format!("s{i}-{j}")).await.expect("find").is_some());
                }
            }
        }
    })
    .await;
    assert_eq!(removed.load(Ordering::SeqCst), 300, "each expired session removed once");
    assert_eq!(store.stats().await, Ok(SessionCounts { active: 100, expired: 0 }));
}

#[tokio::test]
async fn a_closed_pooled_store_waits_for_its_calls_then_refuses_new_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqld = start_sqld(dir.path());
    let store = store_of(common::runtime(), &sqld.url(), 4);
    store.commit("tok", b"data".to_vec(), in_an_hour()).await.expect("commit");
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.find("tok").await })
        })
        .collect();
    tokio::task::yield_now().await;
    store.close().await;
    for call in calls {
        let answer = call.await.expect("a caller panicked");
        assert!(
            matches!(answer, Ok(Some(_)) | Err(StoreError::Closed)),
            "a call ends answered or closed, never cut: {answer:?}"
        );
    }
    assert_eq!(store.find("tok").await, Err(StoreError::Closed));
}
