//! [`WindowState`]: the windows of one definition between micro-batches — open windows with their
//! partial counts, closed windows kept for late corrections, the templates each workload has shown, and
//! each workload's previous window count. All of it is serialisable for checkpoints.

use super::WindowInput;
use super::evidence::{WindowEvidence, bounded};
use super::query::PartialCount;
use super::watermark::Watermark;
use schemas::{LogSeverity, ObjectKind, SCHEMA_VERSION, Target, TemplateCount, WindowFeatures};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Most template ids remembered per workload for the `new_templates` feature.
const MAX_SEEN_PER_WORKLOAD: usize = 10_000;

/// Counts of one template in one window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TemplateCounts {
    template: String,
    by_severity: BTreeMap<String, u64>,
}

impl TemplateCounts {
    fn total(&self) -> u64 {
        self.by_severity.values().sum()
    }
}

/// One window of one workload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Window {
    templates: BTreeMap<String, TemplateCounts>,
    /// Emissions so far (the next emission's `revision`).
    emitted: u32,
    /// Fixed at the first emission, so corrections report the same novelty and trend.
    new_templates: BTreeSet<String>,
    previous: BTreeMap<String, u64>,
    /// The lines themselves, condensed (only with `evidence_templates`). Absent from checkpoints
    /// written before windows carried evidence.
    #[serde(default)]
    evidence: WindowEvidence,
}

/// A map serialised as a list of `[key, value]` pairs (JSON keys must be strings; ours are tuples).
mod entries {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub(crate) fn serialize<S: Serializer, K: Serialize, V: Serialize>(
        map: &BTreeMap<K, V>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.iter())
    }

    pub(crate) fn deserialize<'de, D, K, V>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
    {
        Vec::<(K, V)>::deserialize(deserializer).map(|pairs| pairs.into_iter().collect())
    }
}

/// Window key: end (so iteration is in end order), then workload.
pub(crate) type Key = (i64, Target);

/// The state of one window definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct WindowState {
    /// Newest event time seen, ns.
    pub(crate) max_event_time_ns: Option<i64>,
    /// Per input partition. Absent from checkpoints written before it (restored from
    /// `max_event_time_ns` then).
    #[serde(default)]
    pub(crate) watermark: Watermark,
    #[serde(with = "entries")]
    pub(crate) open: BTreeMap<Key, Window>,
    #[serde(with = "entries")]
    closed: BTreeMap<Key, Window>,
    #[serde(with = "entries")]
    seen: BTreeMap<Target, BTreeSet<String>>,
    /// Record count of each workload's (and, per template, each template's) last emitted window.
    #[serde(with = "entries")]
    last_counts: BTreeMap<(Target, String), (i64, u64)>,
}

/// The settings that shape emitted features.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    pub(crate) name: String,
    pub(crate) size_ns: i64,
    pub(crate) slide_ns: i64,
    pub(crate) top_templates: usize,
    pub(crate) by_template: bool,
    pub(crate) evidence_templates: usize,
}

/// Where a partial count went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Merged {
    /// Into an open window.
    Open,
    /// Into the closed window with this key, kept for corrections.
    Corrected(Key),
    /// Nowhere: its window closed and is no longer kept.
    Late,
}

/// Where a contribution to the window ending at `end` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Into the open window: its end is after the watermark.
    Open,
    /// Into the closed window, kept for corrections (`retention_ns` > 0 and not expired).
    Closed,
    /// Nowhere: too late.
    Late,
}

impl Place {
    /// Where a contribution to the window ending at `end` goes, given the watermark and how long closed
    /// windows accept corrections.
    pub(crate) fn of(end: i64, watermark: i64, retention_ns: i64) -> Self {
        if end > watermark {
            Self::Open
        } else if retention_ns > 0 && end.saturating_add(retention_ns) > watermark {
            Self::Closed
        } else {
            Self::Late
        }
    }
}

/// The starts of the windows `[start, start + size_ns)` containing `t`, newest first: multiples of
/// `slide_ns`.
pub(crate) fn window_starts(t: i64, size_ns: i64, slide_ns: i64) -> impl Iterator<Item = i64> {
    let last = t.div_euclid(slide_ns) * slide_ns;
    std::iter::successors(Some(last), move |start| start.checked_sub(slide_ns))
        .take_while(move |start| *start > t.saturating_sub(size_ns))
}

