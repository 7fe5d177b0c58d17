//! [`Diagnose`]: the diagnose stage processor.

use crate::DiagnoseConfig;
use crate::episode::Episodes;
use crate::rollouts::Rollouts;
use crate::rules::{Rule, default_rules, first_match, severity_of};
use crate::windowed::WindowedDiagnose;
use schemas::{
    Diagnosis, Emitter, Evidence, ParsedRecord, SCHEMA_VERSION, SourceRecord, Stage, Target,
    decode_record, id,
};

/// The model name and version written on every diagnosis.
pub const MODEL: &str = "keyword-rules@1";

/// The diagnose stage, with the model its configuration chose. Built by [`DiagnoseConfig::build`].
pub enum Diagnose {
    /// Keyword rules over episodes.
    Rules(RuleDiagnose),
    /// The fine-tuned transformer over windows.
    Transformer(Box<WindowedDiagnose>),
}

impl Stage for Diagnose {
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
        match self {
            Self::Rules(stage) => stage.process_batch(batch, out),
            Self::Transformer(stage) => stage.process_batch(batch, out),
        }
    }

    fn on_tick(&mut self, now_ns: i64, out: &mut Emitter) {
        if let Self::Transformer(stage) = self {
            stage.on_tick(now_ns, out);
        }
    }

    fn on_close(&mut self, out: &mut Emitter) {
        if let Self::Transformer(stage) = self {
            stage.on_close(out);
        }
    }

    fn state(&mut self) -> Option<&mut dyn schemas::StageState> {
        match self {
            Self::Rules(_) => None,
            Self::Transformer(stage) => Some(stage.as_mut()),
        }
    }
}

/// How many Deployments' rollouts a diagnose stage remembers.
pub(crate) const ROLLOUTS_TRACKED: usize = 2_000;

/// The stable id of a diagnosis: the same evidence diagnosed by the same model gives the same id, so a
/// replay produces the same diagnoses and decide's idempotency holds.
pub(crate) fn diagnosis_id(
    target: &Target,
    fault: schemas::FaultClass,
    start_ns: i64,
    first_source: &schemas::SourceCoordinates,
    model: &str,
) -> String {
    id::stable_id(
        "dia",
        &[
            &target.to_string(),
            fault.as_str(),
            &start_ns.to_string(),
            &first_source.topic,
            &first_source.partition.to_string(),
            &first_source.offset.to_string(),
            model,
        ],
    )
}

/// Diagnoses faults from parsed records with keyword rules.
pub struct RuleDiagnose {
    rules: Vec<Rule>,
    episodes: Episodes,
    rollouts: Rollouts,
    min_confidence: f64,
    max_evidence: usize,
}

impl RuleDiagnose {
    pub(crate) fn new(config: &DiagnoseConfig) -> Self {
        Self {
            rules: default_rules(),
            rollouts: Rollouts::new(ROLLOUTS_TRACKED),
            episodes: Episodes::new(
                config.episode_gap.as_nanos(),
                config.max_evidence,
                config.max_episodes,
            ),
            min_confidence: config.min_confidence,
            max_evidence: config.max_evidence,
        }
    }

    /// Adds one record's evidence; returns a diagnosis when its episode becomes diagnosable.
    fn observe(&mut self, parsed: &ParsedRecord) -> Option<Diagnosis> {
        let log = &parsed.log;
        self.rollouts.observe(log);
        if log.is_normal_event() {
            return None;
        }
        let mut text = log.message.to_lowercase();
        if let Some(reason) = log.attributes.get("k8s.event.reason") {
            text.push(' ');
            text.push_str(&reason.to_lowercase());
        }
        let rule = first_match(&self.rules, &text)?;
        let (class, weight, needle) = (
            rule.class,
            rule.weight,
            rule.needles.iter().find(|n| text.contains(**n))?,
        );
        let mut target = log.target()?;
        // One diagnosis per workload; the pod and node that showed the evidence stay as hints.
        let evidence = Evidence {
            message: log.message.clone(),
            template_id: parsed.template_id.clone(),
            event_time_ns: log.event_time_ns,
            source: log.source.clone(),
            rationale: format!("matched {needle:?} ({class}, weight {weight})"),
        };
        let (min_confidence, max_evidence) = (self.min_confidence, self.max_evidence);
        let episode = self.episodes.add(
            Target {
                pod: None,
                node: None,
                ..target.clone()
            },
            class,
            evidence,
            weight,
        );
        let certain = episode.confidence >= min_confidence;
        if episode.diagnosed || !(certain || episode.records >= max_evidence) {
            return None;
        }
        episode.diagnosed = true;
        let diagnosis_id = diagnosis_id(
            &target,
            class,
            episode.first_ns,
            &episode.evidence[0].source,
            MODEL,
        );
        target.pod = log.resource.pod.clone();
        target.node = log.resource.node.clone();
        let last_rollout_ns = self.rollouts.last_rollout(&target, episode.last_ns);
        Some(Diagnosis {
            schema_version: SCHEMA_VERSION,
            diagnosis_id,
            target,
            fault: class,
            severity: severity_of(class),
            confidence: episode.confidence,
            uncertain: !certain,
            window_start_ns: episode.first_ns,
            window_end_ns: episode.last_ns,
            evidence: episode.evidence.clone(),
            model: MODEL.to_owned(),
            last_rollout_ns,
        })
    }
}

