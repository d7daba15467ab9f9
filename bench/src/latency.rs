//! Latency samples and the figures taken from them.

use std::time::Duration;

use serde::Serialize;

/// Throughput and latency of one measured series of operations.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Figures {
    pub ops: u64,
    pub ops_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Figures of sequential operations: `samples` are the latencies, `elapsed` the wall time
/// the whole series took.
pub fn figures(samples: &mut [Duration], elapsed: Duration) -> Figures {
    if samples.is_empty() {
        return Figures::default();
    }
    samples.sort_unstable();
    Figures {
        ops: samples.len() as u64,
        ops_per_s: samples.len() as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE),
        p50_ms: ms(percentile(samples, 0.50)),
        p99_ms: ms(percentile(samples, 0.99)),
        max_ms: ms(samples[samples.len() - 1]),
    }
}

/// The nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
