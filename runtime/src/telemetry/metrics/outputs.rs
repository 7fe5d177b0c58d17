//! [`OutputTally`]: what one batch's outputs add to the counters, counted in one pass.
//!
//! Records reach the runner already encoded ([`Emitted`]); the few kinds the dashboard breaks down by a
//! field — diagnoses by fault class, action results by outcome and time to recover — are read back
//! through small views that deserialise only that field. Those kinds are rare next to log records
//! (one per closed window or command), so the extra parse costs nothing measurable.

use schemas::{ActionOutcome, Emitted, FaultClass, RecordKind};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The counts of one batch's outputs.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OutputTally {
    /// Records per kind (`medic_records_out_total{kind}`).
    pub by_kind: BTreeMap<RecordKind, u64>,
    /// Diagnoses per fault class (`medic_diagnoses_total{class}`).
    pub diagnoses: BTreeMap<FaultClass, u64>,
    /// Action results per outcome name (`medic_action_results_total{outcome}`).
    pub results: BTreeMap<&'static str, u64>,
    /// Times to recover of verified results, in seconds (`medic_time_to_recover_seconds`).
    pub recovered_secs: Vec<f64>,
    /// Outputs of a broken-down kind whose field could not be read (a bug: the runner just encoded them).
    pub unreadable: u64,
}

/// The field of a [`schemas::Diagnosis`] counted per class.
#[derive(Deserialize)]
struct DiagnosisView {
    fault: FaultClass,
}

/// The fields of a [`schemas::ActionResult`] counted per outcome.
#[derive(Deserialize)]
struct ResultView {
    outcome: ActionOutcome,
    #[serde(default)]
    time_to_recover_ms: Option<u64>,
}

impl OutputTally {
    /// Counts `emitted`.
    #[must_use]
    pub fn of<'a>(emitted: impl IntoIterator<Item = &'a Emitted>) -> Self {
        let mut tally = Self::default();
        for e in emitted {
            *tally.by_kind.entry(e.kind).or_default() += 1;
            match e.kind {
                RecordKind::Diagnosis => {
                    match serde_json::from_slice::<DiagnosisView>(&e.payload) {
                        Ok(view) => *tally.diagnoses.entry(view.fault).or_default() += 1,
                        Err(_) => tally.unreadable += 1,
                    }
                }
                RecordKind::ActionResult => {
                    match serde_json::from_slice::<ResultView>(&e.payload) {
                        Ok(view) => {
                            *tally.results.entry(view.outcome.name()).or_default() += 1;
                            if let Some(ms) = view.time_to_recover_ms {
                                // ms → s; u64 ms fit f64 exactly below 2^53 (285 000 years).
                                tally.recovered_secs.push(ms as f64 / 1000.0);
                            }
                        }
                        Err(_) => tally.unreadable += 1,
                    }
                }
                _ => {}
            }
        }
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::{
        Action, ActionResult, Diagnosis, Emitter, FaultSeverity, Provenance, SCHEMA_VERSION,
        Target, fixtures,
    };

    fn target() -> Target {
        Target::deployment("shop", "checkout")
    }

    fn diagnosis(fault: FaultClass) -> Diagnosis {
        Diagnosis {
            schema_version: SCHEMA_VERSION,
            diagnosis_id: "d".into(),
            target: target(),
            fault,
            severity: FaultSeverity::High,
            confidence: 0.9,
            uncertain: false,
            window_start_ns: 0,
            window_end_ns: 1,
            evidence: vec![],
            model: "keyword-rules@1".into(),
            last_rollout_ns: None,
        }
    }

    fn result(outcome: ActionOutcome, time_to_recover_ms: Option<u64>) -> ActionResult {
        ActionResult {
            schema_version: SCHEMA_VERSION,
            command_id: "c".into(),
            idempotency_key: "k".into(),
            target: target(),
            action: Action::RolloutRestart,
            outcome,
            mode: "apply".into(),
            message: String::new(),
            started_at_ns: 0,
            finished_at_ns: 1,
            time_to_recover_ms,
            provenance: Provenance::default(),
        }
    }

    #[test]
    fn counts_kinds_classes_outcomes_and_recovery_times() {
        let mut out = Emitter::new();
        for fault in [FaultClass::Oom, FaultClass::Oom, FaultClass::CrashLoop] {
            out.emit(&diagnosis(fault)).expect("encodes");
        }
        for r in [
            result(ActionOutcome::Verified, Some(42_500)),
            result(ActionOutcome::Rejected, None),
            result(ActionOutcome::Rejected, None),
        ] {
            out.emit(&r).expect("encodes");
        }
        out.emit(&fixtures::log_record("hello", 0))
            .expect("encodes");

        let tally = OutputTally::of(out.emitted());
        assert_eq!(
            tally.by_kind,
            BTreeMap::from([
                (RecordKind::Log, 1),
                (RecordKind::Diagnosis, 3),
                (RecordKind::ActionResult, 3)
            ])
        );
        assert_eq!(
            tally.diagnoses,
            BTreeMap::from([(FaultClass::Oom, 2), (FaultClass::CrashLoop, 1)])
        );
        assert_eq!(
            tally.results,
            BTreeMap::from([("verified", 1), ("rejected", 2)])
        );
        assert_eq!(tally.recovered_secs, vec![42.5]);
        assert_eq!(tally.unreadable, 0);
    }

    #[test]
    fn an_unreadable_payload_is_counted_apart() {
        let emitted = [Emitted {
            kind: RecordKind::Diagnosis,
            key: None,
            payload: b"{\"fault\":\"no_such_class\"}".to_vec(),
        }];
        let tally = OutputTally::of(&emitted);
        assert_eq!(tally.by_kind.get(&RecordKind::Diagnosis), Some(&1));
        assert!(tally.diagnoses.is_empty());
        assert_eq!(tally.unreadable, 1);
    }
}
