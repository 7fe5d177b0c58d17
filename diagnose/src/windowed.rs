//! [`WindowedDiagnose`]: a classifier in the pipeline ([`FaultModel`]: the n-gram model or the transformer). Evidence is gathered per workload in tumbling
//! event-time windows; closed windows are classified together in one batched forward pass; a window whose
//! class is not `normal` becomes a [`Diagnosis`].
//!
//! ```text
//!  parsed record ─► workload window [start, start + window) ── closes when the watermark (the oldest of
//!                   (template texts, evidence, bounded)          the input partitions' newest event times,
//!                                                                 − one window) passes its end,
//!                                                                 when idle for a window of wall time, or
//!                                                                 at shutdown
//!  closed windows ─► FaultModel::predict (batched; transformer: template embeddings cached) ─► Diagnosis (≠ normal)
//!                 └► ErrorNovelty (the workload's template history) ─► when the model finds nothing confident
//!                    and an error new to the workload is sustained: a Diagnosis by change
//! ```
//!
//! A Kubernetes Event of type Normal (Pulled, Started, ScalingReplicaSet, …) is context, never evidence:
//! it is counted (`diagnose.normal_events`) and enters no window.

use crate::model::FaultModel;
use crate::novelty::{Change, ErrorNovelty, JUMP_FACTOR, TemplateLine};
use crate::rollouts::Rollouts;
use crate::rules::severity_of;
use crate::stage::diagnosis_id;
use crate::transformer::{Condensed, Prediction};
use schemas::{
    Diagnosis, Emitter, Evidence, FaultClass, LogSeverity, ParsedRecord, SCHEMA_VERSION,
    SourceCoordinates, SourceFormat, SourceRecord, Stage, StageError, StageState, Target,
    decode_record,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Settings of the windowed transformer stage.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSettings {
    /// Window length, ns.
    pub window_ns: i64,
    /// Lines kept per window (later ones are counted and dropped).
    pub max_lines: usize,
    /// Windows classified per forward pass.
    pub max_batch: usize,
    /// Open windows at most (the stalest is closed early beyond it).
    pub max_open: usize,
    /// Below this confidence a diagnosis is `uncertain`.
    pub min_confidence: f64,
    /// Evidence lines per diagnosis.
    pub max_evidence: usize,
}

/// One workload's open window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OpenWindow {
    start_ns: i64,
    texts: Vec<String>,
    evidence: Vec<Evidence>,
    /// Per line: whether its severity is known and below Warning (an INFO line reports; it does not
    /// complain). Such a line never decides a window on its own. Empty in checkpoints from before it.
    #[serde(default)]
    informational: Vec<bool>,
    /// Per line: the pod it came from. The diagnosis names the pod of its strongest evidence — the
    /// actuator confirms with the API server that this pod is the workload's before a workload-wide
    /// action, so it must be the pod whose lines decided, not whichever pod spoke last. Empty in
    /// checkpoints from before it.
    #[serde(default)]
    pods: Vec<Option<String>>,
    /// Per line: whether it is Error or worse (what [`ErrorNovelty`] looks for). Empty in checkpoints
    /// from before it.
    #[serde(default)]
    errors: Vec<bool>,
    /// Pod and node of the latest record: the hints when no evidence line names a pod.
    pod: Option<String>,
    node: Option<String>,
    /// Wall clock of the latest record, ns.
    touched_ns: i64,
}

/// Diagnoses windows of evidence with a classifier (the fine-tuned transformer or the n-gram model).
pub struct WindowedDiagnose {
    classifier: FaultModel,
    settings: WindowSettings,
    open: HashMap<Target, OpenWindow>,
    /// Newest event time read from each input partition (bounded by the wall clock plus one window).
    marks: BTreeMap<(String, i32), i64>,
    /// The oldest of the partitions' marks, never moving back: a partition that lags behind another
    /// does not see its records dropped as late because the other ran ahead.
    watermark_ns: i64,
    /// When each Deployment was last rolled out (checkpointed with the windows).
    rollouts: Rollouts,
    /// Which templates each workload logged before (checkpointed with the windows).
    novelty: ErrorNovelty,
}

impl WindowedDiagnose {
    /// A stage around a loaded classifier.
    #[must_use]
    pub fn new(classifier: FaultModel, settings: WindowSettings) -> Self {
        Self {
            classifier,
            open: HashMap::new(),
            marks: BTreeMap::new(),
            watermark_ns: i64::MIN,
            rollouts: Rollouts::new(crate::stage::ROLLOUTS_TRACKED),
            novelty: ErrorNovelty::new(settings.window_ns),
            settings,
        }
    }

    /// The classifier's name and version, as written on diagnoses.
    #[must_use]
    pub fn model_id(&self) -> String {
        self.classifier.model_id()
    }

