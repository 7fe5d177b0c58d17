//! Loghub log-format headers: `<Date> <Time> <Level> <Component>: <Content>` — named fields in angle
//! brackets, literal text between them (regex escapes such as `\[` allowed), the message in `<Content>`.

use regex::Regex;

/// A compiled header.
#[derive(Debug, Clone)]
pub struct LogFormat {
    regex: Regex,
    /// The header as literal/field segments, for the allocation-free matcher.
    segments: Vec<Segment>,
}

/// One part of a header.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// A named field (`Content` is the message).
    Field(String),
    /// Literal text; each space in it matches a run of whitespace.
    Literal(String),
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
        let mut segments = Vec::new();
        let mut rest = format;
        while let Some(open) = rest.find('<') {
            let Some(close) = rest[open..].find('>').map(|c| open + c) else {
                break;
            };
            pattern.push_str(&literal(&rest[..open]));
            push_literal(&mut segments, &rest[..open]);
            let name = &rest[open + 1..close];
            if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.is_empty() {
                pattern.push_str(&format!("(?P<{name}>.*?)"));
                segments.push(Segment::Field(name.to_owned()));
            } else {
                pattern.push_str(&regex::escape(&rest[open..=close]));
                push_literal(&mut segments, &rest[open..=close]);
            }
            rest = &rest[close + 1..];
        }
        pattern.push_str(&literal(rest));
        push_literal(&mut segments, rest);
        pattern.push('$');
        let regex = Regex::new(&pattern).map_err(|e| LogFormatError::Invalid {
            format: format.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self { regex, segments })
    }

    /// The `<Content>` of `line`, or the whole line when it does not match the header.
    #[must_use]
    pub fn content<'a>(&self, line: &'a str) -> &'a str {
        if let Some(content) = self.fast_content(line) {
            return content;
        }
        self.regex
            .captures(line)
            .and_then(|c| c.name("Content"))
            .map_or(line, |m| m.as_str())
    }

    /// Matches fields lazily (each ends at the earliest occurrence of the next literal that lets the
    /// rest match, as the regex's lazy groups do), without the regex engine; `None` when no reading is
    /// found within [`MATCH_BUDGET`] literal attempts (the regex then decides).
    fn fast_content<'a>(&self, line: &'a str) -> Option<&'a str> {
        let mut budget = MATCH_BUDGET;
        self.match_from(line, 0, 0, None, &mut budget).flatten()
    }

    /// Matches `segments[index..]` against `line[pos..]`, `field` being the field still open before
    /// them. `Some(content)` on a match (`content` when `<Content>` lies in this part).
    fn match_from<'a>(
        &self,
        line: &'a str,
        index: usize,
        pos: usize,
        field: Option<&str>,
        budget: &mut usize,
    ) -> Option<Option<&'a str>> {
        let Some(segment) = self.segments.get(index) else {
            return match field {
                Some("Content") => Some(Some(&line[pos..])),
                Some(_) => Some(None),
                None => (pos == line.len()).then_some(None),
            };
        };
        let text = match segment {
            Segment::Field(name) => {
                return self.match_from(line, index + 1, pos, Some(name), budget);
            }
            Segment::Literal(text) => text,
        };
        let mut from = 0;
        while let Some((start, end)) = find_literal(&line[pos..], text, field.is_none(), from) {
            *budget = budget.checked_sub(1)?;
            if let Some(rest) = self.match_from(line, index + 1, pos + end, None, budget) {
                return Some(if field == Some("Content") {
                    Some(&line[pos..pos + start])
                } else {
                    rest
                });
            }
            // Without an open field the literal is anchored: it has one placement only.
            field?;
            from = start + 1;
        }
        None
    }
}

/// Literal placements [`LogFormat::fast_content`] tries per line before leaving it to the regex.
const MATCH_BUDGET: usize = 64;

