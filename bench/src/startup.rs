//! Section 4, start-up: how long a fresh instance, made from the already compiled and
//! pre-instantiated component (`Runtime`: Engine + Component + InstancePre), takes to
//! answer its first `find`. This decides whether a host may make an instance per
//! request (as `wasmtime serve` does).
//!
//! Measured through the host library's public API: `ComponentStore::open` (a worker
//! thread, no instance yet) and the first `find`, which instantiates, opens the
//! database (pragmas, schema check, prepared statements) and answers. Also `Runtime::load`
//! (compiling the component with Cranelift), paid once per process.

use std::time::{Duration, Instant};

use host_example::{Runtime, ComponentStore, StoreOptions};
use serde::Serialize;

use crate::latency::{figures, ms, Figures};
use crate::seed::seed_file;
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
}

/// Loads the runtime (timed) for the whole run.
pub fn load_runtime() -> anyhow::Result<(Runtime, Duration)> {
    let path = crate::servers::component()?;
    let started = Instant::now();
    let runtime = Runtime::load(&path)?;
    Ok((runtime, started.elapsed()))
}

pub async fn run(runtime: &Runtime, load: Duration, repeats: u32) -> anyhow::Result<StartupResult> {
    let dir = tempfile::tempdir()?;
    seed_file(&dir.path().join(DB_FILE), 10_000, 0, now_ms())?;
    let file_options = || StoreOptions::in_dir(dir.path()).env("SESSIONS_DATABASE", format!("/data/{DB_FILE}"));
    let memory_options = || StoreOptions { data_dir: None, ..StoreOptions::default() }.env("SESSIONS_DATABASE", ":memory:");
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
    })
}

/// Opens a store, times it up to its first answered find, closes it (not timed).
async fn first_find(runtime: &Runtime, options: StoreOptions, tok: &str, expect_found: bool) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let store = ComponentStore::open(runtime, options)?;
    let found = store.find(tok).await?;
    let took = started.elapsed();
    anyhow::ensure!(found.is_some() == expect_found, "unexpected first find result");
    store.close().await;
    Ok(took)
}
