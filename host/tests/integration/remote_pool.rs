//! The guest's requests to a libSQL server go over the host's pooled, kept-alive
//! connections (`libsqlstore_host::http_pool`): a real `sqld` on loopback, behind a small TCP
//! proxy that counts the connections the host opens and how many are still open.

use crate::common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::sqld::Sqld;
use libsqlstore_host::{
    ComponentStore, HostClock, PoolSettings, Runtime, StoreError, StoreOptions,
};

/// A TCP proxy on 127.0.0.1 in front of `upstream`: counts the connections it accepts and
/// those still open (until both directions have ended). It lives as long as the test.
struct CountingProxy {
    url: String,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
}

impl CountingProxy {
    fn start(upstream: SocketAddr) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (accepted, open) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let counters = (accepted.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                counters.0.fetch_add(1, Ordering::SeqCst);
                counters.1.fetch_add(1, Ordering::SeqCst);
                let open = counters.1.clone();
                std::thread::spawn(move || {
                    if let Ok(server) = TcpStream::connect(upstream) {
                        relay(client, server);
                    }
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        CountingProxy { url, accepted, open }
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
/// stream on as a half-close.
fn relay(client: TcpStream, server: TcpStream) {
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (Ok(client_in), Ok(server_in)) = (client.try_clone(), server.try_clone()) else { return };
    let back = std::thread::spawn(move || pipe(server_in, client));
    pipe(client_in, server);
    let _ = back.join();
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = [0; 16 << 10];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
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
    let options =
        StoreOptions { data_dir: None, ..StoreOptions::default() }.env("SESSIONS_DATABASE", url);
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
