//! [`StageContext`]: the librdkafka context of a stage runner's consumer. It reports the consumer's lag
//! (`medic_consumer_lag`, from the client's statistics) and handles rebalances: when the group takes
//! partitions away, what the stage has done on them is settled before another consumer owns them (see
//! [`super::offset_book`]).
//!
//! The callbacks run inside the consumer's poll, on the stage's tokio worker: the commit of revoked
//! partitions and the read of the group's commits on assignment block that worker for one broker round
//! trip (at most [`COMMITTED_TIMEOUT`] for the read). Rebalances are rare; the stage does nothing else
//! meanwhile anyway.

use crate::kafka::offset_book::{Checkpointing, OffsetBook, Partition};
use crate::kafka::partition_lags;
use crate::telemetry::metrics::ConsumerLag;
use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::{Offset, TopicPartitionList};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// How long a rebalance waits for the group's committed offsets.
pub const COMMITTED_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The context of one stage's consumer.
pub struct StageContext {
    stage: &'static str,
    checkpointing: Checkpointing,
    lag: ConsumerLag,
    book: Arc<Mutex<OffsetBook>>,
}

impl StageContext {
    /// A context for `stage` (checkpointing its state as `checkpointing` says) reporting into `lag`,
    /// sharing `book` with the runner.
    #[must_use]
    pub fn new(
        stage: &'static str,
        checkpointing: Checkpointing,
        lag: ConsumerLag,
        book: Arc<Mutex<OffsetBook>>,
    ) -> Self {
        Self {
            stage,
            checkpointing,
            lag,
            book,
        }
    }

    fn book(&self) -> MutexGuard<'_, OffsetBook> {
        lock(&self.book)
    }
}

/// Locks an offset book (or another of the runner's shared maps); a poisoned lock (a panic elsewhere
/// while holding it) still holds a usable value.
pub fn lock<T>(shared: &Mutex<T>) -> MutexGuard<'_, T> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `offsets` as a partition list for a commit.
#[must_use]
pub fn partition_list(offsets: &crate::kafka::checkpoint::Offsets) -> TopicPartitionList {
    let mut list = TopicPartitionList::new();
    for ((topic, partition), next) in offsets {
        // Adding a partition with a concrete offset to a fresh list cannot fail.
        let _ = list.add_partition_offset(topic, *partition, Offset::Offset(*next));
    }
    list
}

/// The group's committed offset of each partition of `list` (`None` where the group has none), read
/// through `consumer` (a broker round trip, at most [`COMMITTED_TIMEOUT`]).
///
/// # Errors
/// When the commits cannot be read.
pub fn group_commits(
    consumer: &impl Consumer<StageContext>,
    list: TopicPartitionList,
) -> Result<Vec<(Partition, Option<i64>)>, rdkafka::error::KafkaError> {
    let committed = consumer.committed_offsets(list, COMMITTED_TIMEOUT)?;
    Ok(committed
        .elements()
        .iter()
        .map(|e| {
            let group = match e.offset() {
                Offset::Offset(next) => Some(next),
                _ => None,
            };
            ((e.topic().to_owned(), e.partition()), group)
        })
        .collect())
}

/// The topic-partitions of `list`.
fn partitions_of(list: &TopicPartitionList) -> Vec<Partition> {
    list.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}

impl ClientContext for StageContext {
    fn stats_raw(&self, statistics: &[u8]) {
        match partition_lags(statistics) {
            Ok(lags) => self.lag.update(&lags),
            Err(error) => tracing::debug!(error = %error, "unreadable librdkafka statistics"),
        }
    }
}

impl ConsumerContext for StageContext {
    /// Runs before librdkafka gives up `partitions`, on the thread polling the consumer (the runner
    /// between batches): a commit here is the last one this process may make for them.
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(partitions) = rebalance else {
            return;
        };
        let revoked = partitions_of(partitions);
        let commit_now = self.book().revoke(&revoked, self.checkpointing);
        if !commit_now.is_empty()
            && let Err(error) = consumer.commit(&partition_list(&commit_now), CommitMode::Sync)
        {
            // The partition's next owner starts from the previous commit: those records are read
            // again (at least once), never lost.
            tracing::warn!(stage = self.stage, error = %error, "commit of revoked partitions failed");
        }
        tracing::info!(
            stage = self.stage,
            partitions = ?revoked,
            committed = commit_now.len(),
            "partitions revoked"
        );
    }

    /// Runs after librdkafka took `partitions` on: they are this process's again, and held offsets of a
    /// stateful stage are weighed against the group's commits (see [`OffsetBook::reclaim`]).
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(partitions) = rebalance else {
            return;
        };
        let assigned = partitions_of(partitions);
        tracing::info!(stage = self.stage, partitions = ?assigned, "partitions assigned");
        let reclaim = {
            let mut book = self.book();
            book.assign(&assigned, self.checkpointing);
            self.checkpointing == Checkpointing::Whole && !book.held.is_empty()
        };
        if !reclaim {
            return;
        }
        let weighed = match group_commits(consumer, (*partitions).clone()) {
            Ok(weighed) => weighed,
            Err(error) => {
                // Unknown: the held offsets stay held (not committed by this process), so at worst
                // their records are read again after a restart.
                tracing::warn!(stage = self.stage, error = %error, "cannot read the group's commits");
                return;
            }
        };
        self.book().reclaim(&weighed);
    }
}
