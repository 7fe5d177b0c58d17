//! Wall-clock time as stages see it. Stages take a `fn() -> i64` clock so tests can freeze time.

/// A clock: ns since the Unix epoch.
pub type Clock = fn() -> i64;

/// The system wall clock, ns since the Unix epoch (saturating; 0 before 1970).
#[must_use]
pub fn wall_clock_ns() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_nanos()).unwrap_or(i64::MAX)
}

/// Seconds from a config value as ns, saturating at `i64::MAX` (about 292 years).
#[must_use]
pub fn secs_to_ns(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX)
}

/// Milliseconds from a config value as ns, saturating at `i64::MAX`.
#[must_use]
pub fn millis_to_ns(millis: u64) -> i64 {
    i64::try_from(millis.saturating_mul(1_000_000)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_saturate() {
        assert_eq!(secs_to_ns(3), 3_000_000_000);
        assert_eq!(millis_to_ns(3), 3_000_000);
        assert_eq!(secs_to_ns(u64::MAX), i64::MAX);
        assert!(wall_clock_ns() > 1_600_000_000_000_000_000);
    }
}
