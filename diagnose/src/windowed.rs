//! [`WindowedDiagnose`]: a classifier in the pipeline ([`FaultModel`]: the n-gram model or the transformer)
//! over the windows enrich closes. Enrich closes event-time windows per workload and carries in each
//! one, per template, its counts by kind of line and its earliest and latest line (`evidence`); diagnose
//! reads those, so its work grows with windows × templates, not with lines.
//!
//! ```text
//!  medic.windows (closed windows of definition diagnose.windows, first emissions)
//!    ─► WindowView: templates that may be evidence (a Normal Kubernetes Event is context: it tells
//!                   Rollouts of rollouts, and is never evidence)
//!    ─► FaultModel::predict (batched; transformer: template embeddings cached) ─► Diagnosis (≠ normal)
//!    └► ErrorNovelty (the workload's template history) ─► when the model finds nothing confident and
//!       an error new to the workload (or far more frequent than usual) is sustained: a Diagnosis by change
//! ```
//!
//! A window's evidence quotes real lines: the earliest line of each template it names.

use crate::model::{FaultModel, SharedModel};
use crate::novelty::{Change, ErrorNovelty, JUMP_FACTOR};
use crate::rollouts::Rollouts;
use crate::rules::severity_of;
use crate::stage::diagnosis_id;
use crate::transformer::{Condensed, Prediction};
use crate::view::{Skip, WindowView};
use schemas::{
    Diagnosis, Emitter, Evidence, FaultClass, SCHEMA_VERSION, SourceRecord, Stage, StageError,
    StageState, Target, WindowFeatures, decode_record,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Settings of the windowed stage.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSettings {
    /// The window definition (`[[enrich.windows]]` name) whose windows are diagnosed.
    pub definition: String,
    /// Windows classified per forward pass.
    pub max_batch: usize,
    /// Below this confidence a diagnosis is `uncertain`.
    pub min_confidence: f64,
    /// Evidence lines per diagnosis.
    pub max_evidence: usize,
}

/// Diagnoses closed windows with a classifier (the fine-tuned transformer or the n-gram model).
pub struct WindowedDiagnose {
    classifier: SharedModel,
    settings: WindowSettings,
    /// When each Deployment was last rolled out (checkpointed).
    rollouts: Rollouts,
    /// Which templates each workload logged before (checkpointed).
    novelty: ErrorNovelty,
}

impl WindowedDiagnose {
    /// A stage around a loaded classifier.
    #[must_use]
    pub fn new(classifier: FaultModel, settings: WindowSettings) -> Self {
        Self::sharing(SharedModel::new(classifier), settings)
    }

    fn sharing(classifier: SharedModel, settings: WindowSettings) -> Self {
        Self {
            classifier,
            rollouts: Rollouts::new(crate::stage::ROLLOUTS_TRACKED),
            novelty: ErrorNovelty::new(1),
            settings,
        }
    }

    /// A stage with the same classifier (shared, not loaded again) and settings, and an empty state: the
    /// diagnose stage of another input partition.
    #[must_use]
    pub fn sibling(&self) -> Self {
        Self::sharing(self.classifier.clone(), self.settings.clone())
    }

    /// The classifier's name and version, as written on diagnoses.
    #[must_use]
    pub fn model_id(&self) -> String {
        self.classifier.model_id()
    }

    /// Classifies closed windows in batches and emits their diagnoses.
    fn diagnose(&mut self, windows: &[WindowView], out: &mut Emitter) {
        for chunk in windows.chunks(self.settings.max_batch.max(1)) {
            // Histories first: a window the model then fails on still counts in its workload's.
            let changes: Vec<Vec<Change>> = chunk
                .iter()
                .map(|w| {
                    w.note_rollouts(&mut self.rollouts);
                    self.novelty.set_window_ns(w.end_ns - w.start_ns);
                    self.novelty
                        .observe(&w.target, w.start_ns, &w.template_lines())
                })
                .collect();
            let max_distinct = self.classifier.max_distinct();
            let condensed: Vec<Condensed> =
                chunk.iter().map(|w| w.condensed(max_distinct)).collect();
            let predictions = match self.classifier.predict(&condensed) {
                Ok(p) => p,
                Err(error) => {
                    count_failure(out, &error.to_string());
                    continue;
                }
            };
            out.count("diagnose.windows_classified", chunk.len() as u64);
            for ((window, whole), changed) in chunk.iter().zip(predictions).zip(changes) {
                if window.entries.is_empty() {
                    out.count("diagnose.windows_normal", 1);
                    continue;
                }
                // Every distinct text, also those too rare to be among the window's `max_distinct`
                // texts, read on its own once: the verdict and the evidence both use it.
                let lines = window.condensed(usize::MAX);
                let alone = self
                    .classifier
                    .text_probabilities(&lines)
                    .unwrap_or_default();
                let decisive = window.decisive(&lines.texts);
                let verdict = self.verdict(whole, &alone, &decisive, out);
                let confident = |v: &(FaultClass, f64, &str)| v.1 >= self.settings.min_confidence;
                let (fault, confidence, evidence, pod) = match verdict {
                    Some(v) if confident(&v) || changed.is_empty() => {
                        let (fault, confidence, basis) = v;
                        let (evidence, pod) = self.evidence(window, &lines, &alone, fault, basis);
                        (fault, confidence, evidence, pod)
                    }
                    _ if !changed.is_empty() => {
                        out.count("diagnose.decided_by_change", 1);
                        self.change(window, &lines, &alone, &changed)
                    }
                    _ => {
                        out.count("diagnose.windows_normal", 1);
                        continue;
                    }
                };
                let diagnosis = self.diagnosis(window, fault, confidence, evidence, pod);
                if let Err(error) = out.emit(&diagnosis) {
                    count_failure(out, &error.to_string());
                }
            }
        }
    }

    /// The diagnosis of a window whose workload began logging error templates, or logs known ones far
    /// more often than it used to (`changed`, see [`ErrorNovelty`]), while the classifier finds nothing
    /// confident: `application_error`, or `dependency_failure` when the classifier reads those lines as
    /// that more than as the former and better than chance, with its own probability for them as the
    /// confidence (so it is usually uncertain, and escalated, never acted on). The evidence is the first
    /// line of each.
    fn change(
        &self,
        window: &WindowView,
        lines: &Condensed,
        alone: &[Vec<f32>],
        changed: &[Change],
    ) -> (FaultClass, f64, Vec<Evidence>, Option<String>) {
        let rows: HashMap<&str, usize> = lines
            .texts
            .iter()
            .enumerate()
            .map(|(row, text)| (text.as_str(), row))
            .collect();
        let labels = self.classifier.labels();
        let mean_p = |class: FaultClass| {
            let Some(column) = labels.iter().position(|l| *l == class) else {
                return 0.0;
            };
            let scores: Vec<f64> = changed
                .iter()
                .filter_map(|c| rows.get(window.entries[c.line].text.as_str()))
                .filter_map(|&row| alone.get(row).map(|p| f64::from(p[column])))
                .collect();
            scores.iter().sum::<f64>() / scores.len().max(1) as f64
        };
        // The classifier's reading names the class only where it is better than chance: on lines it
        // reads as ordinary, its probabilities are noise.
        let chance = 1.0 / labels.len().max(1) as f64;
        let (application, dependency) = (
            mean_p(FaultClass::ApplicationError),
            mean_p(FaultClass::DependencyFailure),
        );
        let (fault, confidence) = if dependency > application && dependency >= chance {
            (FaultClass::DependencyFailure, dependency)
        } else {
            (FaultClass::ApplicationError, application)
        };
        let evidence = changed
            .iter()
            .take(self.settings.max_evidence)
            .map(|c| {
                let how = match c.jumped_from {
                    None => "an error this workload had not logged in its first window, first logged \
                             in the window before this one and again here"
                        .to_owned(),
                    Some(usual) => format!(
                        "an error this workload logs about {usual:.1} times a window, at least \
                         {JUMP_FACTOR} × (that + 1) in the window before this one and again here"
                    ),
                };
                window.entries[c.line].to_evidence(format!(
                    "decided by change: {how} ({} of {} lines in the window); p({fault}) on its own \
                     = {confidence:.2}",
                    c.count,
                    window.lines()
                ))
            })
            .collect();
        let pod = changed
            .first()
            .and_then(|c| window.entries[c.line].pod())
            .or_else(|| window.latest_hints().0);
        (fault, confidence, evidence, pod)
    }

    /// The window's verdict, or `None` for a normal window. The window as a whole decides when it names a
    /// fault with at least `min_confidence`. Otherwise its lines, each classified on its own (`alone`:
    /// embeddings are cached, so this costs only the head), decide: a window is as faulty as its most
    /// telling line — one `OOMKilled` event among a minute of ordinary traffic is enough (multiple-instance
    /// reading) — but only a line that is `decisive` (not an INFO-or-quieter line: the more lines a window
    /// has, the likelier one healthy line reads like a fault). Failing both, a non-normal whole-window
    /// class is reported as it is (uncertain).
    fn verdict(
        &self,
        whole: Prediction,
        alone: &[Vec<f32>],
        decisive: &[bool],
        out: &mut Emitter,
    ) -> Option<(FaultClass, f64, &'static str)> {
        let min = self.settings.min_confidence;
        if whole.fault != FaultClass::Normal && whole.confidence >= min {
            return Some((whole.fault, whole.confidence, "window"));
        }
        let labels = self.classifier.labels();
        let strongest = alone
            .iter()
            .zip(decisive)
            .filter(|(_, decisive)| **decisive)
            .flat_map(|(p, _)| labels.iter().copied().zip(p.iter().map(|&v| f64::from(v))))
            .filter(|(class, _)| *class != FaultClass::Normal)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match strongest {
            Some((class, p)) if p >= min => {
                out.count("diagnose.decided_by_line", 1);
                Some((class, p, "line"))
            }
            _ if whole.fault != FaultClass::Normal => {
                Some((whole.fault, whole.confidence, "window"))
            }
            _ => None,
        }
    }

    /// The window's texts that on their own point most strongly at `class`, strongest first (each by its
    /// earliest line), and the pod of the strongest one that came from a pod (else the window's latest).
    fn evidence(
        &self,
        window: &WindowView,
        lines: &Condensed,
        alone: &[Vec<f32>],
        class: FaultClass,
        basis: &str,
    ) -> (Vec<Evidence>, Option<String>) {
        let column = self.classifier.labels().iter().position(|l| *l == class);
        let mut ranked: Vec<(usize, f64)> = (0..lines.texts.len())
            .map(|i| {
                let score = column
                    .and_then(|c| alone.get(i).map(|p| f64::from(p[c])))
                    .unwrap_or(0.0);
                (i, score)
            })
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut pod = None;
        let evidence = ranked
            .into_iter()
            .take(self.settings.max_evidence)
            .filter_map(|(i, score)| {
                let entry = window.entry(&lines.texts[i])?;
                // The pod whose lines decided: never one that only reported at INFO.
                if pod.is_none() && entry.is_decisive() {
                    pod = entry.pod();
                }
                Some(entry.to_evidence(format!(
                    "decided by the {basis}; this line on its own: p({class}) = {score:.2}; \
                     {} of {} lines in the window",
                    window.count_of(&lines.texts[i]),
                    window.lines()
                )))
            })
            .collect();
        (evidence, pod.or_else(|| window.latest_hints().0))
    }

    fn diagnosis(
        &self,
        window: &WindowView,
        fault: FaultClass,
        confidence: f64,
        evidence: Vec<Evidence>,
        pod: Option<String>,
    ) -> Diagnosis {
        let model = self.model_id();
        let target = &window.target;
        let diagnosis_id = diagnosis_id(
            target,
            fault,
            window.start_ns,
            &window.first_source(),
            &model,
        );
        Diagnosis {
            schema_version: SCHEMA_VERSION,
            diagnosis_id,
            target: Target {
                pod,
                node: window.latest_hints().1,
                ..target.clone()
            },
            fault,
            severity: severity_of(fault),
            confidence,
            // NaN is no confidence at all.
            uncertain: confidence.is_nan() || confidence < self.settings.min_confidence,
            window_start_ns: window.start_ns,
            window_end_ns: window.end_ns,
            last_rollout_ns: self.rollouts.last_rollout(target, window.end_ns),
            evidence,
            model,
        }
    }
}

/// Counts a failed classification; the stage keeps going (those windows go undiagnosed, which the counter
/// shows).
fn count_failure(out: &mut Emitter, _error: &str) {
    out.count("diagnose.classification_failed", 1);
}

impl Stage for WindowedDiagnose {
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
        let windows = read_windows(batch, &self.settings.definition, out);
        self.diagnose(&windows, out);
    }
}

