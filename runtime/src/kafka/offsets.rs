//! Offset bookkeeping: what to commit after a batch is delivered.

use schemas::SourceRecord;
use std::collections::BTreeMap;

/// The offsets to commit once every output of `batch` is acknowledged: for each topic-partition, one
/// past the highest offset in the batch (Kafka commits the next offset to read).
#[must_use]
pub fn next_offsets(batch: &[SourceRecord]) -> BTreeMap<(String, i32), i64> {
    // Keyed by borrowed topics first: a topic is copied once per partition, not once per record.
    let mut next: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for record in batch {
        let c = &record.coordinates;
        let entry = next
            .entry((c.topic.as_str(), c.partition))
            .or_insert(c.offset + 1);
        *entry = (*entry).max(c.offset + 1);
    }
    next.into_iter()
        .map(|((topic, partition), offset)| ((topic.to_owned(), partition), offset))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_past_the_highest_offset_per_partition() {
        let batch = [
            SourceRecord::new("a", 0, 5, ""),
            SourceRecord::new("a", 1, 9, ""),
            SourceRecord::new("a", 0, 7, ""),
            SourceRecord::new("b", 0, 0, ""),
            SourceRecord::new("a", 0, 6, ""),
        ];
        let next = next_offsets(&batch);
        assert_eq!(next.len(), 3);
        assert_eq!(next[&("a".to_owned(), 0)], 8);
        assert_eq!(next[&("a".to_owned(), 1)], 10);
        assert_eq!(next[&("b".to_owned(), 0)], 1);
        assert!(next_offsets(&[]).is_empty());
    }
}
