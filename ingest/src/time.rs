//! Timestamp parsing shared by the decoders.

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian; Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days in `month` (1–12) of `year` (proleptic Gregorian); `None` for no such month.
fn days_in_month(year: i64, month: i64) -> Option<i64> {
    Some(match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    })
}

fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// The common shape, `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, without allocation; `None` when the
/// text has another shape (then chrono decides).
fn fast_rfc3339_ns(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let len = i - start;
        if len == 0 {
            return None;
        }
        for _ in len..9 {
            nanos *= 10;
        }
    }
    let offset_secs = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let offset = digits(&[*h1, *h2])? * 3600 + digits(&[*m1, *m2])? * 60;
            if *sign == b'+' { offset } else { -offset }
        }
        _ => return None,
    };
    // Days that do not exist in the month (Feb 30) go to chrono, which rejects them.
    if day > days_in_month(year, month)? {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Parses an RFC 3339 timestamp (any precision, any offset) into ns since the Unix epoch. Valid times
/// outside the i64 ns range (before 1677, after 2262) saturate, so range checks still see them.
pub(crate) fn rfc3339_ns(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(ns) = fast_rfc3339_ns(text) {
        return Some(ns);
    }
    let time = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    Some(
        time.timestamp_nanos_opt()
            .unwrap_or(if time.timestamp() > 0 {
                i64::MAX
            } else {
                i64::MIN
            }),
    )
}

/// The US date-time that Azure Functions and App Service write in diagnostic records,
/// `MM/dd/yyyy HH:mm:ss[.fraction]` (also `M/d/yyyy h:mm:ss AM|PM`), read as UTC; `None` for any other
/// text or a date that does not exist.
pub(crate) fn us_datetime_ns(text: &str) -> Option<i64> {
    let mut parts = text.split_whitespace();
    let (date, clock, meridiem) = (parts.next()?, parts.next()?, parts.next());
    if parts.next().is_some() {
        return None;
    }
    let number = |t: &str, max_len: usize| {
        (!t.is_empty() && t.len() <= max_len)
            .then(|| digits(t.as_bytes()))
            .flatten()
    };
    let mut date = date.split('/');
    let (month, day, year) = (
        number(date.next()?, 2)?,
        number(date.next()?, 2)?,
        number(date.next()?, 4)?,
    );
    let mut clock = clock.split(':');
    let (mut hour, minute) = (number(clock.next()?, 2)?, number(clock.next()?, 2)?);
    let seconds = clock.next()?;
    let (second, fraction) = match seconds.split_once('.') {
        Some((s, f)) => (number(s, 2)?, Some(f)),
        None => (number(seconds, 2)?, None),
    };
    if date.next().is_some() || clock.next().is_some() || year < 1000 {
        return None;
    }
    match meridiem.map(str::to_ascii_uppercase).as_deref() {
        None => {}
        Some(m @ ("AM" | "PM")) if (1..=12).contains(&hour) => {
            hour = hour % 12 + if m == "PM" { 12 } else { 0 };
        }
        Some(_) => return None,
    }
    let nanos = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            let kept = &f[..f.len().min(9)];
            digits(kept.as_bytes())? * 10i64.pow(u32::try_from(9 - kept.len()).ok()?)
        }
        Some(_) => return None,
    };
    if !(1..=days_in_month(year, month)?).contains(&day) || hour > 23 || minute > 59 || second > 59
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
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
        assert_eq!(rfc3339_ns("2019-02-30T00:00:00Z"), None, "no such day");
    }

    #[test]
    fn us_date_times_as_azure_functions_write_them() {
        let utc = |text: &str| rfc3339_ns(text).expect("valid");
        assert_eq!(
            us_datetime_ns("10/06/2021 12:35:51"),
            Some(utc("2021-10-06T12:35:51Z"))
        );
        assert_eq!(
            us_datetime_ns("2/29/2024 3:04:05.1234567 PM"),
            Some(utc("2024-02-29T15:04:05.1234567Z"))
        );
        assert_eq!(
            us_datetime_ns("1/1/2025 12:00:00 AM"),
            Some(utc("2025-01-01T00:00:00Z"))
        );
        assert_eq!(
            us_datetime_ns("1/1/2025 12:30:00 PM"),
            Some(utc("2025-01-01T12:30:00Z"))
        );
        for bad in [
            "2/29/2023 00:00:00",
            "13/01/2021 00:00:00",
            "10/06/2021",
            "10/06/2021 24:00:00",
            "10/06/2021 13:00:00 PM",
            "10/06/21 12:00:00",
            "2021-10-06T12:35:51Z",
            "10/06/2021 12:35:51 UTC extra",
        ] {
            assert_eq!(us_datetime_ns(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_fast_path_agrees_with_chrono() {
        let samples = [
            "2019-05-07T18:57:50.904275087+00:00",
            "2024-02-29T23:59:59.1Z",
            "2000-03-01T00:00:00-05:30",
            "2026-11-28T06:00:00.123456789123Z",
            "1999-12-31T23:59:59Z",
        ];
        for text in samples {
            let chrono_ns = chrono::DateTime::parse_from_rfc3339(text)
                .expect("valid")
                .timestamp_nanos_opt();
            assert_eq!(fast_rfc3339_ns(text), chrono_ns, "{text}");
        }
    }
}
