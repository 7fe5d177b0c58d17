//! [`ErrorNovelty`]: error templates that are new to a workload — the change a classifier cannot see.
//!
//! An application fault often reads as ordinary text: `No contacts according to contactsId` is a
//! well-formed business message, and no model trained on other systems' faults will call it one. What
//! gives it away is change: the workload never logged it before, and now logs it minute after minute.
//!
//! ```text
//!  closed window of a workload ─► its templates recorded in the workload's history
//!                                 (first and last window each was seen in, how many windows)
//!                              ─► an Error-or-worse template is a change when
//!                                   · the workload's first window did not have it (that is its baseline),
//!                                   · it first appeared in the window right before this one,
//!                                   · and it is here again (sustained, not one stray line)
//! ```
//!
//! A template is a change once: in the second consecutive window it is seen in. Background errors the
//! workload logged from the start, a single error, or one that does not recur in the next window are
//! not. History is bounded (workloads and templates per workload, the least recently seen forgotten) and
//! checkpointed with the stage's windows.

use schemas::Target;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Templates kept per workload (the least recently seen is forgotten beyond it).
const TEMPLATES_PER_WORKLOAD: usize = 512;

/// When one template was seen in a workload's windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    first_window_ns: i64,
    last_window_ns: i64,
    windows: u32,
}

/// One workload's history of templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct History {
    first_window_ns: i64,
    last_window_ns: i64,
    templates: HashMap<String, Seen>,
}

/// A checkpointed workload history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    target: Target,
    history: History,
}

/// Per-workload template histories, bounded.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorNovelty {
    window_ns: i64,
    max_workloads: usize,
    workloads: HashMap<Target, History>,
}

impl ErrorNovelty {
    /// Histories of windows `window_ns` long, for at most `max_workloads` workloads.
    #[must_use]
    pub fn new(window_ns: i64, max_workloads: usize) -> Self {
        Self {
            window_ns,
            max_workloads: max_workloads.max(1),
            workloads: HashMap::new(),
        }
    }

    /// Records the closed window of `target` starting at `start_ns`, whose lines have these templates
    /// (each with whether the line was Error or worse), and returns the error templates that are a
    /// change (see the module doc), in the order of their first line here.
    pub fn observe<'a>(
        &mut self,
        target: &Target,
        start_ns: i64,
        lines: impl IntoIterator<Item = (&'a str, bool)>,
    ) -> Vec<String> {
        if !self.workloads.contains_key(target) && self.workloads.len() >= self.max_workloads {
            let stalest = self
                .workloads
                .iter()
                .min_by(|a, b| (a.1.last_window_ns, a.0).cmp(&(b.1.last_window_ns, b.0)))
                .map(|(t, _)| t.clone());
            if let Some(stalest) = stalest {
                self.workloads.remove(&stalest);
            }
        }
        let history = self
            .workloads
            .entry(target.clone())
            .or_insert_with(|| History {
                first_window_ns: start_ns,
                last_window_ns: start_ns,
                templates: HashMap::new(),
            });
        if start_ns < history.last_window_ns {
            // A window older than one already recorded (closed early, or late): it adds nothing new.
            return Vec::new();
        }
        history.last_window_ns = start_ns;
        let previous_ns = start_ns.saturating_sub(self.window_ns);
        let mut changes = Vec::new();
        for (template, error) in lines {
            if template.is_empty() {
                continue;
            }
            let seen = history.templates.get(template).copied();
            let sustained_new = seen.is_some_and(|s| {
                s.first_window_ns > history.first_window_ns
                    && s.first_window_ns == previous_ns
                    && s.windows == 1
            });
            if error && sustained_new && !changes.iter().any(|c| c == template) {
                changes.push(template.to_owned());
            }
            let entry = history
                .templates
                .entry(template.to_owned())
                .or_insert(Seen {
                    first_window_ns: start_ns,
                    last_window_ns: start_ns,
                    windows: 0,
                });
            if entry.windows == 0 || entry.last_window_ns < start_ns {
                // Once per window, however many of its lines have the template.
                entry.windows = entry.windows.saturating_add(1);
            }
            entry.last_window_ns = start_ns;
        }
        if history.templates.len() > TEMPLATES_PER_WORKLOAD {
            let mut by_age: Vec<(i64, String)> = history
                .templates
                .iter()
                .map(|(t, s)| (s.last_window_ns, t.clone()))
                .collect();
            by_age.sort();
            for (_, template) in by_age
                .iter()
                .take(history.templates.len() - TEMPLATES_PER_WORKLOAD)
            {
                history.templates.remove(template);
            }
        }
        changes
    }

