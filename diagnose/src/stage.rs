//! [`Diagnose`]: the diagnose stage processor.

use crate::DiagnoseConfig;
use crate::episode::Episodes;
use crate::rollouts::Rollouts;
use crate::rules::{Rule, default_rules, first_match, severity_of};
use crate::view::{Entry, WindowView};
use crate::windowed::{WindowedDiagnose, read_windows};
use schemas::{Diagnosis, Emitter, Exemplar, SCHEMA_VERSION, SourceRecord, Stage, Target, id};

/// The model name and version written on every diagnosis.
pub const MODEL: &str = "keyword-rules@1";

/// The diagnose stage, with the model its configuration chose. Built by [`DiagnoseConfig::build`].
pub enum Diagnose {
    /// Keyword rules over episodes.
    Rules(RuleDiagnose),
    /// The fine-tuned transformer over windows.
    Transformer(Box<WindowedDiagnose>),
}

impl Diagnose {
    /// An instance with an empty state sharing this one's classifier, for another input partition
    /// (`runtime::per_partition`); `None` for the keyword rules, whose state is not checkpointed.
    #[must_use]
    pub fn sibling(&self) -> Option<Self> {
        match self {
            Self::Rules(_) => None,
            Self::Transformer(stage) => Some(Self::Transformer(Box::new(stage.sibling()))),
        }
    }
}

impl Stage for Diagnose {
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
        match self {
            Self::Rules(stage) => stage.process_batch(batch, out),
            Self::Transformer(stage) => stage.process_batch(batch, out),
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

/// Diagnoses faults with keyword rules over the templates of closed windows, accumulated per workload
/// and class in event-time episodes.
pub struct RuleDiagnose {
    rules: Vec<Rule>,
    episodes: Episodes,
    rollouts: Rollouts,
    definition: String,
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
            definition: config.windows.clone(),
            min_confidence: config.min_confidence,
            max_evidence: config.max_evidence,
        }
    }

    /// The rule a text matches (with the Event reason appended, lower-cased), and the needle.
    fn rule_for(&self, text: &str, entry: &Entry) -> Option<(&Rule, &'static str)> {
        let mut text = text.to_lowercase();
        if let Some(reason) = &entry.evidence.event_reason {
            text.push(' ');
            text.push_str(&reason.to_lowercase());
        }
        let rule = first_match(&self.rules, &text)?;
        let needle = rule.needles.iter().find(|n| text.contains(**n))?;
        Some((rule, needle))
    }

