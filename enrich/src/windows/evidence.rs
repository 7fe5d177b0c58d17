//! [`WindowEvidence`]: what one workload's window said, per template — counts by kind of line and the
//! earliest and latest line verbatim — so that diagnose reads one record per window instead of every line.
//!
//! Gathered beside the SQL's counts (DataFusion aggregates; it does not keep a line), only for lines whose
//! window and template the query kept, so a query that filters lines filters their evidence too.

use schemas::{
    Exemplar, LogSeverity, LogView, SourceCoordinates, SourceFormat, SourceRef, TemplateEvidence,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bytes of JSON a template or an exemplar line takes in a window at most (cut at a character, marked
/// with a trailing `…`): lines are untrusted and a window must fit one Kafka message with all its
/// evidence — 200 templates of three cut texts stay near 0.7 MB against the 1 MB default.
pub const MAX_TEXT_BYTES: usize = 1024;

/// `text`, cut so that it takes at most [`MAX_TEXT_BYTES`] once escaped as a JSON string (a quote or
/// backslash takes two bytes there, a control character six).
pub(crate) fn bounded(text: &str) -> String {
    let mut out = String::new();
    write_bounded(&mut out, text);
    out
}

/// Replaces `out` with [`bounded`]`(text)`, reusing its allocation.
fn write_bounded(out: &mut String, text: &str) {
    out.clear();
    // Byte by byte: a multi-byte character takes its bytes in JSON, as any byte of 0x80 or above does.
    let escaped = |b: u8| match b {
        b'"' | b'\\' => 2,
        0..0x20 => 6,
        _ => 1,
    };
    // Escaping never shrinks a text: one longer than the budget is cut without reading it all.
    if text.len() <= MAX_TEXT_BYTES
        && (text.len() * 6 <= MAX_TEXT_BYTES
            || text.bytes().map(escaped).sum::<usize>() <= MAX_TEXT_BYTES)
    {
        out.push_str(text);
        return;
    }
    let budget = MAX_TEXT_BYTES - '…'.len_utf8();
    let mut size = 0;
    let mut end = text.len();
    for (i, b) in text.bytes().enumerate() {
        size += escaped(b);
        if size > budget {
            end = i;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            break;
        }
    }
    out.push_str(&text[..end]);
    if end < text.len() {
        out.push('…');
    }
}

/// What the window operator needs of a line to keep it as evidence.
#[derive(Debug, Clone, Copy)]
pub struct LineEvidence<'a> {
    /// The (redacted) message.
    pub message: &'a str,
    /// Where the raw record was read.
    pub source: SourceRef<'a>,
    /// The pod that logged it.
    pub pod: Option<&'a str>,
    /// The node it ran on.
    pub node: Option<&'a str>,
    /// For a Kubernetes Event: its type as `kubectl describe` prints it (`Warning`/`Normal`) and reason.
    pub event: Option<(&'static str, &'a str)>,
    /// A Kubernetes Event reporting normal operation (`LogRecord::is_normal_event`).
    pub normal_event: bool,
    /// Error or worse.
    pub error: bool,
    /// A known severity below warning.
    pub informational: bool,
}

impl<'a> LineEvidence<'a> {
    /// What a window keeps of `log`.
    #[must_use]
    pub fn of(log: &'a LogView<'_>) -> Self {
        let event = match (log.source_format, log.attributes.get("k8s.event.reason")) {
            (SourceFormat::K8sEvent, Some(reason)) => {
                let kind = if log.severity >= LogSeverity::Warning {
                    "Warning"
                } else {
                    "Normal"
                };
                Some((kind, reason))
            }
            _ => None,
        };
        let normal_event = log.is_normal_event();
        // An Event that is not a Normal one (a Warning, or a Node turning unhealthy, which the node
        // controller types Normal) complains whatever severity it was read with.
        let adverse_event = log.source_format == SourceFormat::K8sEvent && !normal_event;
        Self {
            message: log.message,
            source: log.source,
            pod: log.resource.pod,
            node: log.resource.node,
            event,
            normal_event,
            error: log.severity >= LogSeverity::Error,
            informational: !adverse_event
                && log.severity != LogSeverity::Unspecified
                && log.severity < LogSeverity::Warning,
        }
    }
}

/// The evidence of one window, bounded in templates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WindowEvidence {
    /// Per template id: one entry per Event type and reason (one entry for ordinary lines).
    by_template: BTreeMap<String, Vec<TemplateEvidence>>,
    entries: usize,
    dropped: u64,
}

