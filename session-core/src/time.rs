//! Deadline arithmetic in milliseconds since the Unix epoch: checked, so that a huge
//! lifetime means "far in the future" and never wraps into the past.

use std::time::Duration;

/// The largest timestamp a session carries, 2^53 − 1 ms (the year 287,396): every
/// reader of the record, JavaScript's numbers included, holds it exactly. Later times
/// saturate to it.
pub const MAX_TIMESTAMP: u64 = (1 << 53) - 1;

/// Whole milliseconds in `d`, saturating at `u64::MAX`.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `now_ms + d`, saturating at [`MAX_TIMESTAMP`] (or at `now_ms` for a clock already past
/// it): never earlier than `now_ms`.
pub fn offset(now_ms: u64, d: Duration) -> u64 {
    now_ms.saturating_add(millis(d)).min(MAX_TIMESTAMP.max(now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600_000;

    #[test]
    fn an_ordinary_lifetime_is_added() {
        assert_eq!(offset(NOW, Duration::from_secs(3600)), NOW + 3_600_000);
        assert_eq!(offset(NOW, Duration::ZERO), NOW);
    }

    #[test]
    fn a_huge_lifetime_saturates_in_the_future_and_never_wraps_into_the_past() {
        for huge in [
            Duration::MAX,
            Duration::from_millis(u64::MAX),
            Duration::from_millis(u64::MAX - NOW + 1),
        ] {
            assert_eq!(offset(NOW, huge), MAX_TIMESTAMP, "{huge:?}");
        }
        assert_eq!(millis(Duration::MAX), u64::MAX);
    }

    #[test]
    fn a_clock_beyond_the_largest_timestamp_is_never_moved_back() {
        assert_eq!(offset(u64::MAX, Duration::from_secs(1)), u64::MAX);
        assert_eq!(offset(MAX_TIMESTAMP + 5, Duration::from_secs(1)), MAX_TIMESTAMP + 5);
    }
}
