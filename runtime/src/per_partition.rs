//! [`PerPartition`]: a stateful stage whose state follows its input partitions. It keeps one instance of
//! the stage per input partition, made by a factory when the partition's first record (or checkpoint)
//! arrives, so each partition's state — a template miner, open windows, a workload's history — can be
//! snapshotted, restored and released on its own ([`schemas::PartitionedState`]).
//!
//! ```text
//!   batch ─► runs of one partition ─► that partition's stage ─► outputs (in the batch's order per partition)
//!   checkpoint: one snapshot per partition ─► medic.checkpoints, key <group>/<topic>/<partition>
//! ```
//!
//! This is sound when everything a stage remembers is about records of one partition: the topics it
//! reads are keyed by workload, so a workload's records, and the state about it, stay on one partition.

use schemas::{
    Emitter, InputPartition, PartitionedState, SourceRecord, Stage, StageError, StageState,
};
use std::collections::BTreeMap;

/// Makes a fresh instance of a stateful stage (sharing whatever is immutable and costly, e.g. a model).
/// It fails only if what made the first instance no longer makes one (a bug).
pub type StageFactory = Box<dyn FnMut() -> Result<Box<dyn Stage>, StageError> + Send>;

/// One instance of a stateful stage per input partition.
pub struct PerPartition {
    make: StageFactory,
    parts: BTreeMap<InputPartition, Box<dyn Stage>>,
}

impl PerPartition {
    /// A stage made of `make`'s instances, one per input partition. Each instance must be stateful
    /// ([`Stage::state`]); one that is not is checkpointed as empty.
    #[must_use]
    pub fn new(make: StageFactory) -> Self {
        Self {
            make,
            parts: BTreeMap::new(),
        }
    }

    fn part(&mut self, partition: &InputPartition) -> Result<&mut Box<dyn Stage>, StageError> {
        if !self.parts.contains_key(partition) {
            self.parts.insert(partition.clone(), (self.make)()?);
        }
        Ok(self
            .parts
            .get_mut(partition)
            .unwrap_or_else(|| unreachable!("inserted above")))
    }
}

fn partition_of(record: &SourceRecord) -> InputPartition {
    (
        record.coordinates.topic.clone(),
        record.coordinates.partition,
    )
}

fn same_partition(a: &SourceRecord, b: &SourceRecord) -> bool {
    a.coordinates.partition == b.coordinates.partition && a.coordinates.topic == b.coordinates.topic
}

impl Stage for PerPartition {
    /// Feeds each run of records of one partition to that partition's stage. The runner sorts a batch
    /// by partition (keeping each partition's order), so a batch makes one call per partition. Should
    /// no stage be made for a partition, its records are dead-lettered with the reason.
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
        for run in batch.chunk_by(same_partition) {
            match self.part(&partition_of(&run[0])) {
                Ok(part) => part.process_batch(run, out),
                Err(error) => {
                    for record in run {
                        out.reject(record, error.clone());
                    }
                }
            }
        }
    }

    fn on_tick(&mut self, now_ns: i64, out: &mut Emitter) {
        for part in self.parts.values_mut() {
            part.on_tick(now_ns, out);
        }
    }

    fn on_close(&mut self, out: &mut Emitter) {
        for part in self.parts.values_mut() {
            part.on_close(out);
        }
    }

    fn partitioned_state(&mut self) -> Option<&mut dyn PartitionedState> {
        Some(self)
    }
}

impl PartitionedState for PerPartition {
    fn partitions(&self) -> Vec<InputPartition> {
        self.parts.keys().cloned().collect()
    }

    fn snapshot_partition(
        &mut self,
        partition: &InputPartition,
    ) -> Result<Option<Vec<u8>>, StageError> {
        let Some(part) = self.parts.get_mut(partition) else {
            return Ok(None);
        };
        part.state().map(|state| state.snapshot()).transpose()
    }

    fn restore_partition(
        &mut self,
        partition: &InputPartition,
        snapshot: &[u8],
    ) -> Result<(), StageError> {
        let mut part = (self.make)()?;
        if let Some(state) = part.state() {
            StageState::restore(state, snapshot)?;
        }
        self.parts.insert(partition.clone(), part);
        Ok(())
    }

    fn release_partition(&mut self, partition: &InputPartition) {
        self.parts.remove(partition);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts its records and remembers the offsets it saw.
    #[derive(Default)]
    struct Counter {
        seen: Vec<i64>,
    }

    impl Stage for Counter {
        fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
            self.seen.extend(batch.iter().map(|r| r.coordinates.offset));
            out.count("seen", batch.len() as u64);
        }

        fn state(&mut self) -> Option<&mut dyn StageState> {
            Some(self)
        }
    }

    impl StageState for Counter {
        fn snapshot(&self) -> Result<Vec<u8>, StageError> {
            Ok(serde_json::to_vec(&self.seen).unwrap_or_default())
        }

        fn restore(&mut self, snapshot: &[u8]) -> Result<(), StageError> {
            self.seen =
                serde_json::from_slice(snapshot).map_err(|e| StageError::invalid(e.to_string()))?;
            Ok(())
        }
    }

    fn record(partition: i32, offset: i64) -> SourceRecord {
        SourceRecord::new("in", partition, offset, "{}")
    }

    fn seen(stage: &mut PerPartition, partition: i32) -> Vec<i64> {
        let snapshot = stage
            .snapshot_partition(&("in".to_owned(), partition))
            .expect("snapshots")
            .expect("held");
        serde_json::from_slice(&snapshot).expect("decodes")
    }

    #[test]
    fn each_partition_has_its_own_state_which_moves_alone() {
        let mut stage = PerPartition::new(Box::new(|| Ok(Box::new(Counter::default()))));
        let batch = [record(0, 0), record(1, 0), record(0, 1), record(1, 1)];
        let mut out = Emitter::new();
        stage.process_batch(&batch, &mut out);
        assert_eq!(seen(&mut stage, 0), [0, 1], "in order, only its own");
        assert_eq!(seen(&mut stage, 1), [0, 1]);
        assert_eq!(stage.partitions().len(), 2);

        // Partition 1 moves to another instance: there it is restored from its snapshot alone.
        let moved = stage
            .snapshot_partition(&("in".to_owned(), 1))
            .expect("snapshots")
            .expect("held");
        stage.release_partition(&("in".to_owned(), 1));
        assert_eq!(stage.partitions(), [("in".to_owned(), 0)]);
        let mut other = PerPartition::new(Box::new(|| Ok(Box::new(Counter::default()))));
        other
            .restore_partition(&("in".to_owned(), 1), &moved)
            .expect("restores");
        other.process_batch(&[record(1, 2)], &mut out);
        assert_eq!(seen(&mut other, 1), [0, 1, 2]);
        assert!(
            other
                .snapshot_partition(&("in".to_owned(), 0))
                .expect("snapshots")
                .is_none(),
            "not this instance's"
        );
        assert!(
            other
                .restore_partition(&("in".to_owned(), 2), b"not json")
                .is_err()
        );
    }
}