fn push_literal(segments: &mut Vec<Segment>, text: &str) {
    if text.is_empty() {
        return;
    }
    // The header's regex escapes (`\[`, `\|`) stand for the character itself.
    let mut literal = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                literal.push(next);
            }
        } else {
            literal.push(c);
        }
    }
    match segments.last_mut() {
        Some(Segment::Literal(previous)) => previous.push_str(&literal),
        _ => segments.push(Segment::Literal(literal)),
    }
}

/// Finds `literal` in `haystack` at or after byte `from` (each space in it matching a non-empty
/// whitespace run); returns the byte range of the match. With `anchored`, only a match at the start
/// counts. Allocates nothing: it runs per header literal per line.
fn find_literal(
    haystack: &str,
    literal: &str,
    anchored: bool,
    from: usize,
) -> Option<(usize, usize)> {
    // A run of k spaces in the literal matches k or more whitespace characters (the regex's `\s+` per
    // space); the run is consumed whole, as the next literal part does not start with whitespace.
    let whitespace = |pos: usize, at_least: usize| -> Option<usize> {
        let rest = &haystack[pos..];
        let run = rest.len() - rest.trim_start().len();
        (rest[..run].chars().count() >= at_least).then_some(pos + run)
    };
    let matches_at = |start: usize| -> Option<usize> {
        let mut parts = literal.split(' ');
        let first = parts.next().unwrap_or_default();
        let mut pos = start;
        if !haystack[pos..].starts_with(first) {
            return None;
        }
        pos += first.len();
        let mut spaces = 0;
        for part in parts {
            spaces += 1;
            if part.is_empty() {
                continue;
            }
            pos = whitespace(pos, spaces)?;
            spaces = 0;
            if !haystack[pos..].starts_with(part) {
                return None;
            }
            pos += part.len();
        }
        if spaces > 0 {
            pos = whitespace(pos, spaces)?;
        }
        Some(pos)
    };
    if anchored {
        return (from == 0)
            .then(|| matches_at(0).map(|end| (0, end)))
            .flatten();
    }
    let tail = haystack.get(from..)?;
    let first = literal.split(' ').next().unwrap_or_default();
    if first.is_empty() {
        // Only the start of a whitespace run: a later start in the same run ends where it does, or fails.
        let mut previous_is_space = haystack[..from].ends_with(char::is_whitespace);
        tail.char_indices()
            .filter(|&(_, c)| {
                let run_start = c.is_whitespace() && !previous_is_space;
                previous_is_space = c.is_whitespace();
                run_start
            })
            .find_map(|(i, _)| matches_at(from + i).map(|end| (from + i, end)))
    } else {
        tail.match_indices(first)
            .find_map(|(i, _)| matches_at(from + i).map(|end| (from + i, end)))
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
        let zookeeper =
            LogFormat::new(r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>")
                .expect("valid");
        let line = "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200";
        assert_eq!(zookeeper.content(line), "Notification time out: 3200");
    }

    #[test]
    fn the_fast_matcher_agrees_with_the_regex() {
        let cases = [
            (
                "<Date> <Time> <Pid> <Level> <Component>: <Content>",
                "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating",
            ),
            (
                r"\[<Time>\] <Program> - <Content>",
                "[10.30 16:49:06] chrome.exe - a:1 open through proxy b:2 HTTPS",
            ),
            (
                r"<Time>\|<Component>\|<Pid>\|<Content>",
                "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
            ),
            (
                "<Date> <Time> <Level> <Component>: <Content>",
                "only three tokens",
            ),
            (
                // The first `:` after <Node> is inside it: the reading has to try the next one.
                r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
                "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
            ),
            (
                "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
                "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected",
            ),
        ];
        for (header, line) in cases {
            let format = LogFormat::new(header).expect("valid");
            let by_regex = format
                .regex
                .captures(line)
                .and_then(|c| c.name("Content"))
                .map(|m| m.as_str());
            let fast = format.fast_content(line);
            // The fast reading must succeed wherever the regex does on these headers, the Zookeeper
            // one included (a fast path that always gave up would still agree through the fallback).
            assert_eq!(fast, by_regex, "{header} | {line}");
            assert_eq!(format.content(line), by_regex.unwrap_or(line));
        }
    }
}
