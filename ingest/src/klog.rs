//! klog headers: `Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg` (Kubernetes components' log lines).

use schemas::LogSeverity;

/// A parsed klog line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KlogLine<'a> {
    pub severity: LogSeverity,
    pub month: u32,
    pub day: u32,
    /// `hh:mm:ss.uuuuuu`
    pub time: &'a str,
    pub pid: &'a str,
    /// `file.go:47`
    pub source: &'a str,
    pub message: &'a str,
}

/// Parses a klog line; `None` when the header does not match.
pub(crate) fn parse(line: &str) -> Option<KlogLine<'_>> {
    let severity = match line.as_bytes().first()? {
        b'I' => LogSeverity::Info,
        b'W' => LogSeverity::Warning,
        b'E' => LogSeverity::Error,
        b'F' => LogSeverity::Critical,
        _ => return None,
    };
    let month = line
        .get(1..3)?
        .parse()
        .ok()
        .filter(|m| (1..=12).contains(m))?;
    let day = line
        .get(3..5)?
        .parse()
        .ok()
        .filter(|d| (1..=31).contains(d))?;
    let rest = line.get(5..)?.strip_prefix(' ')?;
    let (time, rest) = rest.split_once(' ')?;
    if time.len() < 8
        || !time
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b':' || b == b'.')
    {
        return None;
    }
    let rest = rest.trim_start();
    // The thread id is missing in some exports (`07:27:25.9763861 event.go:221]`): a first token shaped
    // like `file.go:N]` is the source.
    let (first, after_first) = rest.split_once(' ').unwrap_or((rest, ""));
    let (pid, rest) = if first.ends_with(']') && first.contains(':') {
        ("", rest)
    } else {
        (first, after_first.trim_start())
    };
    let (source, message) = rest
        .split_once("] ")
        .or_else(|| rest.strip_suffix(']').map(|s| (s, "")))?;
    Some(KlogLine {
        severity,
        month,
        day,
        time,
        pid,
        source,
        message,
    })
}

impl KlogLine<'_> {
    /// The event time, taking the year from `reference_ns` (klog omits it); the previous year when the
    /// month lies ahead of the reference (a December line read in January).
    pub(crate) fn time_ns(&self, reference_ns: i64) -> Option<i64> {
        use chrono::{Datelike, NaiveDate, NaiveTime};
        let reference = chrono::DateTime::from_timestamp_nanos(reference_ns);
        let year = if self.month > reference.month() + 1 {
            reference.year() - 1
        } else {
            reference.year()
        };
        let date = NaiveDate::from_ymd_opt(year, self.month, self.day)?;
        let time = NaiveTime::parse_from_str(self.time, "%H:%M:%S%.f").ok()?;
        date.and_time(time).and_utc().timestamp_nanos_opt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_klog_headers() {
        let line = parse("I0624 20:14:59.855669       1 wrap.go:47] PUT /api/v1/namespaces 200")
            .expect("klog");
        assert_eq!(
            (line.severity, line.month, line.day),
            (LogSeverity::Info, 6, 24)
        );
        assert_eq!(
            (line.pid, line.source, line.message),
            ("1", "wrap.go:47", "PUT /api/v1/namespaces 200")
        );
        let reference = chrono::DateTime::parse_from_rfc3339("2019-06-24T20:14:59Z").expect("time");
        let ns = line
            .time_ns(reference.timestamp_nanos_opt().expect("ns"))
            .expect("time");
        assert_eq!(
            chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339(),
            "2019-06-24T20:14:59.855669+00:00"
        );
        let no_pid = parse("I0624 07:27:25.9763861 event.go:221] Event(v1.ObjectReference{})")
            .expect("klog");
        assert_eq!(
            (no_pid.pid, no_pid.source, no_pid.message),
            ("", "event.go:221", "Event(v1.ObjectReference{})")
        );
        let warning =
            parse("W0622 13:44:21.123456  12 reflector.go:302] watch ended").expect("klog");
        assert_eq!(warning.severity, LogSeverity::Warning);
        for bad in [
            "",
            "X0624 20:14:59.1 1 a.go:1] m",
            "I1324 20:14:59.1 1 a.go:1] m",
            "I0624 noon 1 a.go:1] m",
            "INFO started",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
