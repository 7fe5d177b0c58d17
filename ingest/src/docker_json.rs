//! Docker json-file container log lines: `{"log":"…\n","stream":"stdout","time":"<RFC3339Nano>"}`.
//! A `log` value without a trailing newline is a partial chunk (Docker splits lines at 16 KiB).

use crate::decoded::Decoded;
use crate::reject::{Reason, Reject};
use schemas::{SourceFormat, Stream};
use serde::Deserialize;

#[derive(Deserialize)]
struct DockerLine {
    log: String,
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    time: Option<String>,
}

/// Decodes one docker json-file line; returns the chunk and whether it is partial.
///
/// # Errors
/// [`Reason::MalformedJson`] for invalid JSON; [`Reason::WrongShape`] for a missing `log` field or an
/// unknown stream; [`Reason::BadTimestamp`] for a bad `time`.
pub(crate) fn decode(line: &str) -> Result<(Decoded, bool), Reject> {
    let parsed: DockerLine =
        serde_json::from_str(line).map_err(|e| Reject::json("docker json-file line", &e))?;
    let (message, partial) = match parsed.log.strip_suffix('\n') {
        Some(line) => (line.strip_suffix('\r').unwrap_or(line).to_owned(), false),
        None => (parsed.log, true),
    };
    let mut decoded = Decoded::new(SourceFormat::DockerJson, message);
    decoded.stream = match parsed.stream.as_deref() {
        None => None,
        Some("stdout") => Some(Stream::Stdout),
        Some("stderr") => Some(Stream::Stderr),
        Some(other) => {
            return Err(Reject::shape(format!(
                "docker json-file line: bad stream {other:?}"
            )));
        }
    };
    if let Some(time) = parsed.time {
        decoded.event_time_ns = Some(crate::time::rfc3339_ns(&time).ok_or_else(|| {
            Reject::new(
                Reason::BadTimestamp,
                format!("docker json-file line: bad time {time:?}"),
            )
        })?);
    }
    Ok((decoded, partial))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_fluent_bit_fixture() {
        let line = include_str!("../tests/fixtures/docker-json.log").trim_end();
        let (decoded, partial) = decode(line).expect("fixture decodes");
        assert!(!partial);
        assert_eq!(decoded.message, "Fluent Bit is logging");
        assert_eq!(decoded.stream, Some(Stream::Stdout));
        assert_eq!(decoded.event_time_ns, Some(1_554_141_513_598_656_444));
    }

    #[test]
    fn classifies_bad_lines() {
        let cases = [
            ("{", Reason::MalformedJson),
            (r#"{"stream":"stdout"}"#, Reason::WrongShape),
            (r#"{"log":"x\n","stream":"stdin"}"#, Reason::WrongShape),
            (r#"{"log":"x\n","time":"noon"}"#, Reason::BadTimestamp),
        ];
        for (line, kind) in cases {
            assert_eq!(decode(line).expect_err(line).reason, kind, "{line}");
        }
        let (chunk, partial) = decode(r#"{"log":"no newline"}"#).expect("partial chunk");
        assert!(partial);
        assert_eq!(chunk.message, "no newline");
    }
}
