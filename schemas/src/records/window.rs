//! [`WindowFeatures`]: aggregates of one workload over one event-time window.

use crate::Target;
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
