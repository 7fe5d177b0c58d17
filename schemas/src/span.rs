//! [`Span`]: a length of time written with its unit in pipeline files (`500ms`, `10s`, `1m`, `2h`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A non-negative length of time, in nanoseconds, read from and written as `<number><unit>` with unit
/// `ms`, `s`, `m`, `h` or `d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(i64);

const UNITS: [(&str, i64); 5] = [
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

impl Span {
    /// A span of `secs` seconds.
    #[must_use]
    pub const fn secs(secs: i64) -> Self {
        Self(secs * 1_000_000_000)
    }

    /// A span of `millis` milliseconds.
    #[must_use]
    pub const fn millis(millis: i64) -> Self {
        Self(millis * 1_000_000)
    }

    /// A span of `nanos` nanoseconds.
    #[must_use]
    pub const fn from_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    /// The span in nanoseconds.
    #[must_use]
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// The span in whole milliseconds.
    #[must_use]
    pub const fn as_millis(self) -> i64 {
        self.0 / 1_000_000
    }

    /// The span as a [`Duration`](std::time::Duration) (a negative span, which parsing never gives, as
    /// zero).
    #[must_use]
    pub fn as_duration(self) -> std::time::Duration {
        std::time::Duration::from_nanos(u64::try_from(self.0).unwrap_or(0))
    }

    /// Parses `10s`, `1m`, `500ms`, …
    ///
    /// # Errors
    /// A message naming the accepted form.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let bad = || format!("{text:?} is not a duration like 500ms, 10s, 1m, 2h or 1d");
        let number: i64 = number.parse().map_err(|_| bad())?;
        let (_, scale) = UNITS.iter().find(|(u, _)| *u == unit).ok_or_else(bad)?;
        number.checked_mul(*scale).map(Self).ok_or_else(bad)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (unit, scale) = UNITS
            .iter()
            .rev()
            .find(|(_, scale)| self.0 % scale == 0 && self.0 != 0)
            .copied()
            .unwrap_or(("ms", 1_000_000));
        write!(f, "{}{unit}", self.0 / scale)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_with_units() {
        assert_eq!(Span::parse("10s"), Ok(Span::secs(10)));
        assert_eq!(Span::parse("1m"), Ok(Span::secs(60)));
        assert_eq!(Span::parse("500ms").map(Span::as_nanos), Ok(500_000_000));
        assert_eq!(Span::secs(90).to_string(), "90s");
        assert_eq!(Span::secs(3600).to_string(), "1h");
        assert_eq!(Span::secs(0).to_string(), "0ms");
        assert_eq!(Span::millis(1500).to_string(), "1500ms");
        assert_eq!(Span::millis(1500).as_millis(), 1500);
        assert_eq!(
            Span::millis(250).as_duration(),
            std::time::Duration::from_millis(250)
        );
        for bad in ["10", "s", "1.5s", "-1s", "10 parsecs", "99999999999999d"] {
            assert!(Span::parse(bad).is_err(), "{bad}");
        }
    }
}
