//! [`ErrorNovelty`]: error templates that are new to a workload, or far more frequent than usual — the
//! change a classifier cannot see.
//!
//! An application fault often reads as ordinary text: `No contacts according to contactsId` is a
//! well-formed business message, and no model trained on other systems' faults will call it one. What
//! gives it away is change: the workload never logged it before, and now logs it minute after minute.
//!
//! ```text
//!  closed window of a workload ─► its Error-or-worse templates recorded in the workload's history
//!                                 (by template id and by text: either known is known)
//!                              ─► a template is a change when
//!                                   · the workload's first window did not have it (that is its baseline),
//!                                   · it first appeared in the window right before this one,
//!                                   · and it is here again (sustained, not one stray line)
//!                              ─► or a jump, when a known template has, in this window and the one
//!                                 before, at least JUMP_MIN_LINES lines and JUMP_FACTOR × (its usual
//!                                 lines per window + 1), in a workload with JUMP_MIN_HISTORY windows
//! ```
//!
//! A template is a change in the second consecutive window it is seen in, and only then (when the model
//! diagnoses that window confidently, that diagnosis stands instead). Background errors the workload
//! logged from its first window, a single error, or one that does not recur in the next window are not.
//! A template's usual rate is smoothed over windows (absent windows count as none) and leaves a jump's
//! windows out until it is reported, so the second window of a jump is compared with what came before
//! it; a jump is reported once, in its second window (a template reported as new is not reported again
//! as a jump), and a lasting new level is learnt after that.
//! A template keeps its id when enrich generalises its text, and its text when enrich's miner starts
//! over, so either one known makes it known.
//!
//! Bounded for the checkpoint it is saved in: [`WORKLOADS_TRACKED`] workloads (the least recently seen
//! is forgotten) and [`KEYS_PER_WORKLOAD`] keys each. A workload with more distinct errors than that is
//! too noisy for this test: once it had to forget one, it reports no change (an old error forgotten
//! would look new).

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

use crate::recency::evict_stalest;
use schemas::Target;
use schemas::id::stable_hash;

/// Workloads whose history is kept.
pub const WORKLOADS_TRACKED: usize = 1_000;
/// Template keys (an id and a text per template) kept per workload.
pub const KEYS_PER_WORKLOAD: usize = 32;
/// Weight of the newest window in a template's usual rate (about the last five windows count).
pub const RATE_SMOOTHING: f32 = 0.2;
/// A known error jumps when it has this many times its usual lines per window (plus one)…
pub const JUMP_FACTOR: f32 = 10.0;
/// …and at least this many lines in the window…
pub const JUMP_MIN_LINES: u32 = 20;
/// …in a workload with this many windows of history (its usual rate must mean something).
pub const JUMP_MIN_HISTORY: u32 = 5;

/// When one template key was seen, in windows since the workload's first, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Seen {
    #[serde(rename = "f")]
    first: u32,
    #[serde(rename = "l")]
    last: u32,
    #[serde(rename = "w")]
    windows: u32,
    /// Its usual lines per window as of window `last` (exponentially smoothed; the windows of a jump
    /// not yet reported left out, so the baseline is what came before it). `None` in a checkpoint
    /// written before rates were kept: learnt from the next window, never a jump from nothing.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    rate: Option<f32>,
    /// Windows in a row, up to `last`, in which it jumped.
    #[serde(rename = "j", default, skip_serializing_if = "is_zero")]
    jumps: u8,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

impl Seen {
    /// The usual rate before window `now`: the windows between `last` and `now`, without the
    /// template, count as none.
    fn rate_before(&self, now: u32) -> Option<f32> {
        let absent = now.saturating_sub(self.last).saturating_sub(1).min(1_000);
        self.rate
            .map(|r| r * (1.0 - RATE_SMOOTHING).powi(i32::try_from(absent).unwrap_or(1_000)))
    }
}

/// A template that changed in a window: the index of its first line, and how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// Index (into the window's lines) of the template's first line.
    pub line: usize,
    /// Its lines in this window.
    pub count: u32,
    /// `None`: new to the workload. `Some(usual)`: a known template that jumped, in this window and the
    /// one before, from about `usual` lines per window.
    pub jumped_from: Option<f32>,
}

