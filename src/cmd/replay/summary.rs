//! [`ReplaySummary`]: what a replay concluded, scored against the bundle's expected outcome — the JSON
//! summary next to the HTML report, and what `medic replay --json` prints.

use super::bundle::{Bundle, TimelineKind};
use super::compare::Counterfactual;
use super::engine::{Pace, Replayed};
use crate::stages::StageName;
use schemas::{Diagnosis, RecordKind, Target};
use serde::Serialize;
use std::collections::BTreeMap;

/// Records in and out of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageCounts {
    /// Records read.
    pub records_in: u64,
    /// Records written (of the stage's main output kind).
    pub records_out: u64,
    /// Records dead-lettered.
    pub dead_lettered: u64,
}

/// A diagnosis, as the summary lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiagnosisLine {
    /// End of the evidence window (RFC 3339).
    pub at: String,
    /// `namespace/Kind/name`.
    pub target: String,
    /// Fault class.
    pub fault: String,
    /// Calibrated confidence.
    pub confidence: f64,
    /// Below the confidence threshold.
    pub uncertain: bool,
    /// The most telling line.
    pub evidence: String,
}

/// A decision, as the summary lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionLine {
    /// Decision id (the command's idempotency key).
    pub id: String,
    /// Event time of the decision (RFC 3339).
    pub at: String,
    /// `namespace/Kind/name`.
    pub target: String,
    /// The action (`rollout_restart`, `noop`, …).
    pub action: String,
    /// Policy id.
    pub policy: String,
    /// Why.
    pub reason: String,
}

/// The pipeline's conclusions against `[expected]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// `<namespace>/<workload>` the fault is on.
    pub workload: String,
    /// When the fault started (RFC 3339).
    pub fault_at: String,
    /// A diagnosis of an expected class on the workload, within `detect_within` of the fault.
    pub detected: bool,
    /// Seconds from the fault to the end of that diagnosis' window.
    pub detection_delay_s: Option<f64>,
    /// The class it was detected as.
    pub detected_as: Option<String>,
    /// Non-normal diagnoses of other workloads or before the fault (false alarms, or early signs).
    pub other_alarms: usize,
    /// A decision with an expected action on the workload, after the fault.
    pub remedied: bool,
    /// That decision's action.
    pub remedy: Option<String>,
    /// Seconds from the fault to that decision.
    pub remedy_delay_s: Option<f64>,
    /// Disruptive decisions (anything but `noop` and `escalate`) that are not an expected remedy of the
    /// faulty workload after the fault, as `<action> <target> at <time>`: a policy is never scored well
    /// for acting wrongly.
    pub wrong_actions: Vec<String>,
}

/// Everything a replay concluded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplaySummary {
    /// Bundle name.
    pub incident: String,
    /// Bundle title.
    pub title: String,
    /// Where its lines come from.
    pub source: String,
    /// Records fed.
    pub inputs: u64,
    /// `as-fast-as-possible` or `×F`.
    pub pace: String,
    /// Wall seconds.
    pub elapsed_s: f64,
    /// Per stage.
    pub stages: BTreeMap<String, StageCounts>,
    /// Every diagnosis, in event-time order.
    pub diagnoses: Vec<DiagnosisLine>,
    /// Every decision, in event-time order.
    pub decisions: Vec<DecisionLine>,
    /// Action results by outcome.
    pub results: BTreeMap<String, u64>,
    /// Dead letters by `stage: reason`.
    pub dead_letters: BTreeMap<String, u64>,
    /// Scored against `[expected]`, when the bundle has one.
    pub verdict: Option<Verdict>,
    /// The counterfactual runs on the twin (`--compare`).
    pub counterfactual: Vec<Counterfactual>,
}

