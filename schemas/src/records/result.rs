//! [`ActionResult`]: what happened when the actuator handled a command.

use crate::{Action, Provenance, Target};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The outcome of one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionOutcome {
    /// Logged only (`log` mode): nothing was changed.
    Logged,
    /// Accepted by the API in dry-run mode: nothing was changed.
    DryRun,
    /// Applied; not yet verified.
    Applied,
    /// Applied and the target became healthy.
    Verified,
    /// Applying or verifying failed.
    Failed,
    /// Refused before applying (expired, forged, outside the allowlist, rate-limited).
    Rejected,
    /// The idempotency key was already handled: not applied again.
    Duplicate,
}

impl ActionOutcome {
    /// The snake_case name (also a metric label value).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            ActionOutcome::Logged => "logged",
            ActionOutcome::DryRun => "dry_run",
            ActionOutcome::Applied => "applied",
            ActionOutcome::Verified => "verified",
            ActionOutcome::Failed => "failed",
            ActionOutcome::Rejected => "rejected",
            ActionOutcome::Duplicate => "duplicate",
        }
    }
}

/// The result of handling one command, produced by the actuator on `medic.actions.results`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionResult {
    /// Version of this record's schema.
    pub schema_version: u32,
    /// The command handled.
    pub command_id: String,
    /// Its idempotency key.
    pub idempotency_key: String,
    /// The object acted on.
    pub target: Target,
    /// The action.
    pub action: Action,
    /// What happened.
    pub outcome: ActionOutcome,
    /// The actuator mode (`log`, `server-dry-run`, `apply`, `twin`).
    pub mode: String,
    /// Details for an operator.
    pub message: String,
    /// When handling started, ns since the epoch.
    pub started_at_ns: i64,
    /// When handling finished, ns since the epoch.
    pub finished_at_ns: i64,
    /// Time from the start of handling to verified health, ms (simulated time on the twin); set on
    /// `verified` results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_recover_ms: Option<u64>,
    /// Carried over from the command.
    pub provenance: Provenance,
}