    /// Adds one template's lines as evidence; returns a diagnosis when its episode becomes diagnosable.
    /// A rule the template matches speaks for all its lines; otherwise only its lines kept verbatim
    /// (the earliest and latest) that match count — one odd line does not stand for the rest.
    fn observe(&mut self, window: &WindowView, entry: &Entry) -> Option<Diagnosis> {
        let exemplars = &entry.evidence.exemplars;
        let (rule, needle, quoted, records) = match self.rule_for(&entry.evidence.template, entry) {
            Some((rule, needle)) => (rule, needle, exemplars.first()?, entry.evidence.count),
            None => {
                let matching: Vec<(&Exemplar, (&Rule, &str))> = exemplars
                    .iter()
                    .filter_map(|x| Some((x, self.rule_for(&x.message, entry)?)))
                    .collect();
                let (quoted, (rule, needle)) = *matching.first()?;
                (rule, needle, quoted, matching.len() as u64)
            }
        };
        let (class, weight) = (rule.class, rule.weight);
        // One diagnosis per workload; the pod and node that showed the evidence stay as hints.
        let evidence = entry.evidence_of(
            quoted,
            format!(
                "matched {needle:?} ({class}, weight {weight}); {records} of the window's {} lines \
                 of this template",
                entry.evidence.count
            ),
        );
        let (pod, node) = (quoted.pod.clone(), quoted.node.clone());
        let (min_confidence, max_evidence) = (self.min_confidence, self.max_evidence);
        let episode = self
            .episodes
            .add(window.target.clone(), class, evidence, weight, records);
        let certain = episode.confidence >= min_confidence;
        if episode.diagnosed || !(certain || episode.records >= max_evidence as u64) {
            return None;
        }
        episode.diagnosed = true;
        let diagnosis_id = diagnosis_id(
            &window.target,
            class,
            episode.first_ns,
            &episode.evidence[0].source,
            MODEL,
        );
        let target = Target {
            pod,
            node,
            ..window.target.clone()
        };
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
        for window in read_windows(batch, &self.definition, out) {
            window.note_rollouts(&mut self.rollouts);
            // A template of only INFO-or-quieter lines reports; it does not complain.
            for entry in window.entries.iter().filter(|e| e.is_decisive()) {
                if let Some(diagnosis) = self.observe(&window, entry) {
                    let _ = out.emit(&diagnosis);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enrich::windows::WindowSpec;
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

    /// The default windows of `records`, as enrich closes them.
    fn windows(records: &[SourceRecord]) -> Vec<SourceRecord> {
        enrich::windows::window_source_records(WindowSpec::default(), records)
    }

    /// Diagnoses of windows read in `batches`.
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
        let diagnoses = run(&[windows(&records)]);
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
        let diagnoses = run(&[windows(&records)]);
        assert_eq!(diagnoses.len(), 1);
        assert!(
            diagnoses[0].uncertain,
            "five weak records (noisy-OR of 0.15) stay below 0.6: {}",
            diagnoses[0].confidence
        );
    }

    #[test]
    fn diagnoses_do_not_depend_on_batch_boundaries() {
        // Four windows, one line each: the episode spans them.
        let records: Vec<_> = (0..4)
            .map(|i| parsed("Back-off restarting failed container", None, i * 60, i))
            .collect();
        let windows = windows(&records);
        assert_eq!(windows.len(), 4);
        let whole = run(std::slice::from_ref(&windows));
        let split: Vec<Vec<_>> = windows.iter().map(|r| vec![r.clone()]).collect();
        assert_eq!(whole, run(&split));
        assert_eq!(whole.len(), 1);
    }

    /// Lines of one mined template (`template`), each with its own message.
    fn of_template(template: &str, messages: &[&str], severity: LogSeverity) -> Vec<SourceRecord> {
        messages
            .iter()
            .enumerate()
            .map(|(i, message)| {
                let mut log = fixtures::log_record(message, (10 + i as i64) * 1_000_000_000);
                log.source.offset = i as i64;
                log.severity = severity;
                let mut parsed: schemas::ParsedRecord =
                    schemas::decode_record(&fixtures::parsed_source_record(log).payload)
                        .expect("parsed");
                parsed.template = template.to_owned();
                parsed.template_id = "tpl-worker".to_owned();
                SourceRecord::new(
                    "medic.logs.parsed",
                    0,
                    i as i64,
                    schemas::encode_record(&parsed).expect("encodes"),
                )
            })
            .collect()
    }

    #[test]
    fn a_rule_the_template_matches_counts_every_line_one_odd_line_counts_once() {
        let odd = ["worker 1 stopped: java.lang.IllegalStateException"]
            .into_iter()
            .chain(["worker 2 stopped: done"; 9])
            .collect::<Vec<_>>();
        let warned = |template: &str, lines: &[&str]| {
            run(&[windows(&of_template(template, lines, LogSeverity::Warning))])
        };
        let diagnoses = warned("worker <*> stopped: <*>", &odd);
        assert!(
            diagnoses.is_empty(),
            "one weak line of ten, however early: {diagnoses:#?}"
        );
        let all = ["worker 3 stopped: java.lang.IllegalStateException"; 10];
        let template = "worker <*> stopped: java.lang.IllegalStateException";
        let diagnoses = warned(template, &all);
        assert_eq!(diagnoses.len(), 1, "ten weak lines add up");
        assert!(diagnoses[0].confidence > 0.5, "{:?}", diagnoses[0]);
        // The same lines logged at INFO report; they do not complain, and name no pod to act on.
        let reported = of_template(template, &all, LogSeverity::Info);
        assert!(run(&[windows(&reported)]).is_empty());
    }

    #[test]
    fn a_gap_starts_a_new_episode() {
        let records = vec![
            parsed("OOMKilled", None, 0, 0),
            parsed("OOMKilled", None, 1, 1),
            parsed("OOMKilled", None, 1_000, 2),
            parsed("OOMKilled", None, 1_001, 3),
        ];
        let diagnoses = run(&[windows(&records)]);
        assert_eq!(diagnoses.len(), 2);
        assert_ne!(diagnoses[0].diagnosis_id, diagnoses[1].diagnosis_id);
    }
}