impl WindowEvidence {
    /// Adds one line of template `template_id` (`template`) at `event_time_ns` to a window whose last
    /// quarter starts at `late_from_ns`, keeping at most `max_entries` templates. When they are full, a
    /// line that complains (not informational, not a Normal Event) takes the place of an entry of only
    /// informational lines that are not Kubernetes Events (Events are few, and some are context diagnose
    /// needs, such as rollouts), so chatter that came first cannot crowd out the fault; the lines of
    /// what is left out are counted (`dropped`).
    pub(crate) fn add(
        &mut self,
        line: &LineEvidence<'_>,
        (template_id, template): (&str, &str),
        event_time_ns: i64,
        late_from_ns: i64,
        max_entries: usize,
    ) {
        let (event_type, event_reason) = line.event.unzip();
        let same = |e: &TemplateEvidence| {
            e.event_type.as_deref() == event_type
                && e.event_reason.as_deref() == event_reason
                && e.normal_event == line.normal_event
        };
        // One lookup for a line of a known entry, the common case.
        if let Some(entry) = self
            .by_template
            .get_mut(template_id)
            .and_then(|entries| entries.iter_mut().find(|e| same(e)))
        {
            tally(entry, line, event_time_ns, late_from_ns);
            return;
        }
        if self.entries >= max_entries
            && (line.informational || line.normal_event || !self.evict_quiet())
        {
            self.dropped += 1;
            return;
        }
        self.entries += 1;
        let entries = self.by_template.entry(template_id.to_owned()).or_default();
        entries.push(TemplateEvidence {
            template_id: template_id.to_owned(),
            template: bounded(template),
            event_type: event_type.map(str::to_owned),
            event_reason: event_reason.map(str::to_owned),
            normal_event: line.normal_event,
            count: 0,
            errors: 0,
            informational: 0,
            late_count: 0,
            exemplars: Vec::new(),
        });
        let entry = entries.last_mut().expect("just pushed");
        tally(entry, line, event_time_ns, late_from_ns);
    }

    /// Removes one entry of only informational lines that are not Kubernetes Events (the one with the
    /// fewest lines), counting its lines as dropped; whether there was one.
    fn evict_quiet(&mut self) -> bool {
        let quiet = |e: &TemplateEvidence| e.event_type.is_none() && e.informational == e.count;
        let victim = self
            .by_template
            .iter()
            .flat_map(|(id, entries)| entries.iter().enumerate().map(move |(i, e)| (id, i, e)))
            .filter(|(_, _, e)| quiet(e))
            .min_by_key(|(id, i, e)| (e.count, (*id).clone(), *i))
            .map(|(id, i, _)| (id.clone(), i));
        let Some((id, i)) = victim else {
            return false;
        };
        if let Some(entries) = self.by_template.get_mut(&id) {
            self.dropped += entries.remove(i).count;
            if entries.is_empty() {
                self.by_template.remove(&id);
            }
        }
        self.entries -= 1;
        true
    }

    /// The entries, earliest first (by their earliest line), and how many lines were left out.
    pub(crate) fn records(&self) -> (Vec<TemplateEvidence>, u64) {
        let entries = self.by_template.values().flatten().cloned().collect();
        (earliest_first(entries), self.dropped)
    }