impl Stage for RuleDiagnose {
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
        for input in batch {
            match decode_record::<ParsedRecord>(&input.payload) {
                Ok(parsed) => {
                    if let Some(diagnosis) = self.observe(&parsed) {
                        out.emit_or_reject(input, &diagnosis);
                    }
                }
                Err(error) => out.reject(input, error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::{FaultClass, LogSeverity, SourceFormat, fixtures};

    fn parsed(message: &str, reason: Option<&str>, t: i64, offset: i64) -> SourceRecord {
        let mut log = fixtures::log_record(message, t * 1_000_000_000);
        log.source_format = SourceFormat::K8sEvent;
        log.severity = LogSeverity::Warning;
        log.source.offset = offset;
        if let Some(reason) = reason {
            log.attributes
                .insert("k8s.event.reason".into(), reason.into());
        }
        fixtures::parsed_source_record(log)
    }

    fn run(batches: &[Vec<SourceRecord>]) -> Vec<Diagnosis> {
        let config = DiagnoseConfig {
            model: crate::DiagnoseModel::KeywordRules,
            ..DiagnoseConfig::default()
        };
        let mut stage = config.build().expect("valid");
        let mut out = Emitter::new();
        for batch in batches {
            stage.process_batch(batch, &mut out);
        }
        out.decode_all().expect("diagnoses")
    }

    #[test]
    fn one_diagnosis_per_episode_with_evidence() {
        let records: Vec<_> = (0..6)
            .map(|i| parsed("Container app was OOMKilled", Some("OOMKilling"), 10 + i, i))
            .chain([parsed("Started container app", Some("Started"), 20, 6)])
            .collect();
        let diagnoses = run(&[records]);
        assert_eq!(diagnoses.len(), 1, "{diagnoses:#?}");
        let d = &diagnoses[0];
        assert_eq!(d.fault, FaultClass::Oom);
        assert!(!d.uncertain);
        assert!(d.confidence >= 0.6 && d.confidence <= 1.0);
        assert_eq!(d.evidence[0].source.offset, 0);
        assert_eq!(d.target.name, "web");
    }

    #[test]
    fn weak_evidence_becomes_an_uncertain_diagnosis() {
        let records: Vec<_> = (0..5)
            .map(|i| parsed("java.lang.IllegalStateException: boom", None, i, i))
            .collect();
        let diagnoses = run(&[records]);
        assert_eq!(diagnoses.len(), 1);
        assert!(
            diagnoses[0].uncertain,
            "five weak records (noisy-OR of 0.15) stay below 0.6: {}",
            diagnoses[0].confidence
        );
    }

    #[test]
    fn diagnoses_do_not_depend_on_batch_boundaries() {
        let records: Vec<_> = (0..4)
            .map(|i| parsed("Back-off restarting failed container", None, i, i))
            .collect();
        let whole = run(std::slice::from_ref(&records));
        let split: Vec<Vec<_>> = records.iter().map(|r| vec![r.clone()]).collect();
        assert_eq!(whole, run(&split));
        assert_eq!(whole.len(), 1);
    }

    #[test]
    fn a_gap_starts_a_new_episode() {
        let records = vec![
            parsed("OOMKilled", None, 0, 0),
            parsed("OOMKilled", None, 1, 1),
            parsed("OOMKilled", None, 1_000, 2),
            parsed("OOMKilled", None, 1_001, 3),
        ];
        let diagnoses = run(&[records]);
        assert_eq!(diagnoses.len(), 2);
        assert_ne!(diagnoses[0].diagnosis_id, diagnoses[1].diagnosis_id);
    }
}
