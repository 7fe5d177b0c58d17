//! Timestamp parsing shared by the decoders.

/// Parses an RFC 3339 timestamp (any precision, any offset) into ns since the Unix epoch. Valid times
/// outside the i64 ns range (before 1677, after 2262) saturate, so range checks still see them.
pub(crate) fn rfc3339_ns(text: &str) -> Option<i64> {
    let time = chrono::DateTime::parse_from_rfc3339(text.trim()).ok()?;
    Some(
        time.timestamp_nanos_opt()
            .unwrap_or(if time.timestamp() > 0 {
                i64::MAX
            } else {
                i64::MIN
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nanos_and_offsets() {
        assert_eq!(
            rfc3339_ns("1970-01-01T00:00:01.000000002Z"),
            Some(1_000_000_002)
        );
        assert_eq!(rfc3339_ns("1970-01-01T01:00:01+01:00"), Some(1_000_000_000));
        assert_eq!(rfc3339_ns("yesterday"), None);
        assert_eq!(rfc3339_ns("2999-01-01T00:00:00Z"), Some(i64::MAX));
    }
}
