//! Section `versions`: what the 0.3 calls cost beside the 0.2 calls they replace, natively
//! on one seeded file (the SQL the component runs, without the WIT boundary both share),
//! one call at a time, in one run:
//!
//! - `find` (0.2) against the 0.3 `find` (`SessionStore::load`: data, version and device
//!   data), once when its read is recorded (last seen, a write at most once per session per
//!   `SESSIONS_LAST_SEEN_INTERVAL`) and once when it is not;
//! - `update` (0.2, the data replaced whole) against the conditional update (`update_if`,
//!   applied only at the version read);
//! - `commit` (0.2) against the 0.3 `commit` (with deadlines).

use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use libsqlstore::store::Deadlines;
use libsqlstore::Config;
use serde::Serialize;

use crate::latency::{figures, Figures};
use crate::seed::seed_file;
use crate::subject::DB_FILE;
use crate::tokens::{future_expiry, now_ms, payload, token, Family};

/// One measured series: `call` of interface `version`, compared within `pair`.
#[derive(Debug, Clone, Serialize)]
pub struct VersionRow {
    pub pair: &'static str,
    pub version: &'static str,
    pub call: &'static str,
    pub sessions: u64,
    #[serde(flatten)]
    pub figures: Figures,
}

/// How many: sessions seeded, calls per series, and the longest a series may run.
#[derive(Debug, Clone)]
pub struct VersionsCase {
    pub sessions: u64,
    pub calls: u64,
    pub budget: Duration,
}

/// Seeds a file, then measures each pair's 0.2 and 0.3 series on it.
pub fn run(case: &VersionsCase) -> anyhow::Result<Vec<VersionRow>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(DB_FILE);
    let now = now_ms();
    seed_file(&path, case.sessions, 0, now)?;
    let database = path.to_str().context("non-UTF-8 path")?;
    // Seeded sessions were last seen now; as sessions idle for longer than the interval,
    // every one's next read is recorded.
    futures::executor::block_on(async {
        let db = libsql::Builder::new_local(database).build().await?;
        db.connect()?.execute("UPDATE sessions SET last_seen = NULL", ()).await?;
        anyhow::Ok(())
    })?;
    let config = Config::from_vars([("SESSIONS_DATABASE", database)])?;
    let mut store = libsqlstore::open(&config)?;
    // Each series takes its own sessions: a recorded read is a first read in the interval.
    let per_series = (case.sessions / 8).max(1).min(case.calls);
    let mut next = 0;
    let mut take = || {
        let first = next;
        next += per_series;
        (first..first + per_series).map(|i| token(Family::Active, i % case.sessions)).collect()
    };
    let mut rows = Vec::new();
    let mut row = |pair, version, call, figures: Figures| {
        eprintln!(
            "  {pair:<6} {version} {call:<34} {:>9.0} ops/s  p50 {:.3} ms",
            figures.ops_per_s, figures.p50_ms
        );
        rows.push(VersionRow { pair, version, call, sessions: case.sessions, figures });
    };

    let tokens: Vec<String> = take();
    let found = series(&tokens, case.budget, |t| {
        ensure!(store.find(t)?.is_some(), "seeded session not found");
        Ok(())
    })?;
    row("read", "0.2", "find", found);
    let tokens: Vec<String> = take();
    let recorded = series(&tokens, case.budget, |t| {
        ensure!(store.load(t)?.is_some(), "seeded session not found");
        Ok(())
    })?;
    row("read", "0.3", "find, its read recorded (last seen)", recorded);
    let again = series(&tokens, case.budget, |t| {
        ensure!(store.load(t)?.is_some(), "seeded session not found");
        Ok(())
    })?;
    row("read", "0.3", "find, read again within the interval", again);

    let data = payload(7);
    let expiry = future_expiry(now, 7);
    let tokens: Vec<String> = take();
    let updated = series(&tokens, case.budget, |t| {
        ensure!(store.update(t, &data, expiry)?, "seeded session not updated");
        Ok(())
    })?;
    row("save", "0.2", "update (replaces the data)", updated);
    let tokens: Vec<String> = take();
    // The versions read beforehand, out of the clock, as a session manager's load is.
    let mut versions = Vec::with_capacity(tokens.len());
    for t in &tokens {
        versions.push(store.load(t)?.context("seeded session not found")?.version);
    }
    let mut read = versions.into_iter();
    let conditional = series(&tokens, case.budget, |t| {
        let version = read.next().context("a version per token")?;
        ensure!(store.update_if(t, &data, version)?.is_some(), "a version moved meanwhile");
        Ok(())
    })?;
    row("save", "0.3", "update at the version read", conditional);

    let tokens: Vec<String> = take();
    let committed = series(&tokens, case.budget, |t| Ok(store.commit(t, &data, expiry)?))?;
    row("commit", "0.2", "commit", committed);
    let deadlines = Deadlines { absolute: expiry, idle: Some(30 * 60 * 1000) };
    let tokens: Vec<String> = take();
    let committed =
        series(&tokens, case.budget, |t| Ok(store.commit_with(t, &data, deadlines, None)?))?;
    row("commit", "0.3", "commit with deadlines", committed);
    Ok(rows)
}

/// Times `call` on each token in turn, stopping early after `budget`.
fn series(
    tokens: &[String],
    budget: Duration,
    mut call: impl FnMut(&str) -> anyhow::Result<()>,
) -> anyhow::Result<Figures> {
    let mut samples = Vec::with_capacity(tokens.len());
    let started = Instant::now();
    for t in tokens {
        let at = Instant::now();
        call(t)?;
        samples.push(at.elapsed());
        if started.elapsed() > budget {
            break;
        }
    }
    Ok(figures(&mut samples, started.elapsed()))
}
