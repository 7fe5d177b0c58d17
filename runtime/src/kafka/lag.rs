//! The lag of a stage consumer's partitions from the client's statistics (every `runner.lag_interval`,
//! librdkafka's `statistics.interval.ms`), reported as `medic_consumer_lag` by [`super::StageContext`].
//!
//! Lag is counted as KEDA's Kafka scaler counts it, so the dashboard shows what the autoscaler sees: the
//! partition's high watermark minus the group's committed offset; before the group's first commit, minus
//! the low watermark (the stage consumer starts at the earliest offset). Only the partitions assigned to
//! this process are reported; those whose watermark is not known yet are left out.

use crate::telemetry::metrics::PartitionLag;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The part of librdkafka's statistics JSON the lag needs (the full document is much larger).
#[derive(Deserialize)]
struct Statistics {
    #[serde(default)]
    topics: BTreeMap<String, TopicStatistics>,
}

#[derive(Deserialize)]
struct TopicStatistics {
    #[serde(default)]
    partitions: BTreeMap<String, PartitionStatistics>,
}

#[derive(Deserialize)]
struct PartitionStatistics {
    partition: i32,
    /// Assigned to (desired by) this consumer.
    desired: bool,
    lo_offset: i64,
    hi_offset: i64,
    committed_offset: i64,
}

/// The lag of every partition assigned to the client whose statistics JSON is `json`.
///
/// # Errors
/// When `json` is not librdkafka's statistics document.
pub fn partition_lags(json: &[u8]) -> Result<Vec<PartitionLag>, serde_json::Error> {
    let statistics: Statistics = serde_json::from_slice(json)?;
    let mut lags = Vec::new();
    for (topic, stats) in statistics.topics {
        for p in stats.partitions.into_values() {
            // Partition -1 is librdkafka's internal "unassigned" partition; offsets < 0 are unknown.
            if p.partition < 0 || !p.desired || p.hi_offset < 0 {
                continue;
            }
            let from = if p.committed_offset >= 0 {
                p.committed_offset
            } else if p.lo_offset >= 0 {
                p.lo_offset
            } else {
                continue;
            };
            lags.push(PartitionLag {
                topic: topic.clone(),
                partition: p.partition,
                lag: (p.hi_offset - from).max(0),
            });
        }
    }
    Ok(lags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::metrics::Metrics;

    /// librdkafka's statistics of a consumer holding partitions 0 and 1 of `in` (trimmed to the fields
    /// read; the real document has many more, which are ignored).
    fn statistics(partitions: &[(i32, bool, i64, i64, i64)]) -> Vec<u8> {
        let parts: serde_json::Map<String, serde_json::Value> = partitions
            .iter()
            .map(|&(partition, desired, lo, hi, committed)| {
                (
                    partition.to_string(),
                    serde_json::json!({
                        "partition": partition, "desired": desired, "fetch_state": "active",
                        "lo_offset": lo, "hi_offset": hi, "committed_offset": committed,
                        "consumer_lag": -1, "app_offset": -1001
                    }),
                )
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "name": "medic-enrich#consumer-1", "type": "consumer",
            "topics": { "in": { "topic": "in", "partitions": parts } }
        }))
        .expect("json")
    }

    #[test]
    fn lag_is_high_watermark_minus_committed_for_assigned_partitions() {
        let json = statistics(&[
            (0, true, 0, 120, 100),     // committed: 20 behind
            (1, true, 5, 40, -1001),    // never committed: all retained records
            (2, false, 0, 999, 0),      // not assigned to this consumer
            (3, true, -1, -1, -1001),   // watermarks not known yet
            (-1, false, -1, -1, -1001), // librdkafka's unassigned partition
            (4, true, 0, 10, 30),       // committed past the stale watermark: 0, never negative
        ]);
        let mut lags = partition_lags(&json).expect("parses");
        lags.sort_by_key(|l| l.partition);
        let got: Vec<(i32, i64)> = lags.iter().map(|l| (l.partition, l.lag)).collect();
        assert_eq!(got, vec![(0, 20), (1, 35), (4, 0)]);
        assert!(lags.iter().all(|l| l.topic == "in"));
        assert!(partition_lags(b"not json").is_err());
    }

    #[test]
    fn the_gauge_follows_the_assignment() {
        let metrics = Metrics::new();
        let lag = metrics.consumer_lag("enrich");
        let report = |json: Vec<u8>| lag.update(&partition_lags(&json).expect("parses"));
        report(statistics(&[(0, true, 0, 7, 2), (1, true, 0, 3, 3)]));
        let text = metrics.encode();
        assert!(
            text.contains(r#"medic_consumer_lag{partition="0",stage="enrich",topic="in"} 5"#),
            "{text}"
        );
        assert!(
            text.contains(r#"medic_consumer_lag{partition="1",stage="enrich",topic="in"} 0"#),
            "{text}"
        );
        // A rebalance took partition 0 away: its series goes, partition 1 is updated.
        report(statistics(&[(0, false, 0, 9, 2), (1, true, 0, 8, 3)]));
        let text = metrics.encode();
        assert!(!text.contains(r#"partition="0""#), "{text}");
        assert!(
            text.contains(r#"medic_consumer_lag{partition="1",stage="enrich",topic="in"} 5"#),
            "{text}"
        );
    }
}