fn rfc3339(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Whether `target` is the workload `namespace/name` (or `name`).
#[must_use]
pub fn is_workload(target: &Target, workload: &str) -> bool {
    match workload.split_once('/') {
        Some((namespace, name)) => {
            target.name == name && target.namespace.as_deref() == Some(namespace)
        }
        None => target.name == workload,
    }
}

/// Each stage with the kind of record it produces, in pipeline order.
pub const STAGE_OUTPUTS: [(StageName, RecordKind); 6] = [
    (StageName::Ingest, RecordKind::Log),
    (StageName::Enrich, RecordKind::Parsed),
    (StageName::Diagnose, RecordKind::Diagnosis),
    (StageName::Decide, RecordKind::Decision),
    (StageName::Act, RecordKind::Command),
    (StageName::Actuator, RecordKind::ActionResult),
];

impl ReplaySummary {
    /// The summary of `replayed` (a replay of `bundle` at `pace`), with the counterfactual runs.
    #[must_use]
    pub fn new(
        bundle: &Bundle,
        replayed: &Replayed,
        pace: Pace,
        counterfactual: Vec<Counterfactual>,
    ) -> Self {
        let seen = &replayed.recording;
        let stages = STAGE_OUTPUTS
            .iter()
            .map(|&(stage, kind)| {
                let name = stage.as_str();
                let counts = StageCounts {
                    records_in: replayed.metrics.records_in(name),
                    records_out: replayed.metrics.records_out(name, kind),
                    dead_lettered: replayed.metrics.dead_lettered(name),
                };
                (name.to_owned(), counts)
            })
            .collect();
        let mut diagnoses: Vec<&Diagnosis> = seen.diagnoses.iter().collect();
        diagnoses.sort_by(|a, b| {
            (a.window_end_ns, &a.diagnosis_id).cmp(&(b.window_end_ns, &b.diagnosis_id))
        });
        let mut decisions: Vec<_> = seen.decisions.iter().collect();
        decisions.sort_by(|a, b| {
            (a.decided_at_ns, &a.decision_id).cmp(&(b.decided_at_ns, &b.decision_id))
        });
        let mut results = BTreeMap::new();
        for r in &seen.results {
            *results.entry(r.outcome.name().to_owned()).or_insert(0) += 1;
        }
        let mut dead_letters = BTreeMap::new();
        for d in &seen.dead_letters {
            *dead_letters
                .entry(format!("{}: {}", d.stage, d.reason))
                .or_insert(0) += 1;
        }
        Self {
            incident: bundle.name(),
            title: bundle.manifest.title.clone(),
            source: bundle.manifest.source.clone(),
            inputs: replayed.fed,
            pace: match pace {
                Pace::AsFastAsPossible => "as-fast-as-possible".to_owned(),
                Pace::Speed(f) => format!("×{f}"),
            },
            elapsed_s: replayed.elapsed.as_secs_f64(),
            stages,
            verdict: verdict(bundle, &diagnoses, &decisions),
            diagnoses: diagnoses
                .iter()
                .map(|d| DiagnosisLine {
                    at: rfc3339(d.window_end_ns),
                    target: d.target.to_string(),
                    fault: d.fault.to_string(),
                    confidence: d.confidence,
                    uncertain: d.uncertain,
                    evidence: d
                        .evidence
                        .first()
                        .map(|e| e.message.chars().take(200).collect())
                        .unwrap_or_default(),
                })
                .collect(),
            decisions: decisions
                .iter()
                .map(|d| DecisionLine {
                    id: d.decision_id.clone(),
                    at: rfc3339(d.decided_at_ns),
                    target: d.target.to_string(),
                    action: d.action.to_string(),
                    policy: d.policy_id.clone(),
                    reason: d.reason.clone(),
                })
                .collect(),
            results,
            dead_letters,
            counterfactual,
        }
    }
}

fn verdict(
    bundle: &Bundle,
    diagnoses: &[&Diagnosis],
    decisions: &[&schemas::Decision],
) -> Option<Verdict> {
    let expected = bundle.manifest.expected.as_ref()?;
    let fault_ns = bundle
        .manifest
        .timeline
        .iter()
        .find(|e| e.kind == TimelineKind::Fault)?
        .at
        .timestamp_nanos_opt()?;
    let within_ns = expected.detect_within.as_nanos();
    let secs = |ns: i64| (ns - fault_ns) as f64 / 1e9;
    let on_workload = |t: &Target| is_workload(t, &expected.workload);
    let detection = diagnoses.iter().find(|d| {
        on_workload(&d.target)
            && expected.faults.iter().any(|f| f == d.fault.as_str())
            && d.window_end_ns >= fault_ns
            && d.window_end_ns - fault_ns <= within_ns
    });
    let other_alarms = diagnoses
        .iter()
        .filter(|d| d.fault != schemas::FaultClass::Normal)
        .filter(|d| !on_workload(&d.target) || d.window_end_ns < fault_ns)
        .count();
    let expected_remedy = |d: &schemas::Decision| {
        on_workload(&d.target)
            && d.decided_at_ns >= fault_ns
            && expected.actions.iter().any(|a| a == d.action.name())
    };
    let remedy = decisions.iter().find(|d| expected_remedy(d));
    let wrong_actions = decisions
        .iter()
        .filter(|d| !matches!(d.action, schemas::Action::Noop | schemas::Action::Escalate))
        .filter(|d| !expected_remedy(d))
        .map(|d| format!("{} {} at {}", d.action, d.target, rfc3339(d.decided_at_ns)))
        .collect();
    Some(Verdict {
        workload: expected.workload.clone(),
        fault_at: rfc3339(fault_ns),
        detected: detection.is_some(),
        detection_delay_s: detection.map(|d| secs(d.window_end_ns)),
        detected_as: detection.map(|d| d.fault.to_string()),
        other_alarms,
        remedied: remedy.is_some(),
        remedy: remedy.map(|d| d.action.to_string()),
        remedy_delay_s: remedy.map(|d| secs(d.decided_at_ns)),
        wrong_actions,
    })
}
