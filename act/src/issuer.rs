//! [`CommandIssuer`]: decisions → remediation commands.

use crate::ActConfig;
use crate::signing::Signer;
use schemas::clock::{Clock, secs_to_ns, wall_clock_ns};
use schemas::id::hex;
use schemas::{
    Action, Decision, Emitter, ErrorKind, ObjectKind, Provenance, RemediationCommand,
    SCHEMA_VERSION, SourceRecord, Stage, StageError, Target, decode_record,
};

/// Turns each actionable decision into a signed command; `noop` decisions are consumed without a
/// command. Built by [`ActConfig::build_issuer`].
pub struct CommandIssuer {
    ttl_ns: i64,
    signer: Signer,
    clock: Clock,
}

impl CommandIssuer {
    pub(crate) fn new(config: &ActConfig, signer: Signer) -> Self {
        Self {
            ttl_ns: config.command_ttl.as_nanos(),
            signer,
            clock: wall_clock_ns,
        }
    }

    /// Replaces the wall clock (issue and expiry times) — for tests.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The signed command for `decision` (public for replays and `medic act sign`).
    #[must_use]
    pub fn command(&self, decision: Decision) -> RemediationCommand {
        let issued_at_ns = (self.clock)();
        let mut command = RemediationCommand {
            schema_version: SCHEMA_VERSION,
            command_id: decision.decision_id.clone(),
            idempotency_key: decision.decision_id.clone(),
            target: decision.target,
            action: decision.action,
            issued_at_ns,
            expires_at_ns: issued_at_ns.saturating_add(self.ttl_ns),
            reason: decision.reason,
            provenance: Provenance {
                sources: decision.sources,
                template_ids: decision.template_ids,
                window_ns: Some((decision.window_start_ns, decision.decided_at_ns)),
                diagnosis_id: decision.diagnosis_id,
                model: decision.model,
                decision_id: decision.decision_id,
                policy_id: decision.policy_id,
            },
            signature: None,
        };
        self.signer.sign(&mut command);
        command
    }
}

/// A signed command that no decision stands behind (an operator's, a test's): `id` is its command id,
/// idempotency key and decision id, `issuer` its policy id; valid for `ttl_secs` from now.
#[must_use]
pub fn direct_command(
    signer: &Signer,
    id: &str,
    target: Target,
    action: Action,
    ttl_secs: u64,
    reason: &str,
    issuer: &str,
) -> RemediationCommand {
    let issued_at_ns = wall_clock_ns();
    let mut command = RemediationCommand {
        schema_version: SCHEMA_VERSION,
        command_id: id.to_owned(),
        idempotency_key: id.to_owned(),
        target,
        action,
        issued_at_ns,
        expires_at_ns: issued_at_ns.saturating_add(secs_to_ns(ttl_secs)),
        reason: reason.to_owned(),
        provenance: Provenance {
            decision_id: id.to_owned(),
            policy_id: issuer.to_owned(),
            ..Provenance::default()
        },
        signature: None,
    };
    signer.sign(&mut command);
    command
}

/// A fresh command id for a direct command: `op-<unix seconds>-<10 random hex digits>`.
///
/// # Panics
/// When the operating system has no randomness to give.
#[must_use]
pub fn new_command_id() -> String {
    let mut nonce = [0_u8; 5];
    getrandom::fill(&mut nonce).expect("the OS provides randomness");
    format!("op-{}-{}", wall_clock_ns() / 1_000_000_000, hex(&nonce))
}

/// Why a decision read from the topic must not be signed, if it must not: its action does not fit its
/// target's kind. Whoever can write `medic.decisions` is not trusted to choose what a signature covers:
/// node actions only on a cluster-scoped Node, workload actions only on a namespaced workload, a pod
/// restart only where a pod is named.
fn unsignable(decision: &Decision) -> Option<String> {
    let target = &decision.target;
    let workload = matches!(
        target.kind,
        ObjectKind::Deployment | ObjectKind::StatefulSet | ObjectKind::DaemonSet
    ) && target.namespace.is_some();
    let fits = match decision.action {
        Action::Noop | Action::Escalate => true,
        Action::CordonNode | Action::DrainNode => {
            target.kind == ObjectKind::Node && target.namespace.is_none()
        }
        Action::RestartPod => {
            target.namespace.is_some() && (target.kind == ObjectKind::Pod || target.pod.is_some())
        }
        Action::Scale { .. }
        | Action::ScaleTo { .. }
        | Action::Rollback
        | Action::RolloutRestart => workload,
    };
    (!fits).then(|| {
        format!(
            "decision {}: {} does not apply to {target}; not signed",
            decision.decision_id, decision.action
        )
    })
}

impl Stage for CommandIssuer {
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
        for input in batch {
            match decode_record::<Decision>(&input.payload) {
                Ok(decision) if decision.action == Action::Noop => out.drop_record(),
                Ok(decision) => match unsignable(&decision) {
                    Some(reason) => {
                        out.count("unsignable", 1);
                        out.reject(input, StageError::new(ErrorKind::Rejected, reason));
                    }
                    None => out.emit_or_reject(input, &self.command(decision)),
                },
                Err(error) => out.reject(input, error),
            }
        }
    }
}
