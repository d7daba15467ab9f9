//! Sweeps in chunks: each chunk one transaction and one turn of the lock, sized from the
//! instance's measured rate so that nobody waits long behind it.

use std::time::{Duration, Instant};

use futures::executor::block_on;
use libsql::params;

use super::errors::storage;
use super::statements::Stmt;
use super::{FileAccess, LocalBackend};
use crate::backend::SweepReport;
use crate::error::Result;

/// Rows the first sweep chunk of an instance deletes, to measure its rate; also the fewest
/// any chunk deletes (when that many are expired and the batch allows), however slow the disk.
const SWEEP_CHUNK: u64 = 100;

impl LocalBackend {
    /// Deletes up to `batch` expired rows, oldest first, in chunks: each chunk is one
    /// transaction (under shared locking, one turn of the lock, so other instances' calls
    /// run between chunks). With a `budget`, each chunk deletes as many rows as this
    /// instance's last full chunk says fit in it, commit included ([`SWEEP_CHUNK`] rows
    /// first, to measure): the longest anyone waits behind a chunk. Where the instance
    /// itself is the queue (exclusive locking, `:memory:`: its host runs one call at a
    /// time), the call also starts no new chunk once the budget is spent. `more` is true
    /// when expired rows remain.
    ///
    /// A chunk that fails after earlier ones succeeded ends the call with what they
    /// removed and `more` set; the next call reports the failure if it persists.
    pub(super) fn sweep_in_chunks(
        &mut self,
        now: i64,
        batch: u32,
        budget: Option<Duration>,
    ) -> Result<SweepReport> {
        let started = Instant::now();
        let batch = u64::from(batch);
        let one_call_at_a_time = !matches!(self.lock, FileAccess::PerOperation(_));
        let mut removed = 0;
        loop {
            let target = self.sweep_chunk(budget).min(batch - removed);
            let chunk = match self.sweep_chunk_of(now, target) {
                Ok(chunk) => chunk,
                Err(_) if removed > 0 => return Ok(SweepReport { removed, more: true }),
                Err(e) => return Err(e),
            };
            removed += chunk.removed;
            let spent = one_call_at_a_time && budget.is_some_and(|b| started.elapsed() >= b);
            if !chunk.more || removed >= batch || spent {
                return Ok(SweepReport { removed, more: chunk.more });
            }
        }
    }

    /// Rows the next sweep chunk may delete: the budget times the measured rate.
    fn sweep_chunk(&self, budget: Option<Duration>) -> u64 {
        match (budget, self.sweep_rate) {
            (None, _) => u64::MAX,
            (Some(_), None) => SWEEP_CHUNK,
            (Some(budget), Some(rows_per_s)) => {
                ((rows_per_s * budget.as_secs_f64()) as u64).max(SWEEP_CHUNK)
            }
        }
    }

    /// One sweep chunk: at most `target` rows in one transaction under one turn of the lock.
    fn sweep_chunk_of(&mut self, now: i64, target: u64) -> Result<SweepReport> {
        let guard = self.lock()?;
        let started = Instant::now();
        let limit = i64::try_from(target).unwrap_or(i64::MAX);
        let report = self.transaction(&[Stmt::Sweep, Stmt::AnyExpired], |b| {
            let sweep = b.stmt(Stmt::Sweep)?;
            sweep.reset();
            let removed = block_on(sweep.execute(params![now, limit]));
            sweep.reset();
            let removed = removed.map_err(storage)? as u64;
            let any_expired = b.stmt(Stmt::AnyExpired)?;
            any_expired.reset();
            let more = block_on(async {
                let mut rows = any_expired.query(params![now]).await?;
                let row = rows.next().await?.ok_or(libsql::Error::QueryReturnedNoRows)?;
                row.get::<i64>(0)
            });
            any_expired.reset();
            Ok(SweepReport { removed, more: more.map_err(storage)? != 0 })
        })?;
        drop(guard);
        if report.removed == target && target > 0 {
            self.sweep_rate = Some(target as f64 / started.elapsed().as_secs_f64().max(1e-6));
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use crate::backend::{SessionCounts, SweepReport};
    use crate::config::{Config, Database};
    use crate::testing::{file_config, open_with, T0};

    #[test]
    fn a_sweep_from_a_fresh_instance_removes_the_whole_batch_in_chunks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config { sweep_batch: 1000, ..file_config(dir.path()) };
        let (mut s, clock) = open_with(&config);
        for i in 0..2500 {
            s.commit(&format!("old{i:04}"), b"x", T0 + 10).expect("commit");
        }
        s.commit("live", b"x", T0 + 10_000).expect("commit");
        clock.0.set(T0 + 10);
        let (mut fresh, fresh_clock) = open_with(&config);
        fresh_clock.0.set(T0 + 10);
        assert_eq!(fresh.sweep().expect("sweep"), SweepReport { removed: 1000, more: true });
        assert_eq!(fresh.sweep().expect("sweep"), SweepReport { removed: 1000, more: true });
        assert_eq!(fresh.sweep().expect("sweep"), SweepReport { removed: 500, more: false });
        assert_eq!(s.stats().expect("stats"), SessionCounts { active: 1, expired: 0 });
        assert!(!dir.path().join("sessions.db-lock").exists(), "no lock is left between calls");
    }

    #[test]
    fn a_sweep_batch_of_a_million_rows_needs_no_temporary_file() {
        let config = Config {
            database: Database::Memory,
            sweep_batch: 1_000_000,
            sweep_budget: None,
            ..Config::default()
        };
        let (mut s, clock) = open_with(&config);
        for i in 0..300_000 {
            s.commit(&format!("old{i:06}"), b"x", T0 + 10).expect("commit");
        }
        clock.0.set(T0 + 10);
        assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 300_000, more: false });
    }
}