/// The windows of `definition` in `batch` that are to be diagnosed; the rest counted, undecodable
/// records dead-lettered.
pub(crate) fn read_windows(
    batch: &[SourceRecord],
    definition: &str,
    out: &mut Emitter,
) -> Vec<WindowView> {
    let mut windows = Vec::new();
    for input in batch {
        match decode_record::<WindowFeatures>(&input.payload) {
            Ok(features) => match WindowView::read(features, definition) {
                Ok(window) => {
                    // Read from the templates that came first (or complained): the rest are counted.
                    out.count("diagnose.evidence_lines_left_out", window.lines_left_out);
                    // "Container image … already present on machine" is how a healthy start reads.
                    out.count("diagnose.normal_events", window.context_lines());
                    windows.push(window);
                }
                Err(Skip::OtherDefinition) => out.count("diagnose.other_windows", 1),
                Err(Skip::Correction) => out.count("diagnose.window_corrections", 1),
            },
            Err(error) => out.reject(input, error),
        }
    }
    windows
}

/// What a checkpoint of the windowed stage holds: what it learnt of each workload. (Windows are closed and
/// checkpointed by enrich; the embedding cache refills from the model.) Checkpoints from when diagnose
/// kept its own open windows restore these and drop the windows.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    /// Absent from checkpoints written before rollouts were tracked.
    #[serde(default)]
    rollouts: Vec<crate::rollouts::RolloutEntry>,
    /// Absent from checkpoints written before template histories were kept.
    #[serde(default)]
    novelty: Vec<crate::novelty::HistoryEntry>,
}

impl StageState for WindowedDiagnose {
    fn snapshot(&self) -> Result<Vec<u8>, StageError> {
        serde_json::to_vec(&Snapshot {
            rollouts: self.rollouts.entries(),
            novelty: self.novelty.entries(),
        })
        .map_err(|e| StageError::internal(format!("diagnose snapshot: {e}")))
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), StageError> {
        let Snapshot { rollouts, novelty } = serde_json::from_slice(snapshot)
            .map_err(|e| StageError::schema(format!("diagnose checkpoint: {e}")))?;
        self.rollouts.restore(rollouts);
        self.novelty.restore(novelty);
        Ok(())
    }
}