    /// [`WindowEvidence::records`], moved out (for a window that is not kept): the evidence is left empty.
    pub(crate) fn take_records(&mut self) -> (Vec<TemplateEvidence>, u64) {
        let entries = std::mem::take(&mut self.by_template)
            .into_values()
            .flatten()
            .collect();
        self.entries = 0;
        (earliest_first(entries), self.dropped)
    }
}

/// `entries` sorted by their earliest line.
fn earliest_first(mut entries: Vec<TemplateEvidence>) -> Vec<TemplateEvidence> {
    entries.sort_by(|a, b| {
        let (a, b) = (a.exemplars.first(), b.exemplars.first());
        a.map(Exemplar::order_key).cmp(&b.map(Exemplar::order_key))
    });
    entries
}

/// Counts `line` in `entry` and keeps it as an exemplar if it is the earliest or the latest.
fn tally(
    entry: &mut TemplateEvidence,
    line: &LineEvidence<'_>,
    event_time_ns: i64,
    late_from_ns: i64,
) {
    entry.count += 1;
    entry.errors += u64::from(line.error);
    entry.informational += u64::from(line.informational);
    entry.late_count += u64::from(event_time_ns >= late_from_ns);
    keep_exemplar(&mut entry.exemplars, line, event_time_ns);
}

