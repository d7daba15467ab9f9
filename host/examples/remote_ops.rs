//! Measures the remote backend against a real local `sqld`: per-call latency (mean, p50,
//! p99) and HTTP round trips per call for `commit` and `find`, for
//!
//! - the component in wasmtime through the host library, its requests on the runtime's
//!   pooled, kept-alive connections (the default);
//! - the same with the pool off (`max_idle_per_host: 0`): a new connection per request, as
//!   wasmtime's default outgoing handler makes them;
//! - the `libsql` crate's own remote client, natively, running the same statements: the
//!   floor for a remote store.
//!
//! The three take turns in rounds, so that load elsewhere on the machine falls on all
//! alike; the last lines give the component's speed as a share of the native client's.
//!
//! `cargo run --release -p libsqlstore-host --example remote_ops -- [OPS]` (default 2000 calls
//! of each operation per client); needs sqld (`./dev setup` installs it).

use std::time::{Duration, Instant};

#[path = "../tests/integration/common/sqld.rs"]
#[allow(dead_code)] // the tests use more of the fixture than this example
mod sqld;
use sqld::Sqld;

use libsqlstore::schema::{Sql, TableName};
use libsqlstore_host::{ComponentStore, HostClock, PoolSettings, Runtime, StoreOptions};

const ROUNDS: u64 = 5;

/// One client's calls: component stores and the native connection answer alike.
enum Client {
    Component(ComponentStore),
    Native(libsql::Connection, Box<Sql>),
}

impl Client {
    async fn commit(
        &self,
        token: &str,
        data: &[u8],
        expiry: u64,
    ) -> Result<(), Box<dyn std::error::Error>> {
        match self {
            Client::Component(store) => store.commit(token, data.to_vec(), expiry).await?,
            Client::Native(conn, sql) => {
                conn.execute(&sql.upsert, libsql::params![token, data.to_vec(), expiry as i64])
                    .await?;
            }
        }
        Ok(())
    }

    async fn find(&self, token: &str, now: u64) -> Result<bool, Box<dyn std::error::Error>> {
        Ok(match self {
            Client::Component(store) => store.find(token).await?.is_some(),
            Client::Native(conn, sql) => {
                let mut rows = conn.query(&sql.find, libsql::params![token, now as i64]).await?;
                let found =
                    rows.next().await?.map(|row| row.get::<Vec<u8>>(0)).transpose()?.is_some();
                found
            }
        })
    }

    fn http_requests(&self) -> Option<u64> {
        match self {
            Client::Component(store) => Some(store.http_requests()),
            Client::Native(..) => None,
        }
    }
}

/// What one client measured.
struct Timings {
    name: &'static str,
    client: Client,
    commit: Vec<Duration>,
    find: Vec<Duration>,
    requests: Option<u64>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ops: u64 = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(2000);
    let dir = tempfile::tempdir()?;
    let sqld = Sqld::start(dir.path(), None)?;
    let runtime = Runtime::load(&component())?;
    let unpooled = runtime
        .clone()
        .with_pool_settings(PoolSettings { max_idle_per_host: 0, ..PoolSettings::default() })?;
    let options = || {
        StoreOptions { data_dir: None, ..StoreOptions::default() }
            .env("SESSIONS_DATABASE", sqld.url())
    };
    let pooled = ComponentStore::open(&runtime, options())?;
    pooled.stats().await?; // first call: creates the schema
    let unpooled = ComponentStore::open(&unpooled, options())?;
    unpooled.stats().await?;
    let native = libsql::Builder::new_remote(sqld.url(), String::new()).build().await?.connect()?;
    let mut clients = [
        ("component, pooled", Client::Component(pooled)),
        ("component, pool off", Client::Component(unpooled)),
        ("native libsql remote", Client::Native(native, Box::new(Sql::new(&TableName::default())))),
    ]
    .map(|(name, client)| Timings {
        name,
        client,
        commit: Vec::new(),
        find: Vec::new(),
        requests: None,
    });
    let data = vec![b'x'; 200];
    let (now, expiry) = (HostClock::default().now_ms(), HostClock::default().now_ms() + 3_600_000);
    for round in 0..ROUNDS {
        let calls = (round * ops / ROUNDS)..((round + 1) * ops / ROUNDS);
        for (n, timings) in clients.iter_mut().enumerate() {
            let before = timings.client.http_requests();
            for i in calls.clone() {
                let started = Instant::now();
                timings.client.commit(&format!("client{n}-{i:08}"), &data, expiry).await?;
                timings.commit.push(started.elapsed());
            }
            for i in calls.clone() {
                let token = format!("client{n}-{:08}", (i * 7919) % calls.end);
                let started = Instant::now();
                assert!(timings.client.find(&token, now).await?, "{token} was committed");
                timings.find.push(started.elapsed());
            }
            if let (Some(before), Some(after)) = (before, timings.client.http_requests()) {
                *timings.requests.get_or_insert(0) += after - before;
            }
        }
    }
    println!("libSQL server (sqld) on loopback, {ops} calls of each operation per client, 200-byte sessions");
    println!(
        "{:<22} {:<8} {:>9} {:>9} {:>9} {:>10}",
        "client", "op", "mean µs", "p50 µs", "p99 µs", "HTTP/call"
    );
    for timings in &mut clients {
        for (op, latencies) in [("commit", &mut timings.commit), ("find", &mut timings.find)] {
            let (mean, p50, p99) = summary(latencies);
            let per_call = timings
                .requests
                .map_or("-".to_owned(), |r| format!("{:.2}", r as f64 / (2 * ops) as f64));
            println!(
                "{:<22} {op:<8} {mean:>9.0} {p50:>9.0} {p99:>9.0} {per_call:>10}",
                timings.name
            );
        }
    }
    let mean = |latencies: &mut Vec<Duration>| summary(latencies).0;
    let [pooled, unpooled, native] = &mut clients;
    for (op, pooled, unpooled, native) in [
        ("commit", &mut pooled.commit, &mut unpooled.commit, &mut native.commit),
        ("find", &mut pooled.find, &mut unpooled.find, &mut native.find),
    ] {
        let native = mean(native);
        println!(
            "{op}: component pooled {:.2}× the native client's speed, pool off {:.2}×",
            native / mean(pooled),
            native / mean(unpooled)
        );
    }
    Ok(())
}

/// Mean, p50 and p99, in µs.
fn summary(latencies: &mut [Duration]) -> (f64, f64, f64) {
    latencies.sort();
    let at = |q: f64| {
        latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1e6
    };
    let mean =
        latencies.iter().map(Duration::as_secs_f64).sum::<f64>() / latencies.len() as f64 * 1e6;
    (mean, at(0.50), at(0.99))
}

/// The component: `$LIBSQLSTORE_COMPONENT`, else where `./dev build` puts it (run from the
/// repository's root).
fn component() -> std::path::PathBuf {
    std::env::var_os("LIBSQLSTORE_COMPONENT").map_or_else(
        || "target/wasm32-wasip2/release/libsqlstore.wasm".into(),
        std::path::PathBuf::from,
    )
}
