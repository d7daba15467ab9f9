//! Where "now" comes from.
//!
//! Inside the component `SystemTime` is `wasi:clocks/wall-clock`, which the host owns: a
//! host (or a test) that sets its wall clock moves every expiry decision with it.

use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time in milliseconds since the Unix epoch, UTC.
pub trait Clock {
    fn now_ms(&self) -> u64;
}

/// The wall clock: the OS clock natively, `wasi:clocks/wall-clock` in the component.
#[derive(Debug, Default, Clone, Copy)]
pub struct WallClock;

impl Clock for WallClock {
    fn now_ms(&self) -> u64 {
        // A clock before 1970 is treated as the epoch: every stored session then counts
        // as active rather than the store failing.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}