impl WindowState {
    /// Adds one partial count to its window: open when its end is after `watermark`, a kept closed
    /// window when corrections are allowed (`retention_ns` > 0 and not expired).
    pub(crate) fn merge(
        &mut self,
        partial: PartialCount,
        size_ns: i64,
        watermark: i64,
        retention_ns: i64,
    ) -> Merged {
        // Taken apart, so the window's key and counts take its strings instead of copies.
        let PartialCount {
            window_start,
            cluster,
            namespace,
            kind,
            name,
            template_id,
            template,
            severity,
            records,
        } = partial;
        let workload = Target {
            cluster,
            namespace,
            kind: ObjectKind::from_kind(&kind),
            name,
            pod: None,
            node: None,
        };
        let key = (window_start.saturating_add(size_ns), workload);
        let (window, merged) = match Place::of(key.0, watermark, retention_ns) {
            Place::Open => (self.open.entry(key).or_default(), Merged::Open),
            Place::Closed => (
                self.closed.entry(key.clone()).or_default(),
                Merged::Corrected(key),
            ),
            Place::Late => return Merged::Late,
        };
        let counts = window.templates.entry(template_id).or_default();
        if counts.template.is_empty() {
            // Kept (and checkpointed) per window: bounded like the evidence.
            counts.template = bounded(&template);
        }
        *counts.by_severity.entry(severity).or_default() += records;
        merged
    }

    /// Adds each input's line to the evidence of every window it counted in (open, or kept closed for
    /// corrections, as [`WindowState::merge`] decided with the same `watermark`; not one that was late
    /// at the input's own watermark, `marks[i]`), when the window's query kept its template; returns
    /// how many lines found no such window (late, or filtered or re-labelled by the query).
    pub(crate) fn gather_evidence(
        &mut self,
        inputs: &[WindowInput<'_>],
        marks: &[i64],
        shape: &Shape,
        watermark: i64,
        retention_ns: i64,
    ) -> u64 {
        let mut unmatched = 0;
        let (size, slide) = (shape.size_ns, shape.slide_ns);
        // One map lookup per window and workload, not per line.
        // Hashed: windows are independent, so the order groups are visited in changes nothing, and a
        // lookup hashes a workload once instead of comparing it with several others.
        let mut groups: HashMap<(i64, &Target), Vec<usize>> = HashMap::new();
        for (i, input) in inputs.iter().enumerate() {
            if input.evidence.is_none() {
                continue;
            }
            let mark = marks.get(i).copied().unwrap_or(watermark);
            for start in window_starts(input.event_time_ns, size, slide) {
                let end = start.saturating_add(size);
                if Place::of(end, mark, retention_ns) == Place::Late {
                    unmatched += 1;
                    continue;
                }
                groups.entry((end, input.target)).or_default().push(i);
            }
        }
        for ((end, target), members) in groups {
            let key = (end, target.clone());
            let window = match Place::of(end, watermark, retention_ns) {
                Place::Open => self.open.get_mut(&key),
                Place::Closed => self.closed.get_mut(&key),
                Place::Late => None,
            };
            let Some(window) = window else {
                unmatched += members.len() as u64;
                continue;
            };
            let late_from = end.saturating_sub(size / 4);
            for i in members {
                let input = &inputs[i];
                let Some(line) = &input.evidence else {
                    continue;
                };
                if !window.templates.contains_key(input.template_id) {
                    unmatched += 1;
                    continue;
                }
                window.evidence.add(
                    line,
                    (input.template_id, input.template),
                    input.event_time_ns,
                    late_from,
                    shape.evidence_templates,
                );
            }
        }
        unmatched
    }

    /// Closes every open window ending at or before `watermark` (and the oldest ones beyond
    /// `max_open`), in end order; keeps them for corrections when `retention_ns` > 0.
    pub(crate) fn close(
        &mut self,
        watermark: i64,
        max_open: usize,
        retention_ns: i64,
        shape: &Shape,
    ) -> Vec<WindowFeatures> {
        let mut out = Vec::new();
        loop {
            let too_many = self.open.len() > max_open;
            let Some(entry) = self.open.first_entry() else {
                break;
            };
            if entry.key().0 > watermark && !too_many {
                break;
            }
            let (key, mut window) = entry.remove_entry();
            self.settle(&key, &mut window, shape);
            let kept = retention_ns > 0;
            out.extend(features(&key, &mut window, shape, kept));
            if kept {
                self.closed.insert(key, window);
            }
        }
        self.closed
            .retain(|(end, _), _| end.saturating_add(retention_ns) > watermark);
        let oldest_needed = self
            .open
            .first_key_value()
            .map_or(watermark, |((end, _), _)| *end)
            .min(watermark)
            .saturating_sub(shape.slide_ns);
        self.last_counts.retain(|_, (end, _)| *end >= oldest_needed);
        out
    }

    /// Re-emits the closed windows in `keys` (corrected by late records) with the next revision.
    pub(crate) fn reemit(&mut self, keys: &BTreeSet<Key>, shape: &Shape) -> Vec<WindowFeatures> {
        let mut out = Vec::new();
        for key in keys {
            if let Some(mut window) = self.closed.remove(key) {
                if window.emitted == 0 {
                    // A late record for a window that never had one: settle it like a first emission.
                    self.settle(key, &mut window, shape);
                } else {
                    self.note_new_templates(&key.1, &mut window);
                }
                out.extend(features(key, &mut window, shape, true));
                self.closed.insert(key.clone(), window);
            }
        }
        out
    }

    /// Fixes a window's novelty and previous counts at its first emission.
    fn settle(&mut self, key: &Key, window: &mut Window, shape: &Shape) {
        let (end, target) = key;
        self.note_new_templates(target, window);
        let mut counts: Vec<(String, u64)> = vec![(String::new(), total(window))];
        if shape.by_template {
            counts.extend(
                window
                    .templates
                    .iter()
                    .map(|(id, c)| (id.clone(), c.total())),
            );
        }
        for (template_id, count) in counts {
            let last = self
                .last_counts
                .insert((target.clone(), template_id.clone()), (*end, count));
            let previous = last
                .filter(|(last_end, _)| *last_end == end - shape.slide_ns)
                .map_or(0, |(_, count)| count);
            window.previous.insert(template_id, previous);
        }
    }

    fn note_new_templates(&mut self, target: &Target, window: &mut Window) {
        let seen = self.seen.entry(target.clone()).or_default();
        for template_id in window.templates.keys() {
            if !seen.contains(template_id) && seen.len() < MAX_SEEN_PER_WORKLOAD {
                seen.insert(template_id.clone());
                window.new_templates.insert(template_id.clone());
            }
        }
    }
}

fn total(window: &Window) -> u64 {
    window.templates.values().map(TemplateCounts::total).sum()
}

#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
fn ratio(numerator: u64, denominator: u64) -> f64 {
    numerator as f64 / denominator.max(1) as f64
}

#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
fn rate_of_change(count: u64, previous: u64) -> f64 {
    (count as f64 - previous as f64) / previous.max(1) as f64
}

/// What one emitted window covers: its template (with `by_template`) and the template counts.
type Group<'w> = (Option<&'w String>, Vec<(&'w String, &'w TemplateCounts)>);

