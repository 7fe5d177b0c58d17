//! [`WindowFeatures`]: aggregates of one workload over one event-time window.

use crate::Target;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Features of one workload over one closed event-time window, produced by enrich on `medic.windows`
/// once the watermark passes the window's end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WindowFeatures {
    /// Version of this record's schema.
    pub schema_version: u32,
    /// The workload the window aggregates.
    pub target: Target,
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
    /// Distinct templates seen.
    pub distinct_templates: u64,
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
