//! Section 4, start-up: how long a fresh instance, made from the already compiled and
//! pre-instantiated component (`Runtime`: Engine + Component + InstancePre), takes to
//! answer its first `find`. This decides whether a host may make an instance per
//! request (as `wasmtime serve` does). And how long the `host-example serve` process takes
//! from spawn to listening, with the memory it holds then: its first start with an empty
//! compiled-component cache (it compiles the component and fills the cache), then later
//! starts on the same data directory, which load the cached compilation.
//!
//! Measured through the host library's public API: `ComponentStore::open` (a worker
//! thread, no instance yet) and the first `find`, which instantiates, opens the
//! database (pragmas, schema check, prepared statements) and answers. Also `Runtime::load`
//! (compiling the component with Cranelift), paid once per process.

use std::time::{Duration, Instant};

use anyhow::Context;
use libsqlstore_host::{ComponentStore, Runtime, StoreOptions};
use serde::Serialize;

use crate::latency::{figures, ms, Figures};
use crate::plan::Plan;
use crate::seed::seed_file;
use crate::servers::{host_example, spawn_printing, status_mib, terminate, Launch};
use crate::subject::DB_FILE;
use crate::tokens::{now_ms, token, Family};

#[derive(Debug, Clone, Serialize)]
pub struct StartupResult {
    /// Compiling and linking the component, once per process.
    pub load_ms: f64,
    /// Fresh instance + first find, on an existing 10k-session file.
    pub first_find_file: Figures,
    /// Fresh instance + first find, `:memory:` (nothing to open on disk).
    pub first_find_memory: Figures,
    /// A find on an instance that is already warm, for scale.
    pub warm_find: Figures,
    pub serve: ServeStartup,
}

/// `host-example serve`, spawn to `listening on`, on a file database.
#[derive(Debug, Clone, Serialize)]
pub struct ServeStartup {
    /// The first start: the compiled-component cache is empty.
    pub first_ms: f64,
    /// `VmRSS` and `VmHWM` once listening after the first start.
    pub first_rss_mib: Option<f64>,
    pub first_peak_rss_mib: Option<f64>,
    /// Every later start, from the cache (each after a SIGTERM of the previous server).
    pub cached: Figures,
    /// Median `VmRSS` once listening after a cached start.
    pub cached_rss_mib: Option<f64>,
}

/// Loads the runtime (timed) for the whole run.
pub fn load_runtime() -> anyhow::Result<(Runtime, Duration)> {
    let path = crate::servers::component()?;
    let started = Instant::now();
    let runtime = Runtime::load(&path)?;
    Ok((runtime, started.elapsed()))
}

pub async fn run(
    runtime: &Runtime,
    load: Duration,
    plan: &Plan,
    launch: &Launch,
) -> anyhow::Result<StartupResult> {
    let repeats = plan.startup_repeats;
    let dir = tempfile::tempdir()?;
    seed_file(&dir.path().join(DB_FILE), 10_000, 0, now_ms())?;
    let file_options =
        || StoreOptions::in_dir(dir.path()).env("SESSIONS_DATABASE", format!("/data/{DB_FILE}"));
    let memory_options = || {
        StoreOptions { data_dir: None, ..StoreOptions::default() }
            .env("SESSIONS_DATABASE", ":memory:")
    };
    let tok = token(Family::Active, 42);

    let mut file = Vec::new();
    let mut memory = Vec::new();
    let (mut file_total, mut memory_total) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..repeats {
        let t = first_find(runtime, file_options(), &tok, true).await?;
        file_total += t;
        file.push(t);
        let t = first_find(runtime, memory_options(), &tok, false).await?;
        memory_total += t;
        memory.push(t);
    }

    let store = ComponentStore::open(runtime, file_options())?;
    store.find(&tok).await?;
    let mut warm = Vec::new();
    let started = Instant::now();
    for _ in 0..repeats {
        let t = Instant::now();
        store.find(&tok).await?;
        warm.push(t.elapsed());
    }
    let warm_elapsed = started.elapsed();
    store.close().await;

    Ok(StartupResult {
        load_ms: ms(load),
        first_find_file: figures(&mut file, file_total),
        first_find_memory: figures(&mut memory, memory_total),
        warm_find: figures(&mut warm, warm_elapsed),
        serve: serve_starts(plan.serve_starts, launch)?,
    })
}

/// Starts `host-example serve` `1 + cached` times on one data directory with a compiled-
/// component cache of its own, empty before the first start.
fn serve_starts(cached: u32, launch: &Launch) -> anyhow::Result<ServeStartup> {
    let cache = tempfile::tempdir()?;
    let data = tempfile::tempdir()?;
    let launch = Launch { compile_cache: cache.path().to_owned(), ..launch.clone() };
    let log = data.path().join("server.log");
    let start = || -> anyhow::Result<(Duration, Option<f64>, Option<f64>)> {
        let started = Instant::now();
        let mut server = spawn_printing(host_example(&launch, data.path(), None), &log)?;
        let took = started.elapsed();
        let pid = server.child.id();
        let figures = (took, status_mib(pid, "VmRSS"), status_mib(pid, "VmHWM"));
        terminate(&mut server.child);
        Ok(figures)
    };
    let (first, first_rss, first_peak) = start().context("first start of host-example serve")?;
    eprintln!("  host-example serve, first start: {:.0} ms", ms(first));
    let (mut times, mut rss) = (Vec::new(), Vec::new());
    let mut total = Duration::ZERO;
    for _ in 0..cached {
        let (took, resident, _) = start().context("a cached start of host-example serve")?;
        times.push(took);
        total += took;
        rss.extend(resident);
    }
    rss.sort_by(f64::total_cmp);
    let cached = figures(&mut times, total);
    eprintln!(
        "  host-example serve, cached starts: p50 {:.0} ms, max {:.0} ms",
        cached.p50_ms, cached.max_ms
    );
    Ok(ServeStartup {
        first_ms: ms(first),
        first_rss_mib: first_rss,
        first_peak_rss_mib: first_peak,
        cached,
        cached_rss_mib: rss.get(rss.len() / 2).copied(),
    })
}

/// Opens a store, times it up to its first answered find, closes it (not timed).
async fn first_find(
    runtime: &Runtime,
    options: StoreOptions,
    tok: &str,
    expect_found: bool,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let store = ComponentStore::open(runtime, options)?;
    let found = store.find(tok).await?;
    let took = started.elapsed();
    anyhow::ensure!(found.is_some() == expect_found, "unexpected first find result");
    store.close().await;
    Ok(took)
}
