//! Measures the remote backend against a real local `sqld`: HTTP round trips per store
//! operation and ops/s with p50/p99 latency for `commit` and `find`, through the
//! component in wasmtime.
//!
//! `cargo run --release -p host-example --example remote_ops -- [OPS]` (default 2000 ops
//! each); needs sqld (`./dev setup` installs it).

use std::time::{Duration, Instant};

#[path = "../tests/common/sqld.rs"]
#[allow(dead_code)] // the tests use more of the fixture than this example
mod sqld;
use sqld::Sqld;

use host_example::{HostClock, Runtime, ComponentStore, StoreOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ops: u64 = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(2000);
    let dir = tempfile::tempdir()?;
    let sqld = Sqld::start(dir.path(), None)?;
    let runtime = Runtime::load(&component())?;
    let store = ComponentStore::open(&runtime, StoreOptions::in_dir(dir.path()).env("SESSIONS_DATABASE", sqld.url()))?;
    let expiry = HostClock::default().now_ms() + 3_600_000;
    store.stats().await?; // first call: creates the schema
    let data = vec![b'x'; 200];
    println!("remote backend vs sqld on loopback, {ops} ops each, 200-byte sessions");
    println!("{:<8} {:>10} {:>10} {:>10} {:>14}", "op", "ops/s", "p50 ms", "p99 ms", "round trips/op");
    let mut latencies = Vec::with_capacity(ops as usize);
    let (started, before) = (Instant::now(), store.http_requests());
    for i in 0..ops {
        let t = Instant::now();
        store.commit(&format!("token-{i:08}"), data.clone(), expiry).await?;
        latencies.push(t.elapsed());
    }
    report("commit", ops, started.elapsed(), &mut latencies, store.http_requests() - before);
    latencies.clear();
    let (started, before) = (Instant::now(), store.http_requests());
    for i in 0..ops {
        let t = Instant::now();
        store.find(&format!("token-{:08}", (i * 7919) % ops)).await?;
        latencies.push(t.elapsed());
    }
    report("find", ops, started.elapsed(), &mut latencies, store.http_requests() - before);
    store.close().await;
    Ok(())
}

fn report(op: &str, ops: u64, total: Duration, latencies: &mut [Duration], requests: u64) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64() * 1e3;
    println!(
        "{op:<8} {:>10.0} {:>10.3} {:>10.3} {:>14.2}",
        ops as f64 / total.as_secs_f64(),
        at(0.50),
        at(0.99),
        requests as f64 / ops as f64
    );
}

/// The component: `$LIBSQLSTORE_COMPONENT`, else where `./dev build` puts it (run from the
/// repository's root).
fn component() -> std::path::PathBuf {
    std::env::var_os("LIBSQLSTORE_COMPONENT")
        .map_or_else(|| "target/wasm32-wasip2/release/libsqlstore.wasm".into(), std::path::PathBuf::from)
}
