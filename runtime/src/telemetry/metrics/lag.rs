//! [`ConsumerLag`]: `medic_consumer_lag{stage, topic, partition}` for the partitions a stage's consumer
//! holds, replaced as a whole on each report so partitions revoked in a rebalance disappear.

use prometheus::IntGaugeVec;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

/// The lag of one input partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// Records not committed by the group yet.
    pub lag: i64,
}

/// One stage's lag gauge. Cheap to clone; clones share the set of partitions shown.
#[derive(Clone)]
pub struct ConsumerLag {
    gauge: IntGaugeVec,
    stage: String,
    shown: Arc<Mutex<BTreeSet<(String, i32)>>>,
}

impl ConsumerLag {
    pub(super) fn new(gauge: IntGaugeVec, stage: &str) -> Self {
        Self {
            gauge,
            stage: stage.to_owned(),
            shown: Arc::default(),
        }
    }

    /// Shows `lags` as the stage's current lag: sets each listed partition and removes the series of
    /// partitions shown before but not listed now (no longer assigned to this process).
    pub fn update(&self, lags: &[PartitionLag]) {
        let mut shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        let now: BTreeSet<(String, i32)> = lags
            .iter()
            .map(|l| (l.topic.clone(), l.partition))
            .collect();
        for (topic, partition) in shown.difference(&now) {
            // Absent already is fine: nothing to remove.
            let _ = self
                .gauge
                .remove_label_values(&[&self.stage, topic, &partition.to_string()]);
        }
        for l in lags {
            self.gauge
                .with_label_values(&[&self.stage, &l.topic, &l.partition.to_string()])
                .set(l.lag);
        }
        *shown = now;
    }
}
