//! The envelope formats a source topic can be configured with.

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
    /// AWS CloudWatch Logs subscription payloads (raw, gzip, base64, `awslogs`, Kinesis, Firehose).
    Cloudwatch,
    /// GCP Cloud Logging `LogEntry` (also inside Pub/Sub push messages).
    GcpLogEntry,
    /// Azure Monitor resource logs `{"records": […]}` (including AKS diagnostics and ContainerLogV2).
    AzureResourceLogs,
}

impl Format {
    /// Every format, with its name.
    pub const ALL: [(Format, &'static str); 9] = [
        (Format::Auto, "auto"),
        (Format::Cri, "cri"),
        (Format::DockerJson, "docker_json"),
        (Format::K8sEvent, "k8s_event"),
        (Format::JsonLine, "json_line"),
        (Format::PlainText, "plain_text"),
        (Format::Cloudwatch, "cloudwatch"),
        (Format::GcpLogEntry, "gcp_log_entry"),
        (Format::AzureResourceLogs, "azure_resource_logs"),
    ];

    /// The format's name in pipeline files.
    #[must_use]
    pub fn name(self) -> &'static str {
        Format::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("auto", |(_, n)| n)
    }
}

/// Error for a format name that is not one of [`Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}; expected one of: {names}", names = Format::ALL.map(|(_, n)| n).join(", "))]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .iter()
            .find(|(_, name)| *name == s)
            .map(|(format, _)| *format)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_parse_print_and_match_serde() {
        for (format, name) in Format::ALL {
            assert_eq!(name.parse::<Format>(), Ok(format));
            assert_eq!(format.to_string(), name);
            assert_eq!(
                serde_json::to_string(&format).expect("serialize"),
                format!("\"{name}\"")
            );
        }
        let err = "syslog".parse::<Format>().expect_err("unknown");
        assert!(err.to_string().contains("gcp_log_entry"));
    }
}
