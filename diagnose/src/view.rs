//! [`WindowView`]: a closed window from `medic.windows` as diagnose reads it — the templates that may be
//! evidence (a Kubernetes Event reporting normal operation is context, never evidence), each with the
//! text the model sees, its counts and its real lines.

use crate::novelty::TemplateLine;
use crate::rollouts::Rollouts;
use crate::transformer::Condensed;
use schemas::{Evidence, Exemplar, SourceCoordinates, Target, TemplateEvidence, WindowFeatures};

/// Lines a window is read as at most — as the classifiers were trained, and as diagnose kept windows
/// before it read enrich's: a busier window's counts are scaled down in proportion (each distinct text
/// keeps at least one line).
const MAX_LINES: u64 = 2_000;

/// One template of a window that may be evidence.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// What the model reads: the template, prefixed for Kubernetes Events with their type and reason
    /// (`Warning BackOff …`, as `kubectl describe` prints them).
    pub(crate) text: String,
    pub(crate) evidence: TemplateEvidence,
}

/// A closed window of one workload.
#[derive(Debug, Clone)]
pub(crate) struct WindowView {
    pub(crate) target: Target,
    pub(crate) start_ns: i64,
    pub(crate) end_ns: i64,
    /// The templates that may be evidence, earliest first.
    pub(crate) entries: Vec<Entry>,
    /// Normal Events (context): what [`Rollouts`] reads.
    context: Vec<TemplateEvidence>,
    /// Lines enrich left out of the evidence (its bound was reached).
    pub(crate) lines_left_out: u64,
}

/// Why a window is not diagnosed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    /// Another window definition's.
    OtherDefinition,
    /// A correction of a window already diagnosed (late records, `late_records = "update"`).
    Correction,
}

impl WindowView {
    /// The window, if it is a first emission of definition `definition`.
    pub(crate) fn read(features: WindowFeatures, definition: &str) -> Result<Self, Skip> {
        if features.window != definition {
            return Err(Skip::OtherDefinition);
        }
        if features.revision > 0 {
            return Err(Skip::Correction);
        }
        let (context, evidence): (Vec<_>, Vec<_>) = features
            .evidence
            .into_iter()
            .filter(|e| !e.exemplars.is_empty())
            .partition(|e| e.normal_event);
        let entries = evidence
            .into_iter()
            .filter_map(|evidence| {
                let text = text_of(&evidence);
                (!text.is_empty()).then_some(Entry { text, evidence })
            })
            .collect();
        Ok(Self {
            target: features.target,
            start_ns: features.window_start_ns,
            end_ns: features.window_end_ns,
            entries,
            context,
            lines_left_out: features.evidence_dropped,
        })
    }

    /// Tells `rollouts` of the window's `ScalingReplicaSet` Events, in event-time order.
    pub(crate) fn note_rollouts(&self, rollouts: &mut Rollouts) {
        let mut events: Vec<(&Exemplar, &str)> = self
            .context
            .iter()
            .chain(self.entries.iter().map(|e| &e.evidence))
            .filter_map(|e| Some((e, e.event_reason.as_deref()?)))
            .flat_map(|(e, reason)| e.exemplars.iter().map(move |x| (x, reason)))
            .collect();
        events.sort_by(|a, b| a.0.order_key().cmp(&b.0.order_key()));
        for (exemplar, reason) in events {
            rollouts.observe(
                &self.target,
                reason,
                &exemplar.message,
                exemplar.event_time_ns,
            );
        }
    }

    /// Lines of Normal Events: context, never evidence.
    pub(crate) fn context_lines(&self) -> u64 {
        self.context.iter().map(|e| e.count).sum()
    }

    /// Lines that may be evidence.
    pub(crate) fn lines(&self) -> u64 {
        self.entries.iter().map(|e| e.evidence.count).sum()
    }

