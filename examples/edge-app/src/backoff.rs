//! The pause between a conditional update that another request's save beat and the next
//! attempt: random ("full jitter") up to a bound that doubles with each lost attempt, so
//! saves racing on one session spread out instead of colliding again in step. Under
//! `wasmtime serve` racing requests may run in different instances, which share nothing
//! but the store, so the pause is the only way they take turns.

use wasip3::clocks::monotonic_clock;
use wasip3::random::insecure::get_insecure_random_u64;

/// The bound of the pause after the first lost attempt, in ns; it doubles with each one.
const FIRST_BOUND_NS: u64 = 2_000_000;

/// The largest bound, in ns: the pauses of one save's `SAVE_ATTEMPTS` add up to ~0.5 s at
/// most.
const MAX_BOUND_NS: u64 = 128_000_000;

/// Waits, on the host's clock (the instance serves other requests meanwhile), a random
/// time below the bound for the `lost`-th lost attempt (1 = the first).
pub async fn pause(lost: u32) {
    let doublings = lost.saturating_sub(1).min(16);
    let bound = (FIRST_BOUND_NS << doublings).min(MAX_BOUND_NS);
    monotonic_clock::wait_for(get_insecure_random_u64() % bound).await;
}
