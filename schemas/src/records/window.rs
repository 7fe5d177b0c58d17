//! [`WindowFeatures`]: aggregates of one workload over one event-time window.

use crate::{SourceCoordinates, SourceRef, Target};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Features of one workload over one closed event-time window, produced by enrich on `medic.windows`
/// once the watermark passes the window's end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WindowFeatures {
    /// Version of this record's schema.
    pub schema_version: u32,
    /// Name of the window definition (`[[enrich.windows]]`) that produced it.
    #[serde(default)]
    pub window: String,
    /// The workload the window aggregates.
    pub target: Target,
    /// The template, when the window definition groups by template as well as by workload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// 0 for the first emission; each correction re-emitted for late records adds one.
    #[serde(default)]
    pub revision: u32,
    /// Window start (inclusive), ns since the epoch.
    pub window_start_ns: i64,
    /// Window end (exclusive), ns since the epoch.
    pub window_end_ns: i64,
    /// Records in the window.
    pub record_count: u64,
    /// Records of severity `warning`.
    pub warning_count: u64,
    /// Records of severity `error` or worse.
    pub error_count: u64,
    /// `error_count / record_count`.
    pub error_rate: f64,
    /// Records per severity (`info`, `warning`, `error`, …).
    #[serde(default)]
    pub severity_counts: BTreeMap<String, u64>,
    /// Distinct templates seen.
    pub distinct_templates: u64,
    /// Templates never seen for this workload in an earlier window (since the stage's state began).
    #[serde(default)]
    pub new_templates: u64,
    /// Change of `record_count` against the workload's window one slide earlier:
    /// `(count - previous) / max(previous, 1)`; a window after a silent one counts against 0.
    #[serde(default)]
    pub rate_of_change: f64,
    /// The most frequent templates, most frequent first (bounded).
    pub top_templates: Vec<TemplateCount>,
    /// Per template (and Kubernetes Event type and reason): its counts and real lines, for the stage
    /// that diagnoses windows instead of lines. Only windows whose definition sets `evidence_templates`
    /// carry it; at most that many entries, in order of first appearance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<TemplateEvidence>,
    /// Lines left out of `evidence` because its bound was reached — lines of templates never admitted,
    /// and of quiet templates (informational lines, Normal Events) that made room for a complaining one
    /// (they still count in the fields above).
    #[serde(default, skip_serializing_if = "super::is_zero")]
    pub evidence_dropped: u64,
}

/// One template's lines in one window, condensed: what they say, how they are typed, how many there were,
/// and the earliest and latest of them verbatim (redacted by ingest like every line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TemplateEvidence {
    /// Template id.
    pub template_id: String,
    /// Template text (the message itself when no template was mined).
    pub template: String,
    /// For Kubernetes Events: `Warning` or `Normal` (Warning when the severity is warning or worse, as
    /// `kubectl describe` prints them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// For Kubernetes Events: the reason (`BackOff`, `OOMKilling`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_reason: Option<String>,
    /// Whether the lines are Kubernetes Events that report normal operation
    /// (`LogRecord::is_normal_event`): context, never evidence of a fault.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub normal_event: bool,
    /// Lines.
    pub count: u64,
    /// Lines of severity error or worse.
    pub errors: u64,
    /// Lines of a known severity below warning (they report; they do not complain).
    pub informational: u64,
    /// Lines in the last quarter of the window (event time).
    pub late_count: u64,
    /// The earliest line, and the latest when there is more than one (event time, then source position).
    pub exemplars: Vec<Exemplar>,
}

/// One real line of a window, as evidence quotes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Exemplar {
    /// The (redacted) message.
    pub message: String,
    /// Event time, ns since the epoch.
    pub event_time_ns: i64,
    /// Where the raw record was read.
    pub source: SourceCoordinates,
    /// The pod that logged it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The node it ran on, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl Exemplar {
    /// The order exemplars are chosen in: event time, then where the line was read (a total order, so
    /// the choice does not depend on how records were batched).
    #[must_use]
    pub fn order_key(&self) -> (i64, SourceRef<'_>) {
        (self.event_time_ns, self.source.view())
    }
}

/// How often one template occurred in a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TemplateCount {
    /// Template id.
    pub template_id: String,
    /// Template text.
    pub template: String,
    /// Occurrences.
    pub count: u64,
}