/// The features of one window (one per template with `by_template`), with the next revision. A window
/// that is not `kept` after this gives its evidence away instead of a copy.
fn features(key: &Key, window: &mut Window, shape: &Shape, kept: bool) -> Vec<WindowFeatures> {
    let revision = window.emitted;
    window.emitted += 1;
    let (mut all_evidence, evidence_dropped) = if shape.evidence_templates == 0 {
        (Vec::new(), 0)
    } else if kept {
        window.evidence.records()
    } else {
        window.evidence.take_records()
    };
    let groups: Vec<Group<'_>> = if shape.by_template {
        window
            .templates
            .iter()
            .map(|(id, counts)| (Some(id), vec![(id, counts)]))
            .collect()
    } else {
        vec![(None, window.templates.iter().collect())]
    };
    groups
        .into_iter()
        .map(|(template_id, templates)| {
            let mut severity_counts: BTreeMap<String, u64> = BTreeMap::new();
            for (_, counts) in &templates {
                for (severity, n) in &counts.by_severity {
                    *severity_counts.entry(severity.clone()).or_default() += n;
                }
            }
            let record_count: u64 = severity_counts.values().sum();
            let count_where = |f: fn(LogSeverity) -> bool| -> u64 {
                severity_counts
                    .iter()
                    .filter(|(name, _)| LogSeverity::from_name(name).is_some_and(f))
                    .map(|(_, n)| n)
                    .sum()
            };
            let warning_count = count_where(|s| s == LogSeverity::Warning);
            let error_count = count_where(LogSeverity::is_error);
            // Ranked by reference; only the top ones are copied.
            let mut ranked: Vec<(&String, &TemplateCounts, u64)> = templates
                .iter()
                .map(|(id, counts)| (*id, *counts, counts.total()))
                .collect();
            ranked.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(b.0)));
            let distinct_templates = ranked.len() as u64;
            let top: Vec<TemplateCount> = ranked
                .iter()
                .take(shape.top_templates)
                .map(|(id, counts, count)| TemplateCount {
                    template_id: (*id).clone(),
                    template: counts.template.clone(),
                    count: *count,
                })
                .collect();
            let new_templates = templates
                .iter()
                .filter(|(id, _)| window.new_templates.contains(*id))
                .count() as u64;
            // One window per template takes its template's evidence; the one window of all templates
            // (there is no other group then) takes all of it.
            let evidence = match template_id {
                Some(id) => all_evidence
                    .iter()
                    .filter(|e| &e.template_id == id)
                    .cloned()
                    .collect(),
                None => std::mem::take(&mut all_evidence),
            };
            let previous = window
                .previous
                .get(template_id.map_or("", String::as_str))
                .copied()
                .unwrap_or(0);
            WindowFeatures {
                schema_version: SCHEMA_VERSION,
                window: shape.name.clone(),
                target: key.1.clone(),
                template_id: template_id.cloned(),
                revision,
                window_start_ns: key.0 - shape.size_ns,
                window_end_ns: key.0,
                record_count,
                warning_count,
                error_count,
                error_rate: ratio(error_count, record_count),
                severity_counts,
                distinct_templates,
                new_templates,
                rate_of_change: rate_of_change(record_count, previous),
                top_templates: top,
                evidence,
                evidence_dropped,
            }
        })
        .collect()
}