/// One workload's history of error templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct History {
    first_window_ns: i64,
    last_window_ns: i64,
    /// Forgot a key: reports no change any more.
    saturated: bool,
    keys: HashMap<u64, Seen>,
}

/// A checkpointed workload history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    target: Target,
    history: History,
}

/// One template of a window as the history reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateLine<'a> {
    /// Enrich's template id (empty when none).
    pub id: &'a str,
    /// The template's text.
    pub text: &'a str,
    /// Its lines of severity Error or worse in the window.
    pub errors: u32,
}

/// Per-workload histories of error templates, bounded.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorNovelty {
    window_ns: i64,
    workloads: HashMap<Target, History>,
}

impl ErrorNovelty {
    /// Histories of windows `window_ns` long.
    #[must_use]
    pub fn new(window_ns: i64) -> Self {
        Self {
            window_ns: window_ns.max(1),
            workloads: HashMap::new(),
        }
    }

    /// Windows are `window_ns` long from now on (the length of the windows diagnose reads).
    pub fn set_window_ns(&mut self, window_ns: i64) {
        self.window_ns = window_ns.max(1);
    }

    /// Records the closed window of `target` starting at `start_ns` and returns its templates that are
    /// a change (see the module doc), each by its first line.
    pub fn observe(
        &mut self,
        target: &Target,
        start_ns: i64,
        lines: &[TemplateLine<'_>],
    ) -> Vec<Change> {
        if !self.workloads.contains_key(target) {
            evict_stalest(
                &mut self.workloads,
                WORKLOADS_TRACKED.saturating_sub(1),
                |h| h.last_window_ns,
            );
        }
        let history = self
            .workloads
            .entry(target.clone())
            .or_insert_with(|| History {
                first_window_ns: start_ns,
                last_window_ns: start_ns,
                saturated: false,
                keys: HashMap::new(),
            });
        if start_ns < history.last_window_ns {
            // A window older than one already recorded (closed early, or late): it adds nothing new.
            return Vec::new();
        }
        history.last_window_ns = start_ns;
        let window_ns = self.window_ns;
        let index = |ns: i64| {
            u32::try_from(ns.saturating_sub(history.first_window_ns) / window_ns)
                .unwrap_or(u32::MAX)
        };
        let (now, baseline) = (index(start_ns), index(history.first_window_ns));
        // Each Error-or-worse template once, by its first line, with its lines in the window.
        let mut templates: Vec<(usize, [Option<u64>; 2], u32)> = Vec::new();
        let mut by_keys: HashMap<[Option<u64>; 2], usize> = HashMap::new();
        for (i, line) in lines.iter().enumerate().filter(|(_, l)| l.errors > 0) {
            let keys = [
                (!line.id.is_empty()).then(|| stable_hash(&["id", line.id])),
                Some(stable_hash(&["text", line.text])),
            ];
            let slot = *by_keys.entry(keys).or_insert_with(|| {
                templates.push((i, keys, 0));
                templates.len() - 1
            });
            templates[slot].2 = templates[slot].2.saturating_add(line.errors);
        }
        let mut changes = Vec::new();
        let mut here: HashSet<u64> = HashSet::new();
        // Each key as it was before this window (a key two templates share is updated by the first).
        let mut before: HashMap<u64, Option<Seen>> = HashMap::new();
        for (line, keys, count) in templates {
            let keys: Vec<u64> = keys.into_iter().flatten().collect();
            if keys.iter().all(|k| here.contains(k)) {
                continue;
            }
            let known: Vec<Seen> = keys
                .iter()
                .filter_map(|k| {
                    *before
                        .entry(*k)
                        .or_insert_with(|| history.keys.get(k).copied())
                })
                .filter(|s| s.last < now)
                .collect();
            let earliest = known.iter().map(|s| s.first).min();
            let sustained_new = !history.saturated
                && earliest.is_some_and(|first| first > baseline && first + 1 == now)
                && known.iter().all(|s| s.windows == 1);
            // Its usual rate (every key's must be known), and whether it jumped in the window before.
            let usual: Option<f32> = known
                .iter()
                .map(|s| s.rate_before(now))
                .try_fold(0.0, |most: f32, r| r.map(|r| most.max(r)));
            let jumps_before = known
                .iter()
                .filter(|s| s.last + 1 == now)
                .map(|s| s.jumps)
                .max()
                .unwrap_or(0);
            #[allow(clippy::cast_precision_loss, reason = "line counts")]
            let jumped = !known.is_empty()
                && now.saturating_sub(baseline) >= JUMP_MIN_HISTORY
                && count >= JUMP_MIN_LINES
                && usual.is_some_and(|usual| count as f32 >= JUMP_FACTOR * (usual + 1.0));
            let mut jumps = if jumped {
                jumps_before.saturating_add(1)
            } else {
                0
            };
            if sustained_new {
                changes.push(Change {
                    line,
                    count,
                    jumped_from: None,
                });
                // Reported as new: its rise is not reported again as a jump.
                jumps = jumps.max(2);
            } else if jumps == 2 && !history.saturated {
                changes.push(Change {
                    line,
                    count,
                    jumped_from: usual,
                });
            }
            // A jump not yet reported stays out of the usual rate; once reported, a lasting new level
            // is learnt. A key without a rate (an older checkpoint) starts from this window.
            #[allow(clippy::cast_precision_loss, reason = "line counts")]
            let rate = match usual {
                Some(usual) if jumped && jumps <= 2 => usual,
                Some(usual) => (1.0 - RATE_SMOOTHING) * usual + RATE_SMOOTHING * count as f32,
                None => count as f32,
            };
            // Two decimals are plenty, and keep the checkpoint short.
            let rate = (rate * 100.0).round() / 100.0;
            for key in keys {
                here.insert(key);
                let seen = history.keys.entry(key).or_insert(Seen {
                    first: now,
                    last: now,
                    windows: 0,
                    rate: None,
                    jumps: 0,
                });
                if seen.windows == 0 || seen.last < now {
                    // Once per window, however many templates share the key.
                    seen.windows = seen.windows.saturating_add(1);
                    seen.rate = Some(rate);
                    seen.jumps = jumps;
                }
                seen.last = now;
            }
        }
        if history.keys.len() > KEYS_PER_WORKLOAD {
            history.saturated = true;
            // Those of earlier windows first; it reports no change any more, so forgetting this
            // window's own keys too (when they alone are too many) misleads nothing.
            let mut by_age: Vec<(bool, u32, u64)> = history
                .keys
                .iter()
                .map(|(key, seen)| (here.contains(key), seen.last, *key))
                .collect();
            by_age.sort_unstable();
            let excess = history.keys.len() - KEYS_PER_WORKLOAD;
            for (_, _, key) in by_age.into_iter().take(excess) {
                history.keys.remove(&key);
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

    /// Replaces the histories with a checkpoint's (bounded as [`ErrorNovelty::observe`] bounds them).
    pub fn restore(&mut self, entries: Vec<HistoryEntry>) {
        self.workloads = entries.into_iter().map(|e| (e.target, e.history)).collect();
        evict_stalest(&mut self.workloads, WORKLOADS_TRACKED, |h| h.last_window_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000_000;

    fn contacts() -> Target {
        Target::deployment("ts", "ts-contacts-service")
    }

    /// `n` Error lines of `text`.
    fn errors(text: &str, n: usize) -> Vec<(&str, bool)> {
        vec![(text, true); n]
    }

    /// Lines `(text, error)` whose template id is their text.
    fn window(novelty: &mut ErrorNovelty, minute: i64, lines: &[(&str, bool)]) -> Vec<usize> {
        let lines: Vec<TemplateLine<'_>> = lines
            .iter()
            .map(|&(text, error)| TemplateLine {
                id: text,
                text,
                errors: u32::from(error),
            })
            .collect();
        novelty
            .observe(&contacts(), minute * MIN, &lines)
            .iter()
            .map(|c| c.line)
            .collect()
    }

    #[test]
    fn a_known_error_jumping_for_two_windows_is_a_change_once() {
        let mut novelty = ErrorNovelty::new(MIN);
        let lines = |n: usize| {
            let mut lines = vec![("GET /food <*>", false)];
            lines.extend(errors("food list failed", n));
            lines
        };
        // One or two a minute from the start: the usual.
        for minute in 0..6 {
            assert!(window(&mut novelty, minute, &lines(1 + minute as usize % 2)).is_empty());
        }
        assert!(
            window(&mut novelty, 6, &lines(40)).is_empty(),
            "one window is a burst"
        );
        assert_eq!(window(&mut novelty, 7, &lines(35)), [1], "two in a row");
        let target = contacts();
        let seen = novelty.workloads[&target]
            .keys
            .values()
            .next()
            .copied()
            .expect("kept");
        assert!(
            seen.rate.is_some_and(|r| r < 3.0),
            "the jump stays out of the usual: {seen:?}"
        );
        assert!(window(&mut novelty, 8, &lines(50)).is_empty(), "once");
        // Once reported, a lasting level is learnt; back to one a minute for a while, a rise is again
        // a jump.
        for minute in 9..20 {
            window(&mut novelty, minute, &lines(1));
        }
        window(&mut novelty, 20, &lines(40));
        assert_eq!(window(&mut novelty, 21, &lines(40)), [1], "a new jump");
    }

    #[test]
    fn a_steady_level_is_the_usual_rate_and_a_sixfold_rise_is_no_jump() {
        let mut novelty = ErrorNovelty::new(MIN);
        let lines = |n: usize| errors("retrying", n);
        for minute in 0..20 {
            window(&mut novelty, minute, &lines(10));
        }
        let seen = novelty.workloads[&contacts()]
            .keys
            .values()
            .next()
            .copied()
            .expect("kept");
        assert!(
            seen.rate.is_some_and(|r| (r - 10.0).abs() < 0.2),
            "{seen:?}"
        );
        assert!(window(&mut novelty, 20, &lines(60)).is_empty());
        assert!(
            window(&mut novelty, 21, &lines(60)).is_empty(),
            "under 10 × (10 + 1)"
        );
    }

    #[test]
    fn a_new_error_is_reported_once_though_it_also_rises() {
        let mut novelty = ErrorNovelty::new(MIN);
        for minute in 0..6 {
            window(&mut novelty, minute, &[("GET", false)]);
        }
        let fault = |n: usize| errors("db down", n);
        window(&mut novelty, 6, &fault(1));
        assert_eq!(window(&mut novelty, 7, &fault(30)), [0], "new");
        assert!(
            window(&mut novelty, 8, &fault(30)).is_empty(),
            "not again as a jump"
        );
    }

    #[test]
    fn a_new_text_under_a_known_id_is_no_change_whatever_the_order() {
        let mut novelty = ErrorNovelty::new(MIN);
        let target = contacts();
        let line = |text| TemplateLine {
            id: "tpl-7",
            text,
            errors: 1,
        };
        novelty.observe(&target, 0, &[line("a")]);
        novelty.observe(&target, MIN, &[line("a"), line("b")]);
        assert!(
            novelty
                .observe(&target, 2 * MIN, &[line("a"), line("b")])
                .is_empty(),
            "its id is the baseline's"
        );
    }

    #[test]
    fn a_checkpoint_without_rates_learns_them_and_raises_no_jump() {
        let mut novelty = ErrorNovelty::new(MIN);
        let lines = |n: usize| errors("retrying", n);
        for minute in 0..10 {
            window(&mut novelty, minute, &lines(25));
        }
        let mut old = serde_json::to_value(novelty.entries()).expect("serialises");
        for key in old[0]["history"]["keys"]
            .as_object_mut()
            .expect("keys")
            .values_mut()
        {
            key.as_object_mut().expect("seen").remove("r");
        }
        let mut restored = ErrorNovelty::new(MIN);
        restored.restore(serde_json::from_value(old).expect("an older checkpoint reads"));
        for minute in 10..13 {
            assert!(
                window(&mut restored, minute, &lines(25)).is_empty(),
                "{minute}"
            );
        }
    }

    #[test]
    fn small_rises_young_workloads_and_usual_levels_are_no_jump() {
        let mut novelty = ErrorNovelty::new(MIN);
        let lines = |n: usize| errors("timeout", n);
        // Too young: minutes 0–4.
        window(&mut novelty, 0, &lines(1));
        for minute in 1..5 {
            assert!(
                window(&mut novelty, minute, &lines(60)).is_empty(),
                "{minute}"
            );
        }
        // Usual at about 60 a window: 100 is no jump, nor 15 from nothing (under JUMP_MIN_LINES).
        for minute in 5..12 {
            assert!(
                window(&mut novelty, minute, &lines(100)).is_empty(),
                "{minute}"
            );
        }
        let mut quiet = ErrorNovelty::new(MIN);
        let q = |n: usize| errors("rare", n);
        for minute in 0..8 {
            window(&mut quiet, minute, &q(usize::from(minute == 0)));
        }
        assert!(window(&mut quiet, 8, &q(15)).is_empty());
        assert!(
            window(&mut quiet, 9, &q(15)).is_empty(),
            "under {JUMP_MIN_LINES} lines"
        );
    }

    #[test]
    fn a_new_error_is_a_change_in_the_second_window_in_a_row_it_is_seen_and_only_then() {
        let mut novelty = ErrorNovelty::new(MIN);
        assert!(window(&mut novelty, 0, &[("GET /contacts <*>", false)]).is_empty());
        let first = [("GET /contacts <*>", false), ("No contacts", true)];
        assert!(window(&mut novelty, 1, &first).is_empty());
        let again = [("GET", false), ("No contacts", true), ("No contacts", true)];
        assert_eq!(window(&mut novelty, 2, &again), [1]);
        assert!(
            window(&mut novelty, 3, &[("No contacts", true)]).is_empty(),
            "once"
        );
    }

    #[test]
    fn baseline_errors_strays_gaps_and_known_keys_are_no_change() {
        let mut novelty = ErrorNovelty::new(MIN);
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
        // The baseline's error under a new id (enrich merged its cluster) is still known by its text,
        // and under a generalised text still known by its id.
        let renamed = |id, text| TemplateLine {
            id,
            text,
            errors: 1,
        };
        for line in [
            renamed("tpl-new", "food list failed"),
            renamed("food list failed", "food <*> failed"),
        ] {
            let target = contacts();
            novelty.observe(&target, 8 * MIN, &[line]);
            assert!(
                novelty.observe(&target, 9 * MIN, &[line]).is_empty(),
                "{line:?}"
            );
        }
    }

    #[test]
    fn a_workload_with_too_many_errors_to_remember_reports_no_change() {
        let mut novelty = ErrorNovelty::new(MIN);
        window(&mut novelty, 0, &[("ok", false)]);
        let names: Vec<String> = (0..KEYS_PER_WORKLOAD)
            .map(|i| format!("error {i}"))
            .collect();
        let many: Vec<(&str, bool)> = names.iter().map(|n| (n.as_str(), true)).collect();
        window(&mut novelty, 1, &many);
        assert!(
            window(&mut novelty, 2, &many).is_empty(),
            "forgot some: saturated"
        );
        let kept = &novelty.workloads[&contacts()].keys;
        assert_eq!(
            kept.len(),
            KEYS_PER_WORKLOAD,
            "bounded, even by one window's keys"
        );
    }

    #[test]
    fn histories_are_bounded_and_survive_a_checkpoint() {
        let mut novelty = ErrorNovelty::new(MIN);
        let names: Vec<String> = (0..KEYS_PER_WORKLOAD / 2)
            .map(|i| format!("error {i}"))
            .collect();
        let errors: Vec<TemplateLine<'_>> = names
            .iter()
            .map(|n| TemplateLine {
                id: n,
                text: n,
                errors: 1,
            })
            .collect();
        for i in 0..=WORKLOADS_TRACKED as i64 {
            let target = Target::deployment("ts", &format!("ts-service-{i}"));
            novelty.observe(&target, i * MIN, &errors);
        }
        assert_eq!(novelty.entries().len(), WORKLOADS_TRACKED);
        // The stage's checkpoint holds it, gzipped under runner.max_message_bytes (1 MB by default):
        // measured 1.87 MB raw with three-digit usual rates, 0.07 MB gzipped.
        let snapshot = serde_json::to_vec(&novelty.entries()).expect("serialises");
        assert!(
            snapshot.len() < 2_000_000,
            "{} bytes at most",
            snapshot.len()
        );
        let mut restored = ErrorNovelty::new(MIN);
        restored.restore(serde_json::from_slice(&snapshot).expect("deserialises"));
        assert_eq!(restored, novelty);
        let mut novelty = ErrorNovelty::new(MIN);
        window(&mut novelty, 0, &[("ok", false)]);
        window(&mut novelty, 1, &[("boom", true)]);
        let mut restored = ErrorNovelty::new(MIN);
        restored.restore(novelty.entries());
        assert_eq!(window(&mut restored, 2, &[("boom", true)]), [0]);
    }
}
