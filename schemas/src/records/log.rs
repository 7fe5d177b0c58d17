//! [`LogRecord`]: one log line or event, normalised from whatever envelope it arrived in.

use crate::Target;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One normalised log record, produced by ingest on `medic.logs.normalized`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogRecord {
    /// Version of this record's schema ([`crate::SCHEMA_VERSION`] when written by this build).
    pub schema_version: u32,
    /// When the event happened, nanoseconds since the Unix epoch (from the envelope; observed time if absent).
    pub event_time_ns: i64,
    /// When medic (or the shipper, if it says) first saw the record, nanoseconds since the Unix epoch.
    pub observed_time_ns: i64,
    /// The envelope format the record was decoded from.
    pub source_format: SourceFormat,
    /// Normalised severity.
    pub severity: LogSeverity,
    /// The log message (for Events: the event message).
    pub message: String,
    /// stdout or stderr, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<Stream>,
    /// Where the record came from in the infrastructure.
    #[serde(default)]
    pub resource: Resource,
    /// Further key/value fields from the envelope (event reason, extracted fields, labels).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Where the record was read from, for provenance.
    pub source: SourceCoordinates,
}

impl LogRecord {
    /// The object this record is about: its workload (a Node for an Event about one), else its pod;
    /// `None` when the record names neither. A node hint alone is where the record was seen, not what it
    /// is about: it makes no target.
    #[must_use]
    pub fn target(&self) -> Option<Target> {
        self.workload().map(|workload| Target {
            pod: self.resource.pod.clone(),
            node: self.resource.node.clone(),
            ..workload
        })
    }

    /// [`LogRecord::target`] without its pod and node: the workload whose windows the record counts in.
    #[must_use]
    pub fn workload(&self) -> Option<Target> {
        self.resource.view().workload()
    }

    /// Whether this is a Kubernetes Event of type `Normal` that reports things going as expected
    /// (Scheduled, Pulled, Created, Started, Killing during a rollout, ScalingReplicaSet, …): context, never
    /// a fault on its own. An Event without a type counts as Normal when its severity is below Warning
    /// (Unspecified included); a type other than `Normal` is not assumed harmless. Exception: the node
    /// controller and the kubelet report a Node turning unhealthy (`NodeNotReady`, `NodeHasDiskPressure`,
    /// …) as Normal Events on the Node; those are faults ([`ADVERSE_NODE_REASONS`]).
    #[must_use]
    pub fn is_normal_event(&self) -> bool {
        self.view().is_normal_event()
    }
}

/// Reasons of the Normal Events with which the node controller and the kubelet report a Node turning
/// unhealthy. (`NodeNotSchedulable` is not one: it follows a cordon, which is someone's decision.)
pub const ADVERSE_NODE_REASONS: [&str; 5] = [
    "NodeNotReady",
    "NodeHasDiskPressure",
    "NodeHasInsufficientMemory",
    "NodeHasInsufficientPID",
    "Rebooted",
];

/// The envelope format a record was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// Kubernetes CRI container log line (`<time> <stream> <P|F> <message>`).
    Cri,
    /// Docker json-file container log line (`{"log":…,"stream":…,"time":…}`).
    DockerJson,
    /// A Kubernetes Event object (core/v1 or events.k8s.io/v1).
    K8sEvent,
    /// AWS CloudWatch Logs subscription payload.
    Cloudwatch,
    /// GCP Cloud Logging `LogEntry`.
    GcpLogEntry,
    /// Azure Monitor resource log record.
    AzureResourceLog,
    /// A plain JSON application log line.
    JsonLine,
    /// A plain text line.
    PlainText,
}

/// The output stream of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Normalised log severity (the union of syslog and Cloud Logging levels).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LogSeverity {
    /// The source did not say.
    Unspecified,
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Informational.
    Info,
    /// Normal but significant.
    Notice,
    /// Warning (Kubernetes `Warning` events land here).
    Warning,
    /// Error.
    Error,
    /// Critical.
    Critical,
    /// Action must be taken immediately.
    Alert,
    /// The system is unusable.
    Emergency,
}

impl LogSeverity {
    /// Every severity, least severe first.
    pub const ALL: [LogSeverity; 10] = [
        LogSeverity::Unspecified,
        LogSeverity::Trace,
        LogSeverity::Debug,
        LogSeverity::Info,
        LogSeverity::Notice,
        LogSeverity::Warning,
        LogSeverity::Error,
        LogSeverity::Critical,
        LogSeverity::Alert,
        LogSeverity::Emergency,
    ];

    /// The wire name (`info`, `warning`, …).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LogSeverity::Unspecified => "unspecified",
            LogSeverity::Trace => "trace",
            LogSeverity::Debug => "debug",
            LogSeverity::Info => "info",
            LogSeverity::Notice => "notice",
            LogSeverity::Warning => "warning",
            LogSeverity::Error => "error",
            LogSeverity::Critical => "critical",
            LogSeverity::Alert => "alert",
            LogSeverity::Emergency => "emergency",
        }
    }

    /// The severity with wire name `name`, if any.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether this severity is `error` or worse.
    #[must_use]
    pub fn is_error(self) -> bool {
        self >= LogSeverity::Error
    }
}

/// Where a record came from: cloud, cluster and Kubernetes object coordinates. Every field is optional
/// because every envelope knows a different subset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Resource {
    /// Cloud provider (`aws`, `gcp`, `azure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<String>,
    /// Cloud account / subscription id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Cloud region / location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Cloud project (GCP) or resource group (Azure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Kubernetes cluster name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Kubernetes namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The workload that owns the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<Workload>,
    /// Pod name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Container name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Node name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A workload: the controller that owns pods (kind and name, e.g. `Deployment/checkout`).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct Workload {
    /// Owner kind (`Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `Node`, …).
    pub kind: String,
    /// Owner name.
    pub name: String,
}

/// Kafka coordinates of the record a stage read, carried forward for provenance.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct SourceCoordinates {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
    /// The record's place in a framed message ([`crate::frame`]): several records share one offset
    /// there. 0 (and left out of the JSON) for a message that holds one record.
    #[serde(default, skip_serializing_if = "super::is_zero")]
    pub index: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_names_match_the_wire_format() {
        for severity in LogSeverity::ALL {
            let wire = serde_json::to_string(&severity).expect("encodes");
            assert_eq!(wire, format!("\"{}\"", severity.as_str()));
            assert_eq!(LogSeverity::from_name(severity.as_str()), Some(severity));
        }
    }
}