    /// The histories, for a checkpoint (sorted by workload).
    #[must_use]
    pub fn entries(&self) -> Vec<HistoryEntry> {
        let mut entries: Vec<HistoryEntry> = self
            .workloads
            .iter()
            .map(|(target, history)| HistoryEntry {
                target: target.clone(),
                history: history.clone(),
            })
            .collect();
        entries.sort_by(|a, b| a.target.cmp(&b.target));
        entries
    }

    /// Replaces the histories with a checkpoint's.
    pub fn restore(&mut self, entries: Vec<HistoryEntry>) {
        self.workloads = entries.into_iter().map(|e| (e.target, e.history)).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000_000;

    fn contacts() -> Target {
        Target::deployment("ts", "ts-contacts-service")
    }

    fn window(novelty: &mut ErrorNovelty, minute: i64, lines: &[(&str, bool)]) -> Vec<String> {
        novelty.observe(&contacts(), minute * MIN, lines.iter().copied())
    }

    #[test]
    fn a_new_error_is_a_change_in_the_second_window_in_a_row_it_is_seen_and_only_then() {
        let mut novelty = ErrorNovelty::new(MIN, 10);
        assert!(window(&mut novelty, 0, &[("GET /contacts <*>", false)]).is_empty());
        assert!(
            window(
                &mut novelty,
                1,
                &[("GET /contacts <*>", false), ("No contacts", true)]
            )
            .is_empty()
        );
        assert_eq!(
            window(
                &mut novelty,
                2,
                &[("No contacts", true), ("No contacts", true)]
            ),
            ["No contacts"]
        );
        assert!(
            window(&mut novelty, 3, &[("No contacts", true)]).is_empty(),
            "once"
        );
    }

    #[test]
    fn baseline_errors_strays_and_gaps_are_no_change() {
        let mut novelty = ErrorNovelty::new(MIN, 10);
        window(&mut novelty, 0, &[("food list failed", true)]);
        window(
            &mut novelty,
            1,
            &[("food list failed", true), ("stray", true)],
        );
        assert!(window(&mut novelty, 2, &[("food list failed", true)]).is_empty());
        window(&mut novelty, 3, &[("gap", true)]);
        assert!(
            window(&mut novelty, 5, &[("gap", true)]).is_empty(),
            "not in a row"
        );
        window(&mut novelty, 6, &[("warned", false)]);
        assert!(
            window(&mut novelty, 7, &[("warned", false)]).is_empty(),
            "not an error"
        );
    }

    #[test]
    fn histories_are_bounded_and_survive_a_checkpoint() {
        let mut novelty = ErrorNovelty::new(MIN, 2);
        for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
            novelty.observe(
                &Target::deployment("ts", name),
                i as i64 * MIN,
                [("x", false)],
            );
        }
        assert_eq!(novelty.entries().len(), 2);
        let mut restored = ErrorNovelty::new(MIN, 2);
        window(&mut novelty, 0, &[("ok", false)]);
        window(&mut novelty, 1, &[("boom", true)]);
        restored.restore(novelty.entries());
        assert_eq!(window(&mut restored, 2, &[("boom", true)]), ["boom"]);
    }
}
