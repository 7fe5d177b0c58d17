//! [`Watermark`]: how far event time has moved on in *every* input partition — so a partition that lags
//! behind another (a consumer catching up unevenly after a restart) does not see its records dropped as
//! late because the other ran ahead.
//!
//! ```text
//!  watermark = max(watermark so far,
//!                  min over the partitions heard from within idle_timeout (wall clock)
//!                      of their newest event time − allowed_lateness)
//! ```
//!
//! A partition silent for `idle_timeout` stops holding the others back (it was revoked, or its producers
//! went quiet); when it speaks again, records older than the watermark are late. The watermark never
//! moves back.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The watermark of one window definition, over its input partitions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Watermark {
    /// Newest event time read from each input partition, ns.
    #[serde(default)]
    newest: BTreeMap<i32, i64>,
    /// The watermark so far (`None` before any record).
    #[serde(default)]
    value: Option<i64>,
    /// Wall clock of each partition's latest record, ns. Not checkpointed: a restored partition counts
    /// as heard from when the watermark next moves.
    #[serde(skip)]
    heard: BTreeMap<i32, i64>,
}

impl Watermark {
    /// The watermark, ns (`i64::MIN` before any record).
    pub(crate) fn get(&self) -> i64 {
        self.value.unwrap_or(i64::MIN)
    }

    /// Takes note of a record of `partition` at `event_time_ns`, read at wall clock `now_ns`.
    pub(crate) fn observe(&mut self, partition: i32, event_time_ns: i64, now_ns: i64) {
        let newest = self.newest.entry(partition).or_insert(event_time_ns);
        *newest = (*newest).max(event_time_ns);
        self.heard.insert(partition, now_ns);
    }

    /// Takes note of `partition`, about to be read at `event_time_ns`, if it was never heard of: from
    /// then on it holds the watermark back, as if its first record had been read already.
    pub(crate) fn hear(&mut self, partition: i32, event_time_ns: i64, now_ns: i64) {
        if !self.newest.contains_key(&partition) {
            self.observe(partition, event_time_ns, now_ns);
        }
    }

    /// Moves the watermark on after a record: the oldest of the active partitions' newest event
    /// times less `lateness_ns`; a partition not heard from for `idle_ns` is not active.
    pub(crate) fn advance(&mut self, lateness_ns: i64, idle_ns: i64, now_ns: i64) {
        let oldest_active = self
            .newest
            .iter()
            .filter(|(partition, _)| {
                let heard = *self.heard.entry(**partition).or_insert(now_ns);
                now_ns.saturating_sub(heard) < idle_ns
            })
            .map(|(_, newest)| *newest)
            .min();
        if let Some(oldest) = oldest_active {
            self.raise(oldest.saturating_sub(lateness_ns));
        }
    }

    /// Moves the watermark to `to_ns` if that is later (a quiet stream: event time moves with the wall
    /// clock).
    pub(crate) fn raise(&mut self, to_ns: i64) {
        self.value = Some(self.value.map_or(to_ns, |v| v.max(to_ns)));
    }

    /// Whether a checkpoint written before watermarks were kept per partition left this one empty.
    pub(crate) fn is_unset(&self) -> bool {
        self.value.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn the_slowest_active_partition_holds_it_and_it_never_moves_back() {
        let mut watermark = Watermark::default();
        watermark.observe(0, 100 * S, 0);
        watermark.observe(1, 40 * S, 0);
        watermark.advance(10 * S, 30 * S, 0);
        assert_eq!(watermark.get(), 30 * S, "partition 1 lags at 40 s");
        watermark.observe(1, 90 * S, S);
        watermark.advance(10 * S, 30 * S, S);
        assert_eq!(watermark.get(), 80 * S);
        // Partition 1 goes quiet: after the idle timeout, partition 0 alone moves it.
        watermark.observe(0, 200 * S, 40 * S);
        watermark.advance(10 * S, 30 * S, 40 * S);
        assert_eq!(watermark.get(), 190 * S);
        // A record far back does not move it back.
        watermark.observe(1, 50 * S, 41 * S);
        watermark.advance(10 * S, 30 * S, 41 * S);
        assert_eq!(watermark.get(), 190 * S);
    }

    #[test]
    fn a_restored_partition_counts_as_heard_until_the_idle_timeout() {
        let mut watermark = Watermark::default();
        watermark.observe(0, 100 * S, 0);
        watermark.observe(1, 40 * S, 0);
        watermark.advance(0, 30 * S, 0);
        let json = serde_json::to_string(&watermark).expect("serialises");
        let mut restored: Watermark = serde_json::from_str(&json).expect("restores");
        restored.observe(0, 120 * S, 1_000 * S);
        restored.advance(0, 30 * S, 1_000 * S);
        assert_eq!(restored.get(), 40 * S, "partition 1 still holds it back");
        restored.observe(0, 130 * S, 1_031 * S);
        restored.advance(0, 30 * S, 1_031 * S);
        assert_eq!(restored.get(), 130 * S, "until it has been quiet for 30 s");
    }
}
