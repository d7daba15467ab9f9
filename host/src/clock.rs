//! The wall clock the guest sees (`wasi:clocks/wall-clock`).
//!
//! Every expiry decision in the component reads this clock, so tests and tools move time
//! here instead of sleeping: [`HostClock::advance`] shifts what every instance sharing
//! the clock sees, at once.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wasmtime_wasi::HostWallClock;

/// The system clock plus a shared, adjustable offset (zero by default).
#[derive(Debug, Clone, Default)]
pub struct HostClock {
    offset_ms: Arc<AtomicI64>,
}

impl HostClock {
    /// Moves the guest's "now" forward by `by` (cumulative).
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Moves the guest's "now" back by `by` (cumulative): writes made meanwhile look
    /// older to every other clock.
    pub fn rewind(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_sub(ms, Ordering::SeqCst);
    }

    /// The guest's current time, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        let system = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let system_ms = i64::try_from(system.as_millis()).unwrap_or(i64::MAX);
        u64::try_from(system_ms.saturating_add(self.offset_ms.load(Ordering::SeqCst))).unwrap_or(0)
    }
}

impl HostWallClock for HostClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        Duration::from_millis(self.now_ms())
    }
}