    /// The text the model sees for a record: its template, prefixed for Kubernetes Events with the event
    /// type and reason (`Warning BackOff …`, as `kubectl describe` prints them).
    fn text_of(parsed: &ParsedRecord) -> String {
        let log = &parsed.log;
        let template = if parsed.template.is_empty() {
            &log.message
        } else {
            &parsed.template
        };
        match (log.source_format, log.attributes.get("k8s.event.reason")) {
            (SourceFormat::K8sEvent, Some(reason)) => {
                let kind = if log.severity >= schemas::LogSeverity::Warning {
                    "Warning"
                } else {
                    "Normal"
                };
                format!("{kind} {reason} {template}")
            }
            _ => template.clone(),
        }
    }

    /// The event-time horizon: windows ending at or before it are complete.
    fn horizon_ns(&self) -> i64 {
        self.watermark_ns.saturating_sub(self.settings.window_ns)
    }

    /// Adds one record to its workload's window; returns a window this closed (with its workload).
    fn add(
        &mut self,
        parsed: &ParsedRecord,
        from: &SourceCoordinates,
        now_ns: i64,
        out: &mut Emitter,
    ) -> Option<(Target, OpenWindow)> {
        let log = &parsed.log;
        let text = Self::text_of(parsed);
        if text.trim().is_empty() {
            out.count("diagnose.blank_line", 1);
            return None;
        }
        let mut target = log.target()?;
        let (pod, node) = (target.pod.take(), target.node.take());
        let window = self.settings.window_ns;
        let start_ns = log.event_time_ns.div_euclid(window) * window;
        if start_ns.saturating_add(window) <= self.horizon_ns()
            && self.open.get(&target).is_none_or(|w| w.start_ns > start_ns)
        {
            // Its window was already diagnosed: re-opening it would diagnose it twice.
            out.count("diagnose.late_dropped", 1);
            return None;
        }
        // A clock far ahead must not close every window at once: the watermark moves at most to the wall
        // clock plus one window.
        if log.event_time_ns > now_ns.saturating_add(window) {
            out.count("diagnose.event_time_ahead_of_clock", 1);
        }
        let mark = self
            .marks
            .entry((from.topic.clone(), from.partition))
            .or_insert(i64::MIN);
        *mark = (*mark).max(log.event_time_ns.min(now_ns.saturating_add(window)));
        let oldest = self.marks.values().copied().min().unwrap_or(i64::MIN);
        self.watermark_ns = self.watermark_ns.max(oldest);
        let mut closed = None;
        if self
            .open
            .get(&target)
            .is_some_and(|w| start_ns > w.start_ns)
        {
            closed = self.open.remove(&target).map(|w| (target.clone(), w));
        } else if !self.open.contains_key(&target) && self.open.len() >= self.settings.max_open {
            let stalest = self
                .open
                .iter()
                .min_by_key(|(_, w)| w.touched_ns)
                .map(|(t, _)| t.clone());
            closed = stalest.and_then(|t| self.open.remove(&t).map(|w| (t, w)));
            out.count("diagnose.window_closed_early", 1);
        }
        let entry = self.open.entry(target).or_insert_with(|| OpenWindow {
            start_ns,
            texts: Vec::new(),
            evidence: Vec::new(),
            informational: Vec::new(),
            pods: Vec::new(),
            errors: Vec::new(),
            pod: None,
            node: None,
            touched_ns: now_ns,
        });
        entry.touched_ns = now_ns;
        if start_ns < entry.start_ns {
            out.count("diagnose.late_into_current_window", 1);
        }
        if entry.texts.len() >= self.settings.max_lines {
            out.count("diagnose.window_lines_dropped", 1);
            return closed;
        }
        // A window restored from a checkpoint written before `informational` existed has none for its
        // lines: they count as decisive, as they did then, and the flags stay aligned with the texts.
        entry.informational.resize(entry.texts.len(), false);
        entry.pods.resize(entry.texts.len(), None);
        entry.errors.resize(entry.texts.len(), false);
        entry.pods.push(pod.clone());
        entry.errors.push(log.severity >= LogSeverity::Error);
        entry.texts.push(text.trim().to_owned());
        entry
            .informational
            .push(log.severity != LogSeverity::Unspecified && log.severity < LogSeverity::Warning);
        entry.evidence.push(Evidence {
            message: log.message.clone(),
            template_id: parsed.template_id.clone(),
            event_time_ns: log.event_time_ns,
            source: log.source.clone(),
            rationale: String::new(),
        });
        entry.pod = pod.or(entry.pod.take());
        entry.node = node.or(entry.node.take());
        closed
    }

