//! The envelope formats ingest understands, and detection by shape.

use schemas::SourceFormat;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The format configured for a source topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Detect each record's format by its shape; the detected format is recorded on the record.
    Auto,
    /// Kubernetes CRI container log lines.
    Cri,
    /// Docker json-file container log lines.
    DockerJson,
    /// Kubernetes Event objects.
    K8sEvent,
    /// JSON application log lines.
    JsonLine,
    /// Plain text application log lines.
    PlainText,
}

impl Format {
    /// Every format name, for error messages.
    pub const NAMES: [&'static str; 6] = [
        "auto",
        "cri",
        "docker_json",
        "k8s_event",
        "json_line",
        "plain_text",
    ];
}

/// Error for a format name that is not one of [`Format::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}; expected one of: {names}", names = Format::NAMES.join(", "))]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => Format::Auto,
            "cri" => Format::Cri,
            "docker_json" => Format::DockerJson,
            "k8s_event" => Format::K8sEvent,
            "json_line" => Format::JsonLine,
            "plain_text" => Format::PlainText,
            other => return Err(UnknownFormat(other.to_owned())),
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Format::Auto => "auto",
            Format::Cri => "cri",
            Format::DockerJson => "docker_json",
            Format::K8sEvent => "k8s_event",
            Format::JsonLine => "json_line",
            Format::PlainText => "plain_text",
        };
        f.write_str(name)
    }
}

/// Detects the format of one payload by its shape. JSON objects are told apart by their keys; text by
/// the CRI line prefix. Anything else is plain text.
#[must_use]
pub fn detect(payload: &str) -> SourceFormat {
    let trimmed = payload.trim_start();
    if trimmed.starts_with('{') {
        return match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(trimmed) {
            Ok(obj)
                if obj.contains_key("log")
                    && (obj.contains_key("stream") || obj.contains_key("time")) =>
            {
                SourceFormat::DockerJson
            }
            Ok(obj) if crate::k8s_event::looks_like_event(&obj) => SourceFormat::K8sEvent,
            _ => SourceFormat::JsonLine,
        };
    }
    if crate::cri::looks_like_cri(trimmed) {
        SourceFormat::Cri
    } else {
        SourceFormat::PlainText
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_shape() {
        let cases = [
            (
                "2019-05-07T18:57:50.904275087+00:00 stdout P 1a. some ",
                SourceFormat::Cri,
            ),
            (
                r#"{"log":"Fluent Bit is logging\n","stream":"stdout","time":"2019-04-01T17:58:33.598656444Z"}"#,
                SourceFormat::DockerJson,
            ),
            (
                r#"{"apiVersion":"v1","kind":"Event","involvedObject":{"kind":"Pod","name":"p"},"reason":"BackOff","message":"m"}"#,
                SourceFormat::K8sEvent,
            ),
            (r#"{"level":"error","msg":"boom"}"#, SourceFormat::JsonLine),
            ("{not json at all", SourceFormat::JsonLine),
            ("ERROR something failed", SourceFormat::PlainText),
        ];
        for (input, expected) in cases {
            assert_eq!(detect(input), expected, "{input}");
        }
    }

    #[test]
    fn format_names_parse_and_print() {
        for name in Format::NAMES {
            let format: Format = name.parse().expect("known name");
            assert_eq!(format.to_string(), name);
        }
        let err = "syslog".parse::<Format>().expect_err("unknown");
        assert!(err.to_string().contains("docker_json"));
    }
}
