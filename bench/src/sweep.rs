//! Section 2, sweep at scale: N expired sessions among M active ones, swept batch after
//! batch (the default batch of 1,000 and 10 ms budget) until none remain, while a client
//! keeps issuing finds on the same store.
//!
//! The host library serves one store from one instance behind a FIFO mutex, so those
//! finds interleave with the sweep's calls: a find waits at most for the call in
//! progress. Its latency, measured from the caller's side, is what a user sees.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libsqlstore_host::{Runtime, StoreOptions};
use serde::Serialize;

use crate::latency::{figures, ms, Figures};
use crate::plan::Plan;
use crate::seed::seed_file;
use crate::subject::{Kind, Storage, Subject, DB_FILE};
use crate::tokens::{now_ms, token, Family, Rng};

#[derive(Debug, Clone, Serialize)]
pub struct SweepResult {
    pub kind: Kind,
    pub active: u64,
    pub expired: u64,
    pub removed: u64,
    pub batches: u64,
    pub total_s: f64,
    pub rows_per_s: f64,
    /// The slowest single sweep call.
    pub max_batch_ms: f64,
    /// Finds issued while the sweep ran (component only).
    pub concurrent_finds: Option<Figures>,
}

/// Sweeps natively (the floor, nothing concurrent) and in the component (with finds).
pub async fn run(plan: &Plan, runtime: &Runtime) -> anyhow::Result<Vec<SweepResult>> {
    let mut results = Vec::new();
    for kind in [Kind::Native, Kind::Component] {
        let dir = tempfile::tempdir()?;
        let took =
            seed_file(&dir.path().join(DB_FILE), plan.sweep_active, plan.sweep_expired, now_ms())?;
        eprintln!(
            "  seeded {} active + {} expired sessions in {:.1}s",
            plan.sweep_active,
            plan.sweep_expired,
            took.as_secs_f64()
        );
        let result = match kind {
            Kind::Native => sweep_native(plan, dir.path(), runtime).await?,
            Kind::Component => sweep_component(plan, dir.path(), runtime).await?,
        };
        eprintln!(
            "  {:<9} swept {} rows in {:.2}s: {:.0} rows/s, slowest batch {:.1} ms{}",
            kind.label(),
            result.removed,
            result.total_s,
            result.rows_per_s,
            result.max_batch_ms,
            result
                .concurrent_finds
                .map(|f| format!(
                    ", {} concurrent finds: p99 {:.1} ms, max {:.1} ms",
                    f.ops, f.p99_ms, f.max_ms
                ))
                .unwrap_or_default()
        );
        results.push(result);
    }
    Ok(results)
}

async fn sweep_native(
    plan: &Plan,
    dir: &std::path::Path,
    runtime: &Runtime,
) -> anyhow::Result<SweepResult> {
    let mut subject = Subject::open(Kind::Native, Storage::File, dir, None, runtime).await?;
    let (removed, batches, total, max_batch) = sweep_all(&mut subject).await?;
    Ok(result(Kind::Native, plan, removed, batches, total, max_batch, None))
}

async fn sweep_component(
    plan: &Plan,
    dir: &std::path::Path,
    runtime: &Runtime,
) -> anyhow::Result<SweepResult> {
    let store = libsqlstore_host::ComponentStore::open(
        runtime,
        StoreOptions::in_dir(dir)
            .env("SESSIONS_DATABASE", format!("/data/{DB_FILE}"))
            .env("SESSIONS_LOCKING", "exclusive"),
    )?;
    store.stats().await?;
    let done = Arc::new(AtomicBool::new(false));
    let finder = {
        let store = store.clone();
        let done = done.clone();
        let (active, every) = (plan.sweep_active, plan.sweep_find_every);
        tokio::spawn(async move {
            let mut rng = Rng::new(0xF1D);
            let mut samples = Vec::new();
            let started = Instant::now();
            while !done.load(Ordering::Relaxed) {
                let tok = token(Family::Active, rng.below(active));
                let t = Instant::now();
                let found = store.find(&tok).await?;
                samples.push(t.elapsed());
                anyhow::ensure!(found.is_some(), "an active session went missing during the sweep");
                tokio::time::sleep(every).await;
            }
            anyhow::Ok(figures(&mut samples, started.elapsed()))
        })
    };
    let mut subject = Subject::Component(store);
    let swept = sweep_all(&mut subject).await;
    done.store(true, Ordering::Relaxed);
    let finds = finder.await??;
    subject.close().await;
    let (removed, batches, total, max_batch) = swept?;
    Ok(result(Kind::Component, plan, removed, batches, total, max_batch, Some(finds)))
}

/// Sweeps until nothing expired remains: (rows, batches, total time, slowest batch).
async fn sweep_all(subject: &mut Subject) -> anyhow::Result<(u64, u64, Duration, Duration)> {
    let (mut removed, mut batches, mut max_batch) = (0, 0, Duration::ZERO);
    let started = Instant::now();
    loop {
        let t = Instant::now();
        let (n, more) = subject.sweep().await?;
        max_batch = max_batch.max(t.elapsed());
        removed += n;
        batches += 1;
        if !more {
            break;
        }
    }
    Ok((removed, batches, started.elapsed(), max_batch))
}

fn result(
    kind: Kind,
    plan: &Plan,
    removed: u64,
    batches: u64,
    total: Duration,
    max_batch: Duration,
    concurrent_finds: Option<Figures>,
) -> SweepResult {
    SweepResult {
        kind,
        active: plan.sweep_active,
        expired: plan.sweep_expired,
        removed,
        batches,
        total_s: total.as_secs_f64(),
        rows_per_s: removed as f64 / total.as_secs_f64().max(f64::MIN_POSITIVE),
        max_batch_ms: ms(max_batch),
        concurrent_finds,
    }
}
