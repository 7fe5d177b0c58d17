//! [`Diagnosis`]: what is wrong with a workload, and why medic thinks so.

use crate::{FaultClass, FaultSeverity, SourceCoordinates, Target};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A diagnosis of one workload over a span of evidence, produced by diagnose on `medic.diagnoses`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Diagnosis {
    /// Version of this record's schema.
    pub schema_version: u32,
    /// Stable id: the same evidence diagnosed by the same model gives the same id.
    pub diagnosis_id: String,
    /// The object diagnosed.
    pub target: Target,
    /// The fault class.
    pub fault: FaultClass,
    /// How much harm the fault does.
    pub severity: FaultSeverity,
    /// Confidence in `fault`, in `[0, 1]`.
    pub confidence: f64,
    /// True when `confidence` is below the configured threshold: decide must escalate, not act.
    pub uncertain: bool,
    /// Event time of the first evidence, ns.
    pub window_start_ns: i64,
    /// Event time of the last evidence, ns.
    pub window_end_ns: i64,
    /// The evidence that drove the diagnosis (bounded, strongest first).
    pub evidence: Vec<Evidence>,
    /// The model (and version) that produced the diagnosis, e.g. `keyword-rules@1`.
    pub model: String,
    /// When the workload was last seen rolled out (its Deployment's Events: a new ReplicaSet scaled up or
    /// an old one scaled down), ns; absent when diagnose saw none. decide rolls back only after a
    /// recent rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rollout_ns: Option<i64>,
}

/// One piece of evidence for a diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// The log message.
    pub message: String,
    /// Its template id.
    pub template_id: String,
    /// Event time, ns.
    pub event_time_ns: i64,
    /// Where the raw record was read.
    pub source: SourceCoordinates,
    /// Why this line counted (e.g. the rule that matched).
    pub rationale: String,
}
