//! Example records for tests and examples: a pod `web-7d9c7f5b9d-x2x7q` of Deployment `shop/web`, and a
//! diagnosis → decision → command → result chain on any target. Tests change the fields they care about.

use crate::{
    Action, ActionOutcome, ActionResult, Decision, Diagnosis, FaultClass, FaultSeverity, LogRecord,
    LogSeverity, ParsedRecord, Provenance, RemediationCommand, Resource, SCHEMA_VERSION,
    SourceCoordinates, SourceFormat, SourceRecord, Target, Workload,
};

/// A CRI log record of the example pod, at `event_time_ns`, read from `medic.logs.k8s` partition 0,
/// offset 0, severity `info`.
#[must_use]
pub fn log_record(message: &str, event_time_ns: i64) -> LogRecord {
    LogRecord {
        schema_version: SCHEMA_VERSION,
        event_time_ns,
        observed_time_ns: event_time_ns,
        source_format: SourceFormat::Cri,
        severity: LogSeverity::Info,
        message: message.to_owned(),
        stream: None,
        resource: Resource {
            namespace: Some("shop".to_owned()),
            workload: Some(Workload {
                kind: "Deployment".to_owned(),
                name: "web".to_owned(),
            }),
            pod: Some("web-7d9c7f5b9d-x2x7q".to_owned()),
            ..Resource::default()
        },
        attributes: std::collections::BTreeMap::new(),
        source: SourceCoordinates {
            topic: "medic.logs.k8s".to_owned(),
            partition: 0,
            offset: 0,
            index: 0,
        },
    }
}

/// `log` as enrich publishes it, read back by the next stage: a [`ParsedRecord`] whose template is the
/// message itself (id: a stable hash of it), on `medic.logs.parsed` partition 0 at `log.source.offset`.
///
/// # Panics
/// Never: a `ParsedRecord` always serialises.
#[must_use]
pub fn parsed_source_record(log: LogRecord) -> SourceRecord {
    let offset = log.source.offset;
    let record = ParsedRecord {
        schema_version: SCHEMA_VERSION,
        template_id: format!("tpl-{:016x}", crate::id::stable_hash(&[&log.message])),
        template: log.message.clone(),
        template_version: 1,
        params: vec![],
        log,
    };
    let payload = serde_json::to_vec(&record).unwrap_or_default();
    SourceRecord::new("medic.logs.parsed", 0, offset, payload)
}

/// A diagnosis `id` of `fault` on `target`, confidence 0.9, whose window ends `at_secs` after the epoch.
#[must_use]
pub fn diagnosis(id: &str, target: &Target, fault: FaultClass, at_secs: i64) -> Diagnosis {
    Diagnosis {
        schema_version: SCHEMA_VERSION,
        diagnosis_id: id.to_owned(),
        target: target.clone(),
        fault,
        severity: FaultSeverity::High,
        confidence: 0.9,
        uncertain: false,
        window_start_ns: (at_secs - 60) * 1_000_000_000,
        window_end_ns: at_secs * 1_000_000_000,
        evidence: vec![],
        model: "keyword-rules@1".to_owned(),
        last_rollout_ns: None,
    }
}

/// The `rules@1` decision `action` on `diagnosis`, on its target, id `dec-<diagnosis id>`.
#[must_use]
pub fn decision(diagnosis: &Diagnosis, action: Action) -> Decision {
    Decision {
        schema_version: SCHEMA_VERSION,
        decision_id: format!("dec-{}", diagnosis.diagnosis_id),
        diagnosis_id: diagnosis.diagnosis_id.clone(),
        fault: diagnosis.fault,
        confidence: diagnosis.confidence,
        target: diagnosis.target.clone(),
        action,
        reason: "test".to_owned(),
        policy_id: "rules@1".to_owned(),
        window_start_ns: diagnosis.window_start_ns,
        decided_at_ns: diagnosis.window_end_ns,
        template_ids: vec![],
        model: diagnosis.model.clone(),
        sources: vec![],
    }
}

/// The unsigned command `decision` becomes: id and idempotency key = the decision id, valid 300 s.
#[must_use]
pub fn command(decision: &Decision) -> RemediationCommand {
    RemediationCommand {
        schema_version: SCHEMA_VERSION,
        command_id: decision.decision_id.clone(),
        idempotency_key: decision.decision_id.clone(),
        target: decision.target.clone(),
        action: decision.action,
        issued_at_ns: decision.decided_at_ns,
        expires_at_ns: decision.decided_at_ns + 300_000_000_000,
        reason: decision.reason.clone(),
        provenance: Provenance {
            diagnosis_id: decision.diagnosis_id.clone(),
            decision_id: decision.decision_id.clone(),
            policy_id: decision.policy_id.clone(),
            model: decision.model.clone(),
            ..Provenance::default()
        },
        signature: None,
    }
}

/// The `log`-mode result of `command`.
#[must_use]
pub fn result(command: &RemediationCommand) -> ActionResult {
    ActionResult {
        schema_version: SCHEMA_VERSION,
        command_id: command.command_id.clone(),
        idempotency_key: command.idempotency_key.clone(),
        target: command.target.clone(),
        action: command.action,
        outcome: ActionOutcome::Logged,
        mode: "log".to_owned(),
        message: format!("log mode: would {}", command.action),
        started_at_ns: command.issued_at_ns,
        finished_at_ns: command.issued_at_ns,
        time_to_recover_ms: None,
        provenance: command.provenance.clone(),
    }
}