/// Keeps the earliest and the latest line (`exemplars[0]`, `exemplars[1]`), in a total order so the choice
/// does not depend on how the lines were batched.
fn keep_exemplar(exemplars: &mut Vec<Exemplar>, line: &LineEvidence<'_>, event_time_ns: i64) {
    let key = (event_time_ns, line.source);
    // In a stream in event-time order every line is the new latest: it is written over the old one,
    // reusing its allocations.
    let overwrite = |kept: &mut Exemplar| {
        write_bounded(&mut kept.message, line.message);
        kept.event_time_ns = event_time_ns;
        let source = line.source;
        kept.source.topic.clear();
        kept.source.topic.push_str(source.topic);
        (kept.source.partition, kept.source.offset, kept.source.index) =
            (source.partition, source.offset, source.index);
        for (field, value) in [(&mut kept.pod, line.pod), (&mut kept.node, line.node)] {
            match (field.as_mut(), value) {
                (Some(kept), Some(value)) => {
                    kept.clear();
                    kept.push_str(value);
                }
                (_, value) => *field = value.map(str::to_owned),
            }
        }
    };
    let exemplar = || {
        let mut fresh = Exemplar {
            message: String::new(),
            event_time_ns,
            source: SourceCoordinates::default(),
            pod: None,
            node: None,
        };
        overwrite(&mut fresh);
        fresh
    };
    match exemplars.as_mut_slice() {
        [] => exemplars.push(exemplar()),
        [first] if key < first.order_key() => exemplars.insert(0, exemplar()),
        [first] if key > first.order_key() => exemplars.push(exemplar()),
        [first, _] if key < first.order_key() => overwrite(first),
        [_, last] if key > last.order_key() => overwrite(last),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(message: &'a str, source: &'a SourceCoordinates) -> LineEvidence<'a> {
        LineEvidence {
            message,
            source: source.view(),
            pod: Some("web-1"),
            node: None,
            event: None,
            normal_event: false,
            error: true,
            informational: false,
        }
    }

    fn at(offset: i64) -> SourceCoordinates {
        SourceCoordinates {
            topic: "logs".into(),
            partition: 0,
            offset,
            index: 0,
        }
    }

    #[test]
    fn keeps_counts_and_the_earliest_and_latest_line_whatever_the_arrival_order() {
        let sources: Vec<SourceCoordinates> = (0..4).map(at).collect();
        let times = [30, 10, 50, 20];
        let fed_in = |order: &mut dyn Iterator<Item = usize>| {
            let mut evidence = WindowEvidence::default();
            for i in order {
                let message = format!("timeout {i}");
                evidence.add(
                    &line(&message, &sources[i]),
                    ("t1", "timeout <*>"),
                    times[i],
                    45,
                    10,
                );
            }
            evidence
        };
        let forward = fed_in(&mut (0..4));
        let backward = fed_in(&mut (0..4).rev());
        let (entries, dropped) = forward.records();
        assert_eq!((entries.len(), dropped), (1, 0));
        assert_eq!(entries, backward.records().0);
        let e = &entries[0];
        assert_eq!(
            (e.count, e.errors, e.informational, e.late_count),
            (4, 4, 0, 1)
        );
        let kept: Vec<&str> = e.exemplars.iter().map(|x| x.message.as_str()).collect();
        assert_eq!(
            kept,
            ["timeout 1", "timeout 2"],
            "earliest (10) and latest (50)"
        );
    }

    #[test]
    fn events_of_another_reason_are_another_entry_and_the_bound_counts_what_it_leaves_out() {
        let source = at(0);
        let mut evidence = WindowEvidence::default();
        let mut backoff = line("Back-off restarting", &source);
        backoff.event = Some(("Warning", "BackOff"));
        evidence.add(&backoff, ("t1", "Back-off <*>"), 1, 45, 2);
        evidence.add(
            &line("Back-off restarting", &source),
            ("t1", "Back-off <*>"),
            2,
            45,
            2,
        );
        evidence.add(&line("other", &source), ("t2", "other"), 3, 45, 2);
        let (entries, dropped) = evidence.records();
        assert_eq!(dropped, 1);
        let reasons: Vec<Option<&str>> =
            entries.iter().map(|e| e.event_reason.as_deref()).collect();
        assert_eq!(reasons, [Some("BackOff"), None]);
    }

    #[test]
    fn when_full_a_complaint_takes_the_place_of_chatter_and_long_lines_are_cut() {
        let source = at(0);
        let mut evidence = WindowEvidence::default();
        let mut chatter = line("GET /healthz 200", &source);
        (chatter.error, chatter.informational) = (false, true);
        for (i, id) in ["t1", "t2"].into_iter().enumerate() {
            evidence.add(&chatter, (id, "GET <*>"), i as i64, 45, 2);
        }
        evidence.add(&chatter, ("t3", "GET <*>"), 3, 45, 2);
        let long = format!("OutOfMemoryError {}", "x".repeat(5_000));
        evidence.add(&line(&long, &source), ("t4", &long), 4, 45, 2);
        let (entries, dropped) = evidence.records();
        let ids: Vec<&str> = entries.iter().map(|e| e.template_id.as_str()).collect();
        assert_eq!(ids, ["t2", "t4"], "t3 left out, t1 made room for the error");
        assert_eq!(dropped, 2, "t3's line and t1's");
        let kept = &entries[1];
        assert!(kept.template.len() <= MAX_TEXT_BYTES && kept.template.ends_with('…'));
        assert!(kept.exemplars[0].message.starts_with("OutOfMemoryError"));
        assert!(kept.exemplars[0].message.len() <= MAX_TEXT_BYTES);
    }

    #[test]
    fn a_cut_text_fits_its_budget_once_escaped_as_json() {
        for text in [
            "é".repeat(2_000),
            "\u{1}".repeat(2_000),
            "\"".repeat(2_000),
            "a".repeat(MAX_TEXT_BYTES),
            "short".to_owned(),
        ] {
            let cut = bounded(&text);
            let json = serde_json::to_string(&cut).expect("a string");
            assert!(json.len() <= MAX_TEXT_BYTES + 2, "{} bytes", json.len());
            assert!(text.starts_with(cut.trim_end_matches('…')));
        }
        assert_eq!(bounded("short"), "short");
        assert_eq!(
            bounded(&"a".repeat(MAX_TEXT_BYTES)),
            "a".repeat(MAX_TEXT_BYTES)
        );
    }
}