    /// Removes the windows `done` selects.
    fn take_windows(&mut self, done: impl Fn(&OpenWindow) -> bool) -> Vec<(Target, OpenWindow)> {
        let keys: Vec<Target> = self
            .open
            .iter()
            .filter(|(_, w)| done(w))
            .map(|(t, _)| t.clone())
            .collect();
        let mut windows: Vec<(Target, OpenWindow)> = keys
            .into_iter()
            .filter_map(|t| self.open.remove(&t).map(|w| (t, w)))
            .collect();
        windows.sort_by(|a, b| (a.1.start_ns, &a.0).cmp(&(b.1.start_ns, &b.0)));
        windows
    }

    /// Classifies closed windows in batches and emits their diagnoses.
    fn diagnose(&mut self, windows: Vec<(Target, OpenWindow)>, out: &mut Emitter) {
        for chunk in windows.chunks(self.settings.max_batch.max(1)) {
            // Histories first: a window the model then fails on still counts in its workload's.
            let changes: Vec<Vec<Change>> = chunk
                .iter()
                .map(|(target, w)| {
                    self.novelty
                        .observe(target, w.start_ns, &w.template_lines())
                })
                .collect();
            let condensed: Vec<Condensed> = chunk
                .iter()
                .map(|(_, w)| self.classifier.condense(&w.texts))
                .collect();
            let predictions = match self.classifier.predict(&condensed) {
                Ok(p) => p,
                Err(error) => {
                    count_failure(out, &error.to_string());
                    continue;
                }
            };
            out.count("diagnose.windows_classified", chunk.len() as u64);
            for (((target, window), whole), changed) in chunk.iter().zip(predictions).zip(changes) {
                // Every distinct line, also those too rare to be among the window's `max_distinct`
                // texts, read on its own once: the verdict and the evidence both use it.
                let lines = Condensed::new(&window.texts, usize::MAX);
                let alone = self
                    .classifier
                    .text_probabilities(&lines)
                    .unwrap_or_default();
                let decisive = window.decisive(&lines);
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
                let diagnosis = self.diagnosis(target, window, fault, confidence, evidence, pod);
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
        window: &OpenWindow,
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
                .filter_map(|c| rows.get(window.texts[c.line].as_str()))
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
                let mut evidence = window.evidence[c.line].clone();
                let how = match c.jumped_from {
                    None => "an error this workload had not logged in its first window, first logged \
                             in the window before this one and again here"
                        .to_owned(),
                    Some(usual) => format!(
                        "an error this workload logs about {usual:.1} times a window, at least \
                         {JUMP_FACTOR} × (that + 1) in the window before this one and again here"
                    ),
                };
                evidence.rationale = format!(
                    "decided by change: {how} ({} of {} lines in the window); p({fault}) on its own \
                     = {confidence:.2}",
                    c.count,
                    window.texts.len()
                );
                evidence
            })
            .collect();
        let pod = changed
            .first()
            .and_then(|c| window.pods.get(c.line).cloned().flatten())
            .or_else(|| window.pod.clone());
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

    /// The window's lines that on their own point most strongly at `class`, strongest first, and the pod
    /// of the strongest one that came from a pod (else the window's latest pod).
    fn evidence(
        &self,
        window: &OpenWindow,
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
                let text = &lines.texts[i];
                let first = window.texts.iter().position(|t| t == text)?;
                if pod.is_none() {
                    pod = window.pods.get(first).cloned().flatten();
                }
                let mut evidence = window.evidence[first].clone();
                evidence.rationale = format!(
                    "decided by the {basis}; this line on its own: p({class}) = {score:.2}; \
                     {} of {} lines in the window",
                    lines.counts[i], lines.lines
                );
                Some(evidence)
            })
            .collect();
        (evidence, pod.or_else(|| window.pod.clone()))
    }

    fn diagnosis(
        &self,
        target: &Target,
        window: &OpenWindow,
        fault: FaultClass,
        confidence: f64,
        evidence: Vec<Evidence>,
        pod: Option<String>,
    ) -> Diagnosis {
        let model = self.model_id();
        let diagnosis_id = diagnosis_id(
            target,
            fault,
            window.start_ns,
            &window.evidence[0].source,
            &model,
        );
        Diagnosis {
            schema_version: SCHEMA_VERSION,
            diagnosis_id,
            target: Target {
                pod,
                node: window.node.clone(),
                ..target.clone()
            },
            fault,
            severity: severity_of(fault),
            confidence,
            // NaN is no confidence at all.
            uncertain: confidence.is_nan() || confidence < self.settings.min_confidence,
            window_start_ns: window.start_ns,
            window_end_ns: window.start_ns.saturating_add(self.settings.window_ns),
            last_rollout_ns: self.rollouts.last_rollout(
                target,
                window.start_ns.saturating_add(self.settings.window_ns),
            ),
            evidence,
            model,
        }
    }
}

