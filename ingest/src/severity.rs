//! Severity detection for application lines that do not carry a structured level.

use schemas::LogSeverity;

/// Maps a level name as written by common loggers (`ERROR`, `warn`, `E`, `fatal`, `Warning`) to a severity.
#[must_use]
pub(crate) fn from_level_name(level: &str) -> Option<LogSeverity> {
    let lower = level.trim().to_ascii_lowercase();
    Some(match lower.as_str() {
        "trace" | "finest" | "finer" => LogSeverity::Trace,
        "debug" | "fine" | "d" => LogSeverity::Debug,
        "info" | "information" | "informational" | "i" => LogSeverity::Info,
        "notice" => LogSeverity::Notice,
        "warn" | "warning" | "w" => LogSeverity::Warning,
        "error" | "err" | "e" | "severe" => LogSeverity::Error,
        "critical" | "crit" | "fatal" | "f" | "panic" => LogSeverity::Critical,
        "alert" => LogSeverity::Alert,
        "emergency" | "emerg" => LogSeverity::Emergency,
        _ => return None,
    })
}

/// Detects the severity of a plain text line from its leading tokens: a klog header (`E0624 …`), a
/// bracketed or bare level word among the first few tokens (`[ERROR]`, `ERROR`, `level=error`).
#[must_use]
pub(crate) fn detect_in_text(message: &str) -> LogSeverity {
    if let Some(severity) = klog_severity(message) {
        return severity;
    }
    for token in message.split_whitespace().take(6) {
        let token =
            token.trim_matches(|c: char| matches!(c, '[' | ']' | '(' | ')' | ':' | ',' | '|'));
        let value = token
            .strip_prefix("level=")
            .or_else(|| token.strip_prefix("lvl="))
            .or_else(|| token.strip_prefix("severity="))
            .unwrap_or(token);
        // Only multi-letter words count here: single letters are too ambiguous outside klog headers.
        if value.len() > 1
            && let Some(severity) = from_level_name(value)
        {
            return severity;
        }
    }
    LogSeverity::Unspecified
}

/// klog header: `Lmmdd hh:mm:ss.uuuuuu …` where L is one of I, W, E, F.
fn klog_severity(message: &str) -> Option<LogSeverity> {
    let bytes = message.as_bytes();
    if bytes.len() < 6 || !bytes[1..5].iter().all(u8::is_ascii_digit) || bytes[5] != b' ' {
        return None;
    }
    Some(match bytes[0] {
        b'I' => LogSeverity::Info,
        b'W' => LogSeverity::Warning,
        b'E' => LogSeverity::Error,
        b'F' => LogSeverity::Critical,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_levels_in_common_shapes() {
        let cases = [
            (
                "E0624 20:14:59.855669       1 reflector.go:47] failed",
                LogSeverity::Error,
            ),
            (
                "I0624 20:14:59.855669       1 file.go:47] ok",
                LogSeverity::Info,
            ),
            ("[ERROR] Second test message", LogSeverity::Error),
            (
                "18:03:14.806 ERROR o.a.c.c.C.[.[.[.[dispatcherServlet]#175 boom",
                LogSeverity::Error,
            ),
            (
                "time=\"2021\" level=warning msg=\"slow\"",
                LogSeverity::Warning,
            ),
            ("2023-01-29 10:03:14 INFO started", LogSeverity::Info),
            (
                "java.lang.OutOfMemoryError: Java heap space",
                LogSeverity::Unspecified,
            ),
            ("e is for elephant", LogSeverity::Unspecified),
        ];
        for (line, expected) in cases {
            assert_eq!(detect_in_text(line), expected, "{line}");
        }
    }
}
