//! Loghub log-format headers: `<Date> <Time> <Level> <Component>: <Content>` — named fields in angle
//! brackets, literal text between them (regex escapes such as `\[` allowed), the message in `<Content>`.

use regex::Regex;

/// A compiled header.
#[derive(Debug, Clone)]
pub struct LogFormat {
    regex: Regex,
}

/// Error for a header that does not compile or has no `<Content>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogFormatError {
    /// The header has no `<Content>` field.
    #[error("log format {0:?} has no <Content> field")]
    NoContent(String),
    /// The header does not compile to a regular expression.
    #[error("log format {format:?} is not valid: {reason}")]
    Invalid {
        /// The header.
        format: String,
        /// Why.
        reason: String,
    },
}

impl LogFormat {
    /// Compiles a header: each `<Name>` becomes a lazy named group, runs of spaces match any whitespace.
    ///
    /// # Errors
    /// [`LogFormatError`] when the header has no `<Content>` or does not compile.
    pub fn new(format: &str) -> Result<Self, LogFormatError> {
        if !format.contains("<Content>") {
            return Err(LogFormatError::NoContent(format.to_owned()));
        }
        let mut pattern = String::from("^");
        let mut rest = format;
        while let Some(open) = rest.find('<') {
            let Some(close) = rest[open..].find('>').map(|c| open + c) else {
                break;
            };
            pattern.push_str(&literal(&rest[..open]));
            let name = &rest[open + 1..close];
            if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.is_empty() {
                pattern.push_str(&format!("(?P<{name}>.*?)"));
            } else {
                pattern.push_str(&regex::escape(&rest[open..=close]));
            }
            rest = &rest[close + 1..];
        }
        pattern.push_str(&literal(rest));
        pattern.push('$');
        let regex = Regex::new(&pattern).map_err(|e| LogFormatError::Invalid {
            format: format.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self { regex })
    }

    /// The `<Content>` of `line`, or the whole line when it does not match the header.
    #[must_use]
    pub fn content<'a>(&self, line: &'a str) -> &'a str {
        self.regex
            .captures(line)
            .and_then(|c| c.name("Content"))
            .map_or(line, |m| m.as_str())
    }
}

/// Literal header text as a pattern: spaces match any run of whitespace; the header's own regex escapes
/// (`\[`) are kept.
fn literal(text: &str) -> String {
    text.split(' ')
        .map(|part| {
            if part.contains('\\') {
                part.to_owned()
            } else {
                regex::escape(part)
            }
        })
        .collect::<Vec<_>>()
        .join(r"\s+")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_content_with_loghub_headers() {
        let hdfs =
            LogFormat::new("<Date> <Time> <Pid> <Level> <Component>: <Content>").expect("valid");
        assert_eq!(
            hdfs.content("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_1 terminating"),
            "PacketResponder 1 for block blk_1 terminating"
        );
        let proxifier = LogFormat::new(r"\[<Time>\] <Program> - <Content>").expect("valid");
        assert_eq!(
            proxifier.content("[10.30 16:49:06] chrome.exe - a:1 open through proxy b:2 HTTPS"),
            "a:1 open through proxy b:2 HTTPS"
        );
        assert_eq!(
            proxifier.content("no header here"),
            "no header here",
            "unmatched lines are parsed whole"
        );
        assert!(matches!(
            LogFormat::new("<Date> <Time>"),
            Err(LogFormatError::NoContent(_))
        ));
    }
}
