//! Sweeping expired sessions on a timer: every `cleanup-interval` of the component (the
//! default), a fixed interval, or a cron expression. scs's `StopCleanup` is
//! [`Sweeper::stop`].

use std::str::FromStr;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::StoreError;
use crate::store::ComponentStore;

/// When sweeps run.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Every so often, first one interval after start.
    Every(Duration),
    /// At the times of a cron expression with seconds (`sec min hour day month weekday`),
    /// e.g. `0 */5 * * * *`, evaluated in UTC.
    Cron(Box<cron::Schedule>),
}

impl Schedule {
    /// Parses a cron expression; the error says what is wrong.
    pub fn cron(expr: &str) -> Result<Schedule, String> {
        cron::Schedule::from_str(expr)
            .map(|s| Schedule::Cron(Box::new(s)))
            .map_err(|e| format!("invalid cron expression {expr:?}: {e} (use 6 fields with seconds, e.g. \"0 */5 * * * *\")"))
    }

    /// How long from now until the next run; `None` if a cron expression never fires again.
    fn next_delay(&self) -> Option<Duration> {
        match self {
            Schedule::Every(d) => Some(*d),
            Schedule::Cron(s) => {
                let next = s.upcoming(chrono::Utc).next()?;
                Some((next - chrono::Utc::now()).to_std().unwrap_or_default())
            }
        }
    }
}

/// What one sweep run (batches until nothing expired remains) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepRun {
    pub removed: u64,
    pub batches: u64,
    pub elapsed: Duration,
}

/// Calls `sweep` until it reports no more expired sessions, yielding between batches so
/// that requests queued meanwhile are served between them.
pub async fn sweep_until_done(store: &ComponentStore) -> Result<SweepRun, StoreError> {
    let started = Instant::now();
    let (mut removed, mut batches) = (0, 0);
    loop {
        let report = store.sweep().await?;
        removed += report.removed;
        batches += 1;
        if !report.more {
            return Ok(SweepRun { removed, batches, elapsed: started.elapsed() });
        }
        tokio::task::yield_now().await;
    }
}

/// A running sweep timer. Dropping it without [`Sweeper::stop`] leaves it running until
/// the runtime shuts down.
pub struct Sweeper {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Sweeper {
    /// Starts sweeping `store` on `schedule`. Each run logs what it removed and how long it
    /// took; a failed run is logged and the timer carries on.
    pub fn spawn(store: ComponentStore, schedule: Schedule) -> Sweeper {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            while let Some(delay) = schedule.next_delay() {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stopped.changed() => return,
                }
                tokio::select! {
                    run = sweep_until_done(&store) => match run {
                        Ok(run) => tracing::info!(
                            removed = run.removed, batches = run.batches,
                            elapsed_ms = run.elapsed.as_millis() as u64, "sweep done"
                        ),
                        Err(e) => tracing::warn!("sweep failed: {e}"),
                    },
                    _ = stopped.changed() => return,
                }
            }
        });
        Sweeper { stop, task }
    }

    /// Stops the timer and waits for it; a sweep batch in progress finishes first.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_expressions_with_seconds_parse_and_nonsense_is_refused() {
        assert!(Schedule::cron("0 */5 * * * *").is_ok());
        assert!(Schedule::cron("* * * * * *").is_ok());
        assert!(Schedule::cron("every five minutes").is_err());
    }

    #[test]
    fn a_cron_schedule_each_second_fires_within_a_second() {
        let schedule = Schedule::cron("* * * * * *").expect("valid");
        assert!(schedule.next_delay().expect("fires") <= Duration::from_secs(1));
    }
}