impl OpenWindow {
    /// Per line: its template id and text and whether it is Error or worse.
    fn template_lines(&self) -> Vec<TemplateLine<'_>> {
        self.texts
            .iter()
            .enumerate()
            .map(|(i, text)| TemplateLine {
                id: self.evidence.get(i).map_or("", |e| e.template_id.as_str()),
                text,
                error: self.errors.get(i).copied().unwrap_or(false),
            })
            .collect()
    }

    /// For each distinct text of `lines` (condensed from this window's texts): whether some line with it
    /// may decide the window alone (see [`OpenWindow::informational`]).
    fn decisive(&self, lines: &Condensed) -> Vec<bool> {
        let mut decisive: HashMap<&str, bool> = HashMap::new();
        for (i, text) in self.texts.iter().enumerate() {
            let quiet = self.informational.get(i).copied().unwrap_or(false);
            *decisive.entry(text.trim()).or_insert(false) |= !quiet;
        }
        lines
            .texts
            .iter()
            .map(|t| decisive.get(t.as_str()).copied().unwrap_or(true))
            .collect()
    }
}

/// Counts a failed classification; the stage keeps going (those windows go undiagnosed, which the counter
/// shows).
fn count_failure(out: &mut Emitter, _error: &str) {
    out.count("diagnose.classification_failed", 1);
}

impl Stage for WindowedDiagnose {
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
        let now_ns = schemas::clock::wall_clock_ns();
        let mut closed = Vec::new();
        for input in batch {
            match decode_record::<ParsedRecord>(&input.payload) {
                Ok(parsed) => {
                    if parsed.log.target().is_none() {
                        out.count("diagnose.no_workload", 1);
                        continue;
                    }
                    self.rollouts.observe(&parsed.log);
                    if parsed.log.is_normal_event() {
                        // "Container image … already present on machine" is how a healthy start reads.
                        out.count("diagnose.normal_events", 1);
                        continue;
                    }
                    closed.extend(self.add(&parsed, &input.coordinates, now_ns, out));
                }
                Err(error) => out.reject(input, error),
            }
        }
        let (horizon, window_ns) = (self.horizon_ns(), self.settings.window_ns);
        closed.extend(self.take_windows(|w| w.start_ns.saturating_add(window_ns) <= horizon));
        self.diagnose(closed, out);
    }

    fn on_tick(&mut self, now_ns: i64, out: &mut Emitter) {
        let idle_ns = self.settings.window_ns;
        let idle = self.take_windows(|w| now_ns - w.touched_ns >= idle_ns);
        self.diagnose(idle, out);
    }

    fn on_close(&mut self, out: &mut Emitter) {
        let all = self.take_windows(|_| true);
        self.diagnose(all, out);
    }
}

/// What a checkpoint of the windowed stage holds: the open windows and the watermark. The embedding cache
/// is not saved (it refills from the model).
#[derive(Serialize, Deserialize)]
struct Snapshot {
    watermark_ns: i64,
    windows: Vec<(Target, OpenWindow)>,
    /// Per input partition: (topic, partition, mark). Absent from checkpoints written before it.
    #[serde(default)]
    marks: Vec<(String, i32, i64)>,
    /// Absent from checkpoints written before rollouts were tracked.
    #[serde(default)]
    rollouts: Vec<crate::rollouts::RolloutEntry>,
    /// Absent from checkpoints written before template histories were kept.
    #[serde(default)]
    novelty: Vec<crate::novelty::HistoryEntry>,
}

/// Open windows hold records whose offsets the runner would otherwise commit before they are diagnosed:
/// checkpointing them keeps the stage at-least-once across a crash.
impl StageState for WindowedDiagnose {
    fn snapshot(&self) -> Result<Vec<u8>, StageError> {
        let mut windows: Vec<(Target, OpenWindow)> = self
            .open
            .iter()
            .map(|(t, w)| (t.clone(), w.clone()))
            .collect();
        windows.sort_by(|a, b| a.0.cmp(&b.0));
        serde_json::to_vec(&Snapshot {
            watermark_ns: self.watermark_ns,
            windows,
            marks: self
                .marks
                .iter()
                .map(|((topic, partition), mark)| (topic.clone(), *partition, *mark))
                .collect(),
            rollouts: self.rollouts.entries(),
            novelty: self.novelty.entries(),
        })
        .map_err(|e| StageError::internal(format!("diagnose snapshot: {e}")))
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), StageError> {
        let Snapshot {
            watermark_ns,
            windows,
            marks,
            rollouts,
            novelty,
        } = serde_json::from_slice(snapshot)
            .map_err(|e| StageError::schema(format!("diagnose checkpoint: {e}")))?;
        self.watermark_ns = watermark_ns;
        self.open = windows.into_iter().collect();
        self.rollouts.restore(rollouts);
        self.novelty.restore(novelty);
        self.marks = marks
            .into_iter()
            .map(|(topic, partition, mark)| ((topic, partition), mark))
            .collect();
        Ok(())
    }
}