    /// The distinct texts with their counts, most frequent first (ties: earliest first), at most
    /// `max_distinct` of them.
    pub(crate) fn condensed(&self, max_distinct: usize) -> Condensed {
        let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        let total = self.lines();
        let texts = self.entries.iter().map(|e| {
            let evidence = &e.evidence;
            (
                e.text.as_str(),
                count(evidence.count),
                count(evidence.late_count),
            )
        });
        // Ranked and cut by the real counts; only then scaled (scaling makes small counts tie).
        let mut condensed = Condensed::counted(
            texts,
            usize::try_from(total).unwrap_or(usize::MAX),
            max_distinct,
        );
        if total > MAX_LINES {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss,
                reason = "counts far below 2^24, scaled down"
            )]
            let scale = |n: &mut u32| {
                if *n > 0 {
                    *n = ((f64::from(*n) * MAX_LINES as f64 / total as f64).round() as u32).max(1);
                }
            };
            condensed.counts.iter_mut().for_each(scale);
            condensed.tail_counts.iter_mut().for_each(scale);
            condensed.lines = MAX_LINES as usize;
        }
        condensed
    }

    /// Lines with `text` (entries of several template ids may share it).
    pub(crate) fn count_of(&self, text: &str) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.text == text)
            .map(|e| e.evidence.count)
            .sum()
    }

    /// The first entry with `text`.
    pub(crate) fn entry(&self, text: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.text == text)
    }

    /// For each of `texts`: whether some line with it may decide the window alone (a line at INFO or
    /// below reports; it does not complain).
    pub(crate) fn decisive(&self, texts: &[String]) -> Vec<bool> {
        texts
            .iter()
            .map(|text| {
                self.entries
                    .iter()
                    .filter(|e| &e.text == text)
                    .any(Entry::is_decisive)
            })
            .collect()
    }

    /// Per entry: its template and its Error-or-worse lines (what [`crate::novelty::ErrorNovelty`] reads).
    pub(crate) fn template_lines(&self) -> Vec<TemplateLine<'_>> {
        self.entries
            .iter()
            .map(|e| TemplateLine {
                id: &e.evidence.template_id,
                text: &e.text,
                errors: u32::try_from(e.evidence.errors).unwrap_or(u32::MAX),
            })
            .collect()
    }

    /// Where the window's earliest evidence line was read: what its diagnosis id is derived from.
    pub(crate) fn first_source(&self) -> SourceCoordinates {
        self.exemplars()
            .min_by(|a, b| a.order_key().cmp(&b.order_key()))
            .map(|x| x.source.clone())
            .unwrap_or_default()
    }

    /// The hints when no evidence line names a pod: the pod of the latest line that may decide the
    /// window (not an INFO line's), and the node of the latest line that names one.
    pub(crate) fn latest_hints(&self) -> (Option<String>, Option<String>) {
        let latest = |lines: &mut dyn Iterator<Item = &Exemplar>| {
            lines
                .max_by(|a, b| a.order_key().cmp(&b.order_key()))
                .cloned()
        };
        let pod = latest(
            &mut self
                .entries
                .iter()
                .filter(|e| e.is_decisive())
                .flat_map(|e| &e.evidence.exemplars)
                .filter(|x| x.pod.is_some()),
        )
        .and_then(|x| x.pod);
        let node = latest(&mut self.exemplars().filter(|x| x.node.is_some())).and_then(|x| x.node);
        (pod, node)
    }

    fn exemplars(&self) -> impl Iterator<Item = &Exemplar> {
        self.entries.iter().flat_map(|e| &e.evidence.exemplars)
    }
}

impl Entry {
    /// Its earliest line as evidence, with `rationale`.
    pub(crate) fn to_evidence(&self, rationale: String) -> Evidence {
        self.evidence_of(&self.evidence.exemplars[0], rationale)
    }

    /// One of its lines as evidence, with `rationale`.
    pub(crate) fn evidence_of(&self, line: &Exemplar, rationale: String) -> Evidence {
        Evidence {
            message: line.message.clone(),
            template_id: self.evidence.template_id.clone(),
            event_time_ns: line.event_time_ns,
            source: line.source.clone(),
            rationale,
        }
    }

    /// Whether some of its lines may decide a window alone (not all are at INFO or below).
    pub(crate) fn is_decisive(&self) -> bool {
        self.evidence.count > self.evidence.informational
    }

    /// The pod of its earliest line.
    pub(crate) fn pod(&self) -> Option<String> {
        self.evidence.exemplars.first().and_then(|x| x.pod.clone())
    }
}

/// The text the model reads for a template's lines.
fn text_of(evidence: &TemplateEvidence) -> String {
    let template = if evidence.template.trim().is_empty() {
        evidence
            .exemplars
            .first()
            .map_or("", |x| x.message.as_str())
    } else {
        &evidence.template
    };
    match (&evidence.event_type, &evidence.event_reason) {
        (Some(kind), Some(reason)) => format!("{kind} {reason} {}", template.trim()),
        _ => template.trim().to_owned(),
    }
}
