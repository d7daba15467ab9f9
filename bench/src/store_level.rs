//! Section 1, store level (no HTTP): find, commit, touch, delete and create, one at a
//! time, on a table of N stored 200-byte sessions, native and component side by side on
//! the same database file, or on the same local libSQL server (sqld, fresh for the case).

use std::time::{Duration, Instant};

use libsqlstore_host::Runtime;
use serde::Serialize;

use crate::latency::{figures, Figures};
use crate::plan::{Plan, StoreCase};
use crate::remote_client::RemoteClient;
use crate::seed::seed_file;
use crate::sqld::Sqld;
use crate::subject::{Kind, Storage, Subject, DB_FILE};
use crate::tokens::{future_expiry, now_ms, payload, token, Family, Rng};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Find,
    Commit,
    Touch,
    Delete,
    Create,
}

impl Op {
    pub const ALL: [Op; 5] = [Op::Find, Op::Commit, Op::Touch, Op::Delete, Op::Create];

    pub fn label(self) -> &'static str {
        match self {
            Op::Find => "find",
            Op::Commit => "commit",
            Op::Touch => "touch",
            Op::Delete => "delete",
            Op::Create => "create",
        }
    }

    fn writes(self) -> bool {
        self != Op::Find
    }
}

/// One measured series.
#[derive(Debug, Clone, Serialize)]
pub struct StoreRow {
    pub storage: Storage,
    pub sessions: u64,
    pub op: Op,
    pub kind: Kind,
    #[serde(flatten)]
    pub figures: Figures,
}

/// Runs every case of the plan; progress goes to stderr.
pub async fn run(plan: &Plan, runtime: &Runtime) -> anyhow::Result<Vec<StoreRow>> {
    let mut rows = Vec::new();
    for case in &plan.store_cases {
        let dir = tempfile::tempdir()?;
        let now = now_ms();
        let mut sqld = None;
        let seeded = match case.storage {
            Storage::File | Storage::FileShared => {
                let took = seed_file(&dir.path().join(DB_FILE), case.sessions, 0, now)?;
                eprintln!(
                    "  seeded {} sessions into a file in {:.1}s",
                    case.sessions,
                    took.as_secs_f64()
                );
                true
            }
            Storage::Remote => {
                let server = Sqld::start()?;
                let started = Instant::now();
                RemoteClient::connect(&server.url()).await?.seed(case.sessions, now).await?;
                eprintln!(
                    "  seeded {} sessions into sqld in {:.1}s",
                    case.sessions,
                    started.elapsed().as_secs_f64()
                );
                sqld = Some(server);
                true
            }
            Storage::Memory => false,
        };
        let url = sqld.as_ref().map(Sqld::url);
        // Deleted sessions are never picked again: each subject deletes its own range at
        // the top of the table, and the others pick among the rest.
        let mut deleted = 0;
        for kind in [Kind::Native, Kind::Component] {
            let mut subject =
                Subject::open(kind, case.storage, dir.path(), url.as_deref(), runtime).await?;
            if !seeded {
                let started = Instant::now();
                for i in 0..case.sessions {
                    subject
                        .commit(&token(Family::Active, i), &payload(i), future_expiry(now, i))
                        .await?;
                }
                eprintln!(
                    "  seeded {} sessions into {} :memory: in {:.1}s",
                    case.sessions,
                    kind.label(),
                    started.elapsed().as_secs_f64()
                );
            }
            let mut rng = Rng::new(0x5EED ^ case.sessions);
            warm_up(&mut subject, case, &mut rng).await?;
            for op in Op::ALL {
                let figures = measure(&mut subject, op, case, &mut rng, &mut deleted).await?;
                eprintln!(
                    "  {:<9} {:<8} {:>8} {:<6} {:>9.0} ops/s  p50 {:.3} ms  p99 {:.3} ms",
                    kind.label(),
                    case.storage.label(),
                    case.sessions,
                    op.label(),
                    figures.ops_per_s,
                    figures.p50_ms,
                    figures.p99_ms
                );
                rows.push(StoreRow {
                    storage: case.storage,
                    sessions: case.sessions,
                    op,
                    kind,
                    figures,
                });
            }
            subject.close().await;
        }
    }
    Ok(rows)
}

/// Nanoseconds per `libsqlstore::token::id_of` of a 43-character token, natively.
pub fn hash_ns_per_call() -> f64 {
    const CALLS: u64 = 200_000;
    let tokens: Vec<String> = (0..1000).map(|i| token(Family::Active, i)).collect();
    let started = Instant::now();
    for i in 0..CALLS {
        std::hint::black_box(libsqlstore::token::id_of(std::hint::black_box(
            &tokens[(i % 1000) as usize],
        )));
    }
    started.elapsed().as_secs_f64() * 1e9 / CALLS as f64
}

/// Finds that bring the table's upper levels into the page cache before timing starts,
/// so neither subject pays for the other's cold start.
async fn warm_up(subject: &mut Subject, case: &StoreCase, rng: &mut Rng) -> anyhow::Result<()> {
    for _ in 0..case.warm_up {
        subject.find(&token(Family::Active, rng.below(case.sessions))).await?;
    }
    Ok(())
}

async fn measure(
    subject: &mut Subject,
    op: Op,
    case: &StoreCase,
    rng: &mut Rng,
    deleted: &mut u64,
) -> anyhow::Result<Figures> {
    let (count, budget) =
        if op.writes() { (case.writes, case.budget) } else { (case.finds, case.budget) };
    // Picks stay below every range any subject deletes.
    let pickable = case.sessions.saturating_sub(2 * case.writes).max(1);
    let mut samples: Vec<Duration> = Vec::with_capacity(count as usize);
    let started = Instant::now();
    for n in 0..count {
        let i = rng.below(pickable);
        // Arguments are made before the clock starts: only the store call is timed.
        let tok = match op {
            Op::Delete => token(Family::Active, case.sessions - 1 - *deleted),
            _ => token(Family::Active, i),
        };
        let data = payload(i + n);
        let expiry = future_expiry(now_ms(), i + n);
        let t = Instant::now();
        match op {
            Op::Find => {
                anyhow::ensure!(subject.find(&tok).await?.is_some(), "seeded session {i} not found")
            }
            Op::Commit => subject.commit(&tok, &data, expiry).await?,
            Op::Touch => anyhow::ensure!(
                subject.touch(&tok, expiry).await?,
                "seeded session {i} not touched"
            ),
            Op::Delete => {
                subject.delete(&tok).await?;
                *deleted += 1;
            }
            Op::Create => drop(subject.create(&data, expiry).await?),
        }
        samples.push(t.elapsed());
        if started.elapsed() > budget {
            break;
        }
    }
    Ok(figures(&mut samples, started.elapsed()))
}
