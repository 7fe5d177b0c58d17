//! [`RemediationCommand`]: an action on its way to the actuator.

use crate::{Action, SourceCoordinates, Target};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A command on the actuation topic `medic.actions`, keyed by target.
///
/// # Guarantees
/// `idempotency_key` is the decision id: a replayed decision yields the same key, and the actuator applies
/// a key at most once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RemediationCommand {
    /// Version of this record's schema.
    pub schema_version: u32,
    /// Command id (equal to the idempotency key).
    pub command_id: String,
    /// Idempotency key: the same key is applied at most once.
    pub idempotency_key: String,
    /// The object to act on.
    pub target: Target,
    /// The action.
    pub action: Action,
    /// When the command was issued, ns since the epoch (wall clock of the issuer).
    pub issued_at_ns: i64,
    /// After this instant the actuator must reject the command, ns since the epoch.
    pub expires_at_ns: i64,
    /// The reason carried over from the decision.
    pub reason: String,
    /// Where the command came from.
    pub provenance: Provenance,
    /// The issuer's signature over the canonical body (every field but this one). The actuator refuses
    /// unsigned commands unless it is configured not to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<CommandSignature>,
}

/// An HMAC over a command's canonical body, made with the key `key_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommandSignature {
    /// The key used (keys rotate by id: several may be trusted at once).
    pub key_id: String,
    /// The algorithm; only `hmac-sha256` is defined.
    pub algorithm: String,
    /// The MAC, lower-case hex.
    pub value: String,
}

/// The chain from raw log records to a command.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Provenance {
    /// Kafka coordinates of the raw evidence records.
    pub sources: Vec<SourceCoordinates>,
    /// Template ids of the evidence.
    pub template_ids: Vec<String>,
    /// The evidence window, ns since the epoch: `[start, end]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_ns: Option<(i64, i64)>,
    /// The diagnosis id.
    pub diagnosis_id: String,
    /// The diagnosing model and version.
    pub model: String,
    /// The decision id.
    pub decision_id: String,
    /// The deciding policy and version.
    pub policy_id: String,
}
