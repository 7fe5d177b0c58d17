//! [`Decision`]: what medic chose to do about a diagnosis, and why.

use crate::{FaultClass, Target};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A remediation action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Do nothing (the reason says why).
    Noop,
    /// Change the replica count of the target by `delta`.
    Scale {
        /// Replicas to add (positive) or remove (negative).
        delta: i32,
    },
    /// Set the replica count of the target to `replicas` (an operator's absolute scale).
    ScaleTo {
        /// The desired replica count.
        replicas: u32,
    },
    /// Delete one pod so its controller recreates it.
    RestartPod,
    /// Restart every pod of a workload (rollout restart).
    RolloutRestart,
    /// Roll a Deployment back to its previous revision.
    Rollback,
    /// Mark a node unschedulable.
    CordonNode,
    /// Evict a node's pods, respecting PodDisruptionBudgets.
    DrainNode,
    /// Hand the incident to a human.
    Escalate,
}

impl Action {
    /// The snake_case name (also the metric label value).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Action::Noop => "noop",
            Action::Scale { .. } => "scale",
            Action::ScaleTo { .. } => "scale_to",
            Action::RestartPod => "restart_pod",
            Action::RolloutRestart => "rollout_restart",
            Action::Rollback => "rollback",
            Action::CordonNode => "cordon_node",
            Action::DrainNode => "drain_node",
            Action::Escalate => "escalate",
        }
    }

    /// Whether it changes the cluster (not noop, not escalate).
    #[must_use]
    pub const fn acts(self) -> bool {
        !matches!(self, Action::Noop | Action::Escalate)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Scale { delta } => write!(f, "scale {delta:+}"),
            Action::ScaleTo { replicas } => write!(f, "scale to {replicas}"),
            other => f.write_str(other.name()),
        }
    }
}

/// A decision about one diagnosis, produced by decide on `medic.decisions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Decision {
    /// Version of this record's schema.
    pub schema_version: u32,
    /// Stable id (derived from the diagnosis id and the policy): the idempotency key of its command.
    pub decision_id: String,
    /// The diagnosis decided on.
    pub diagnosis_id: String,
    /// The fault class of that diagnosis.
    pub fault: FaultClass,
    /// Its confidence.
    pub confidence: f64,
    /// The object to act on.
    pub target: Target,
    /// The chosen action.
    pub action: Action,
    /// Why this action (and not another) was chosen, in words an operator reads.
    pub reason: String,
    /// The policy that chose it, with its version, e.g. `rules@1`.
    pub policy_id: String,
    /// Event time of the diagnosis' first evidence, ns.
    pub window_start_ns: i64,
    /// Event time the decision refers to (the diagnosis' last evidence), ns.
    pub decided_at_ns: i64,
    /// Ids of the templates in the evidence, for provenance.
    #[serde(default)]
    pub template_ids: Vec<String>,
    /// The diagnosing model, for provenance.
    pub model: String,
    /// Kafka coordinates of the evidence, for provenance.
    #[serde(default)]
    pub sources: Vec<crate::SourceCoordinates>,
}

/// A decision of a learned policy running in shadow mode, on `medic.decisions.shadow`: recorded and
/// compared with the decision acted on, never acted on itself (the issuer reads `medic.decisions` only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ShadowDecision(pub Decision);
