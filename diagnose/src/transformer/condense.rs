//! Condensing a sample's lines into distinct texts with counts, so each distinct text is encoded once and
//! the sequence is summarised by how often, and where, each text occurs.

use std::collections::HashMap;

/// Share of a sample's lines, at its end, whose texts also form the "tail" summary: faults tend to show
/// at the end of a container's or window's log (retries, errors before it dies).
const TAIL_SHARE: f64 = 0.25;

/// One sample's lines, condensed.
#[derive(Debug, Clone, PartialEq)]
pub struct Condensed {
    /// Distinct texts (trimmed), most frequent first, ties in order of first appearance.
    pub texts: Vec<String>,
    /// Occurrences of each text among all lines.
    pub counts: Vec<u32>,
    /// Occurrences of each text in the last quarter of the lines.
    pub tail_counts: Vec<u32>,
    /// Number of (non-empty) lines.
    pub lines: usize,
}

impl Condensed {
    /// Condenses `lines`, keeping at most `max_distinct` texts (the most frequent ones).
    #[must_use]
    pub fn new<S: AsRef<str>>(lines: &[S], max_distinct: usize) -> Self {
        let lines: Vec<&str> = lines
            .iter()
            .map(|l| l.as_ref().trim())
            .filter(|l| !l.is_empty())
            .collect();
        let tail_from = lines.len() - (lines.len() as f64 * TAIL_SHARE).ceil() as usize;
        let counted = lines
            .iter()
            .enumerate()
            .map(|(position, line)| (*line, 1, u32::from(position >= tail_from)));
        Self::counted(counted, lines.len(), max_distinct)
    }

    /// Condenses texts given with their counts and tail counts (a text may come more than once: its
    /// counts add up), of `lines` lines in all, keeping at most `max_distinct` texts (the most frequent
    /// ones; equal counts in order of first appearance).
    #[must_use]
    pub fn counted<'a>(
        texts: impl IntoIterator<Item = (&'a str, u32, u32)>,
        lines: usize,
        max_distinct: usize,
    ) -> Self {
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut seen: Vec<(&str, u32, u32)> = Vec::new();
        for (text, count, tail) in texts {
            let slot = *index.entry(text).or_insert_with(|| {
                seen.push((text, 0, 0));
                seen.len() - 1
            });
            seen[slot].1 = seen[slot].1.saturating_add(count);
            seen[slot].2 = seen[slot].2.saturating_add(tail);
        }
        // Stable sort: equal counts keep first-appearance order.
        seen.sort_by_key(|s| std::cmp::Reverse(s.1));
        seen.truncate(max_distinct.max(1));
        Self {
            texts: seen.iter().map(|s| s.0.to_owned()).collect(),
            counts: seen.iter().map(|s| s.1).collect(),
            tail_counts: seen.iter().map(|s| s.2).collect(),
            lines,
        }
    }
}

/// Features that describe the sequence itself rather than its texts.
pub const SEQUENCE_FEATURES: usize = 3;

/// `[ln(1 + lines), ln(1 + distinct), distinct / lines]`.
#[must_use]
pub fn sequence_features(c: &Condensed) -> [f32; SEQUENCE_FEATURES] {
    let lines = c.lines.max(1) as f32;
    let distinct = c.texts.len() as f32;
    [lines.ln_1p(), distinct.ln_1p(), distinct / lines]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_order_and_tail() {
        let lines = ["a", "b", "b", "", "c", "b", "a", "d"];
        let c = Condensed::new(&lines, 10);
        assert_eq!(c.lines, 7);
        assert_eq!(c.texts, ["b", "a", "c", "d"]);
        assert_eq!(c.counts, [3, 2, 1, 1]);
        // Last quarter of 7 lines = last 2 lines: "a", "d".
        assert_eq!(c.tail_counts, [0, 1, 0, 1]);
        let capped = Condensed::new(&lines, 2);
        assert_eq!(capped.texts, ["b", "a"]);
    }
}
