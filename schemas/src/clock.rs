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
