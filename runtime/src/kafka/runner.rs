//! [`StageRunner`]: one stage, one consumer group, at-least-once.
//!
//! ```text
//!   ┌──────── loop ──────────────────────────────────────────────────────────────────┐
//!   │ recv first record ─► fill batch (≤ max records/bytes, gap ≤ batch_gap, ≤ linger)│
//!   │   ─► stage.process_batch ─► hand outputs + dead letters to the producer         │
//!   │   ─► await every acknowledgement of the batch before (retry failed ones)        │
//!   │   ─► commit that batch's next offsets; this batch is now in flight              │
//!   │ nothing to read now: await the batch in flight, commit it                       │
//!   │ every tick_interval: land the batch in flight, stage.on_tick ─► produce ─► await │
//!   └─ shutdown token: stop fetching ─► land ─► stage.on_close ─► produce ─► commit ──┘
//! ```
//!
//! # Guarantees
//! Offsets are committed only after every output of the batch (records and dead letters) is acknowledged
//! by the broker. One batch at a time is in flight: the stage processes the next one while the broker
//! acknowledges it (the hop's round trip no longer idles the stage), and its offsets become committable
//! once it lands ([`OffsetBook::fly`], [`OffsetBook::land`]); a checkpoint, a tick and shutdown land it
//! first. When the group takes a partition away while a batch is in flight, that batch's offsets on it
//! are not committed here: its next owner reads them again (one batch more of duplicates per
//! rebalance). When a delivery still fails after `produce_retries` rounds, the runner stops without
//! committing: the batch is read again after a restart (at-least-once; downstream ids are derived from
//! the input, so duplicates are recognisable).
//!
//! A stateful stage ([`Stage::state`]) is checkpointed (see [`crate::kafka::load_latest`]): at start the
//! runner restores the latest snapshot and skips the records it already covers; afterwards offsets are
//! committed only every `checkpoint_interval`, each time right after a snapshot covering them is
//! acknowledged on the checkpoint topic. Records the state already holds are never fed to it again —
//! neither after a restart nor when a rebalance re-delivers a partition from its older commit.
//!
//! A stage whose state follows its partitions ([`Stage::partitioned_state`], e.g.
//! [`crate::per_partition::PerPartition`]) is checkpointed the same way, one snapshot per owned input
//! partition, keyed by the partition ([`crate::kafka::partition_checkpoint_key`]). When the group assigns
//! a partition, the runner restores that partition's snapshot before it processes any of its records,
//! and skips what the snapshot covers; when the group takes a partition away, the runner releases its
//! state and commits nothing more for it: its next owner, here or in another instance, restores it
//! from the partition's last snapshot and processes again what came after (at-least-once outputs, with
//! the ids the stage derives from its input). So scaling a stage out or in, or losing an instance,
//! moves each partition's state with the partition.

use crate::config::{KafkaConfig, RunnerConfig, RuntimeConfig};
use crate::kafka::checkpoint::{
    Checkpoint, checkpoint_key, load_latest, load_latest_of, partition_checkpoint_key,
};
use crate::kafka::context::{group_commits, lock, partition_list};
use crate::kafka::frames::{PartitionCounts, framed_topics, partitions_computable, unpack};
use crate::kafka::offset_book::{Checkpointing, Flight, OffsetBook, Partition};
use crate::kafka::oversize::MessageLimit;
use crate::kafka::sink::{Dispatched, Sink};
use crate::kafka::{StageContext, consumer_config, max_message_bytes};
use crate::telemetry::health::Health;
use crate::telemetry::metrics::Metrics;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::FutureProducer;
use schemas::{Emitter, SourceCoordinates, SourceRecord, Stage, StageError};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Why a stage runner stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// A Kafka client could not be created or subscribed (bad brokers, bad properties).
    #[error("stage {stage}: Kafka client error: {source}")]
    Client {
        /// The stage.
        stage: &'static str,
        /// The client error.
        #[source]
        source: KafkaError,
    },
    /// Outputs could not be delivered; the batch was not committed and is re-read after a restart.
    #[error(
        "stage {stage}: {failed} record(s) could not be delivered after {attempts} attempt(s): {source}"
    )]
    Delivery {
        /// The stage.
        stage: &'static str,
        /// Records that failed in the last attempt.
        failed: usize,
        /// Attempts made.
        attempts: u32,
        /// The last delivery error.
        #[source]
        source: KafkaError,
    },
    /// The stage's checkpoint could not be read or restored; the stage does not start without it.
    #[error("stage {stage}: checkpoint: {reason}")]
    Checkpoint {
        /// The stage.
        stage: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The stage's configuration is invalid.
    #[error("stage {stage}: invalid configuration: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Config {
        /// The stage.
        stage: &'static str,
        /// Every problem.
        problems: Vec<schemas::config::Problem>,
    },
}

/// A processed batch whose outputs are handed to the producer but not all acknowledged yet.
struct InFlight {
    dispatched: Dispatched,
    flight: Flight,
}

enum Next {
    Shutdown,
    Tick,
    /// Nothing to read now, and a batch in flight: wait for its acknowledgements.
    Land,
    Record(Result<Filled, KafkaError>),
}

/// How long the runner waits for more input while a batch is in flight before it lands the batch.
const READ_ON_WAIT: Duration = Duration::from_millis(1);

/// The stage event that counts the messages a stage read (`medic_stage_events_total`): on the framed
/// topics one message holds many records, so offsets (and a broker's watermarks) count these, not
/// `medic_records_in_total`.
pub const MESSAGES_READ: &str = "runner.messages_read";

/// The stage event that counts partitions whose restored state is behind the group's commit (or that
/// have no checkpoint though the group committed them): the records in between are in neither.
pub const STATE_BEHIND_COMMIT: &str = "checkpoint.state_behind_commit";

/// The records of the messages read for one batch, unpacked from their frames.
#[derive(Default)]
struct Filled {
    /// Messages read.
    messages: u64,
    /// Bytes of the messages' payloads.
    bytes: usize,
    /// Every record, in the order read; a message that could not be unpacked is one record here.
    records: Vec<SourceRecord>,
    /// The messages that could not be unpacked, and why: dead-lettered whole, never given to the stage.
    unreadable: Vec<(SourceCoordinates, StageError)>,
    /// For each partition with records here, how often the group had taken it away when they were read
    /// ([`OffsetBook::revocations`]).
    read_at: BTreeMap<Partition, u64>,
}

impl Filled {
    fn of(message: &BorrowedMessage<'_>, framed: &[String], book: &OffsetBook) -> Self {
        let mut filled = Self::default();
        filled.add(message, framed, book);
        filled
    }

    /// Adds the records of `message`: unpacked from its frame when its topic is one of `framed`, else
    /// the message as one record. First leaves out what [`Filled::forget_revoked`] says.
    fn add(&mut self, message: &BorrowedMessage<'_>, framed: &[String], book: &OffsetBook) {
        self.forget_revoked(book);
        self.note_read(&(message.topic().to_owned(), message.partition()), book);
        self.messages += 1;
        self.bytes += message.payload_len();
        if let Err(unreadable) = unpack(message, framed, &mut self.records) {
            let (whole, error) = *unreadable;
            self.unreadable.push((whole.coordinates.clone(), error));
            self.records.push(whole);
        }
    }

    /// Notes that records of `partition` are read now.
    fn note_read(&mut self, partition: &Partition, book: &OffsetBook) {
        if !self.read_at.contains_key(partition) {
            self.read_at
                .insert(partition.clone(), book.revocations(partition));
        }
    }

    /// Leaves out the records of every partition the group took away after they were read, even if it
    /// has given the partition back since: the partition is read again from its last commit (or, for a
    /// stage whose state follows its partitions, restored from its checkpoint), so these records would
    /// come twice, or into a state restored to before them.
    fn forget_revoked(&mut self, book: &OffsetBook) {
        let stale: BTreeSet<Partition> = self
            .read_at
            .iter()
            .filter(|(partition, read_at)| book.revocations(partition) != **read_at)
            .map(|(partition, _)| partition.clone())
            .collect();
        if stale.is_empty() {
            return;
        }
        let of_stale = |c: &SourceCoordinates| stale.contains(&(c.topic.clone(), c.partition));
        self.records.retain(|r| !of_stale(&r.coordinates));
        self.unreadable.retain(|(c, _)| !of_stale(c));
        self.read_at
            .retain(|partition, _| !stale.contains(partition));
        tracing::info!(partitions = ?stale, "records read before their partitions were revoked left out");
    }

    /// Dead-letters the unreadable messages among `batch` into `out`; the rest is the stage's input.
    fn readable<'a>(
        &self,
        batch: &'a [SourceRecord],
        out: &mut Emitter,
    ) -> Cow<'a, [SourceRecord]> {
        if self.unreadable.is_empty() {
            return Cow::Borrowed(batch);
        }
        let mut readable = Vec::with_capacity(batch.len());
        for record in batch {
            match self
                .unreadable
                .iter()
                .find(|(at, _)| *at == record.coordinates)
            {
                Some((_, error)) => out.reject(record, error.clone()),
                None => readable.push(record.clone()),
            }
        }
        Cow::Owned(readable)
    }
}

/// A stage as the runner takes it: its name (which names its consumer group, metrics and health), the
/// topics it reads, and the processor built from its configuration.
pub struct StageSpec {
    /// The stage's name, e.g. `enrich`.
    pub name: &'static str,
    /// The topics the stage reads; none for a source stage, which only produces on its ticks.
    pub input_topics: Vec<String>,
    /// The stage's processor.
    pub processor: Box<dyn Stage>,
    /// Whether the stage writes frames (its records for the per-line topics): its batches then fill for
    /// `batch_linger`, whatever `batch_gap` says, since a batch is one frame per partition.
    pub writes_frames: bool,
}

/// Runs one stage against Kafka.
pub struct StageRunner {
    name: &'static str,
    /// The consumer group (`<kafka.group_prefix>-<stage>`), also the checkpoint key's stem.
    group: String,
    stage: Box<dyn Stage>,
    consumer: StreamConsumer<StageContext>,
    input_topics: Vec<String>,
    runner: RunnerConfig,
    sink: Sink,
    /// The last batch processed, until every output of it is acknowledged.
    in_flight: Option<InFlight>,
    health: Arc<Health>,
    kafka: KafkaConfig,
    /// Shared with the consumer's rebalance callback; never locked across an await.
    offsets: Arc<Mutex<OffsetBook>>,
    /// How long a batch waits for its next message: `batch_gap`, or `batch_linger` for a stage that
    /// writes frames ([`StageSpec::writes_frames`]).
    batch_gap: Duration,
    /// How the stage's state is checkpointed.
    checkpointing: Checkpointing,
}

impl StageRunner {
    /// Builds the stage's consumer; the producer is shared by every stage of the process.
    ///
    /// # Errors
    /// [`RunnerError::Client`] when the consumer cannot be created.
    pub fn new(
        spec: StageSpec,
        config: RuntimeConfig<'_>,
        producer: FutureProducer,
        metrics: &Metrics,
        health: Arc<Health>,
    ) -> Result<Self, RunnerError> {
        let StageSpec {
            name,
            input_topics,
            mut processor,
            writes_frames,
        } = spec;
        let group = config.kafka.group_id(name);
        let mut client = consumer_config(config.kafka, &group);
        if config.runner.lag_interval.as_millis() > 0 {
            // The statistics feed medic_consumer_lag (StageContext).
            client.set(
                "statistics.interval.ms",
                config.runner.lag_interval.as_millis().to_string(),
            );
        }
        let offsets = Arc::new(Mutex::new(OffsetBook::default()));
        let checkpointing = if processor.partitioned_state().is_some() {
            Checkpointing::PerPartition
        } else if processor.state().is_some() {
            Checkpointing::Whole
        } else {
            Checkpointing::Stateless
        };
        let context = StageContext::new(
            name,
            checkpointing,
            metrics.consumer_lag(name),
            Arc::clone(&offsets),
        );
        let consumer =
            client
                .create_with_context(context)
                .map_err(|source| RunnerError::Client {
                    stage: name,
                    source,
                })?;
        health.starting(name);
        Ok(Self {
            name,
            group,
            stage: processor,
            consumer,
            input_topics,
            runner: config.runner.clone(),
            in_flight: None,
            sink: Sink {
                stage: name,
                producer,
                topics: config.topics.clone(),
                produce_retries: config.runner.produce_retries,
                limit: MessageLimit::new(max_message_bytes(config.kafka, config.runner)),
                frame_max_bytes: config.runner.frame_max_bytes,
                partitions: PartitionCounts::default(),
                route_by_partition: partitions_computable(config.kafka),
                metrics: metrics.stage(name),
                framed: framed_topics(config.topics),
            },
            health,
            kafka: config.kafka.clone(),
            offsets,
            batch_gap: if writes_frames {
                config.runner.batch_linger
            } else {
                config.runner.batch_gap
            }
            .as_duration(),
            checkpointing,
        })
    }

    fn book(&self) -> std::sync::MutexGuard<'_, OffsetBook> {
        lock(&self.offsets)
    }

    fn checkpoint_key(&self) -> String {
        checkpoint_key(&self.group, self.runner.instance.as_deref())
    }

    /// Restores the stage's latest checkpoint, if the stage keeps one snapshot and one exists (a stage
    /// whose state follows its partitions restores each partition when it is assigned).
    async fn restore(&mut self) -> Result<(), RunnerError> {
        let stage = self.name;
        if self.checkpointing != Checkpointing::Whole {
            return Ok(());
        }
        let kafka = self.kafka.clone();
        let topic = self.sink.topics.checkpoints.clone();
        let key = self.checkpoint_key();
        let loaded = tokio::task::spawn_blocking(move || {
            load_latest(&kafka, &topic, &key, Duration::from_secs(30)).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|loaded| loaded)
        .map_err(|reason| RunnerError::Checkpoint { stage, reason })?;
        let Some(checkpoint) = loaded else {
            tracing::info!(key = %self.checkpoint_key(), "no checkpoint: starting with empty state");
            return Ok(());
        };
        if let Some(state) = self.stage.state() {
            state
                .restore(&checkpoint.state)
                .map_err(|e| RunnerError::Checkpoint {
                    stage,
                    reason: format!("restoring the snapshot failed: {e}"),
                })?;
        }
        tracing::info!(
            key = %self.checkpoint_key(),
            bytes = checkpoint.state.len(),
            partitions = checkpoint.offsets.len(),
            "state restored from checkpoint"
        );
        let mut book = self.book();
        book.committed = checkpoint.offsets;
        book.last_checkpoint = Some(Instant::now());
        Ok(())
    }

    /// Commits the pending offsets: at once for a stateless stage; for a stateful one only when the
    /// checkpoint interval has passed (or `force`), right after a snapshot covering them is acknowledged.
    async fn commit_pending(&mut self, force: bool) -> Result<(), RunnerError> {
        if self.book().pending.is_empty() {
            return Ok(());
        }
        let mode = if force {
            CommitMode::Sync
        } else {
            CommitMode::Async
        };
        if self.checkpointing != Checkpointing::Stateless {
            let due = self
                .book()
                .last_checkpoint
                .is_none_or(|last| last.elapsed() >= self.runner.checkpoint_interval.as_duration());
            if !force && !due {
                return Ok(());
            }
            self.checkpoint().await?;
        }
        let pending = self.book().take_pending();
        let result = self.consumer.commit(&partition_list(&pending), mode);
        if let Err(error) = result {
            self.sink.metrics.commit_errors.inc();
            tracing::warn!(error = %error, "commit failed; the batch may be re-read after a restart");
        }
        Ok(())
    }

    /// Writes a snapshot of the stage's state covering the committed and pending offsets (one per owned
    /// partition, for a stage whose state follows its partitions), and waits for its acknowledgement.
    async fn checkpoint(&mut self) -> Result<(), RunnerError> {
        // A snapshot covers only records whose outputs are delivered.
        self.land().await?;
        self.settle_partitions().await?;
        let stage = self.name;
        let snapshot_failed = |e: StageError| RunnerError::Checkpoint {
            stage,
            reason: format!("snapshot failed: {e}"),
        };
        let covered = self.book().covered();
        let mut checkpoints = Vec::new();
        if let Some(state) = self.stage.state() {
            let state = state.snapshot().map_err(snapshot_failed)?;
            checkpoints.push((
                self.checkpoint_key(),
                Checkpoint {
                    offsets: covered,
                    state,
                },
            ));
        } else if let Some(state) = self.stage.partitioned_state() {
            for partition in state.partitions() {
                // A partition whose state took in no record has nothing to checkpoint yet.
                let Some(&next) = covered.get(&partition) else {
                    continue;
                };
                let Some(snapshot) = state
                    .snapshot_partition(&partition)
                    .map_err(snapshot_failed)?
                else {
                    continue;
                };
                checkpoints.push((
                    partition_checkpoint_key(&self.group, &partition),
                    Checkpoint {
                        offsets: BTreeMap::from([(partition, next)]),
                        state: snapshot,
                    },
                ));
            }
        }
        self.sink.deliver_checkpoints(&checkpoints).await?;
        self.book().last_checkpoint = Some(Instant::now());
        Ok(())
    }

    /// For a stage whose state follows its partitions: releases the state of the partitions the group
    /// took away, and restores the state of those it assigned from their latest checkpoints (a
    /// partition without one starts empty), since the last call. Every record is processed after this,
    /// so none meets a partition state that is not its owner's.
    async fn settle_partitions(&mut self) -> Result<(), RunnerError> {
        if self.checkpointing != Checkpointing::PerPartition {
            return Ok(());
        }
        let stage = self.name;
        let (released, to_restore) = {
            let mut book = self.book();
            (book.take_released(), book.take_to_restore())
        };
        let Some(state) = self.stage.partitioned_state() else {
            return Ok(());
        };
        for partition in &released {
            state.release_partition(partition);
        }
        if !released.is_empty() {
            tracing::info!(partitions = ?released, "state of revoked partitions released");
        }
        if to_restore.is_empty() {
            return Ok(());
        }
        let keys: BTreeMap<String, Partition> = to_restore
            .into_iter()
            .map(|partition| (partition_checkpoint_key(&self.group, &partition), partition))
            .collect();
        let kafka = self.kafka.clone();
        let topic = self.sink.topics.checkpoints.clone();
        let wanted: BTreeSet<String> = keys.keys().cloned().collect();
        let mut loaded = tokio::task::spawn_blocking(move || {
            load_latest_of(&kafka, &topic, &wanted, Duration::from_secs(30))
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|loaded| loaded)
        .map_err(|reason| RunnerError::Checkpoint { stage, reason })?;
        let committed = self.group_commits(keys.values());
        let Some(state) = self.stage.partitioned_state() else {
            return Ok(());
        };
        for (key, partition) in &keys {
            state.release_partition(partition);
            let next = match loaded.remove(key) {
                Some(checkpoint) => {
                    state
                        .restore_partition(partition, &checkpoint.state)
                        .map_err(|e| RunnerError::Checkpoint {
                            stage,
                            reason: format!("restoring {key} failed: {e}"),
                        })?;
                    tracing::info!(key = %key, bytes = checkpoint.state.len(), "partition state restored");
                    checkpoint.offsets.get(partition).copied()
                }
                None => None,
            };
            if let Some(&commit) = committed.get(partition)
                && next.is_none_or(|next| next < commit)
            {
                // Records between the state and the commit the consumer reads from are in neither.
                tracing::warn!(
                    key = %key,
                    checkpoint = ?next,
                    commit,
                    "the partition's state is behind the group's commit: its records before the \
                     commit are not in the state (no checkpoint: one written before states followed \
                     their partitions, under medic-<stage> or medic-<stage>/<instance>, is not read)"
                );
                self.sink.metrics.add_event(STATE_BEHIND_COMMIT, 1);
            }
            lock(&self.offsets).restored(partition, next);
        }
        Ok(())
    }

    /// The group's committed offset of each of `partitions` that has one (none when they cannot be
    /// read: the check they serve is skipped).
    fn group_commits<'a>(
        &self,
        partitions: impl Iterator<Item = &'a Partition>,
    ) -> BTreeMap<Partition, i64> {
        let mut list = rdkafka::TopicPartitionList::new();
        for (topic, partition) in partitions {
            list.add_partition(topic, *partition);
        }
        match off_the_io_runtime(|| group_commits(&self.consumer, list)) {
            Ok(committed) => committed
                .into_iter()
                .filter_map(|(partition, next)| Some((partition, next?)))
                .collect(),
            Err(error) => {
                tracing::warn!(error = %error, "cannot read the group's commits");
                BTreeMap::new()
            }
        }
    }

    /// Runs until `shutdown` is cancelled, then drains and commits.
    ///
    /// # Errors
    /// [`RunnerError::Client`] when subscribing fails; [`RunnerError::Delivery`] when outputs cannot be
    /// delivered (nothing of that batch is committed).
    #[tracing::instrument(name = "stage", skip_all, fields(stage = self.name))]
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), RunnerError> {
        let stage = self.name;
        self.restore().await?;
        let topics: Vec<&str> = self.input_topics.iter().map(String::as_str).collect();
        // A source stage (the observer) reads no topic: it only ticks, and its consumer never joins
        // the group (its `recv` yields no record; it only looks the group's coordinator up).
        if !topics.is_empty() {
            self.consumer
                .subscribe(&topics)
                .map_err(|source| RunnerError::Client { stage, source })?;
        }
        tracing::info!(topics = ?topics, group = %self.group, "stage started");
        self.health.set_ready(stage, true);
        let mut tick = tokio::time::interval(self.runner.tick_interval.as_duration());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.health.beat(stage);
            let filled = |message: Result<BorrowedMessage<'_>, KafkaError>, book: &OffsetBook| {
                message.map(|m| Filled::of(&m, &self.sink.framed, book))
            };
            // While a batch is in flight, read on if more input comes within READ_ON_WAIT (its
            // acknowledgements come meanwhile); otherwise land it, so an idle stage commits what it
            // has done. A non-message event at the head of the consumer's queue (a commit's result)
            // delays the next record by a poll, not past this wait.
            let in_flight = self.in_flight.is_some();
            let land_after = async move {
                if in_flight {
                    tokio::time::sleep(READ_ON_WAIT).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            let next = tokio::select! {
                biased;
                () = shutdown.cancelled() => Next::Shutdown,
                _ = tick.tick() => Next::Tick,
                message = self.consumer.recv() => Next::Record(filled(message, &lock(&self.offsets))),
                () = land_after => Next::Land,
            };
            match next {
                Next::Shutdown => break,
                Next::Tick => {
                    self.land().await?;
                    self.settle_partitions().await?;
                    let mut out = Emitter::new();
                    let now_ns = schemas::clock::wall_clock_ns();
                    off_the_io_runtime(|| self.stage.on_tick(now_ns, &mut out));
                    self.sink.deliver(out).await?;
                    self.commit_pending(false).await?;
                }
                Next::Land => {
                    self.land().await?;
                    self.commit_pending(false).await?;
                }
                Next::Record(filled) => self.on_record(filled).await?,
            }
        }
        tracing::info!("draining");
        self.health.set_ready(stage, false);
        self.land().await?;
        let mut out = Emitter::new();
        off_the_io_runtime(|| self.stage.on_close(&mut out));
        self.sink.deliver(out).await?;
        self.commit_pending(true).await?;
        tracing::info!("stage stopped");
        Ok(())
    }

    /// Fills a batch after `first` and handles it.
    async fn on_record(&mut self, first: Result<Filled, KafkaError>) -> Result<(), RunnerError> {
        let first = match first {
            Ok(first) => first,
            Err(error) => {
                tracing::warn!(error = %error, "consumer error; retrying");
                self.land().await?;
                self.commit_pending(false).await?;
                tokio::time::sleep(Duration::from_millis(200)).await;
                return Ok(());
            }
        };
        let mut batch = self.fill_batch(first).await;
        if self.checkpointing == Checkpointing::PerPartition {
            // One run per partition, each in its order: one call of its state per batch.
            batch.records.sort_by(|a, b| {
                let (a, b) = (&a.coordinates, &b.coordinates);
                (a.partition, &a.topic).cmp(&(b.partition, &b.topic))
            });
        }
        self.handle_batch(&batch).await
    }

    /// Waits until every output of the batch in flight is acknowledged (producing failed ones again),
    /// then makes its offsets committable.
    async fn land(&mut self) -> Result<(), RunnerError> {
        if let Some(InFlight { dispatched, flight }) = self.in_flight.take() {
            self.sink.acknowledged(dispatched).await?;
            self.book().land(flight);
        }
        Ok(())
    }

    /// Collects records after `first` until the batch is full (`batch_max_records` records or
    /// `batch_max_bytes` of payloads), no message came for `batch_gap`, or
    /// `batch_linger` has passed. A frame is never split: its records are processed, delivered and
    /// committed together.
    async fn fill_batch(&mut self, first: Filled) -> Filled {
        let mut batch = first;
        let deadline = tokio::time::Instant::now() + self.runner.batch_linger.as_duration();
        let gap = self.batch_gap;
        while batch.records.len() < self.runner.batch_max_records
            && batch.bytes < self.runner.batch_max_bytes
        {
            let until = deadline.min(tokio::time::Instant::now() + gap);
            match tokio::time::timeout_at(until, self.consumer.recv()).await {
                Ok(Ok(message)) => batch.add(&message, &self.sink.framed, &lock(&self.offsets)),
                Ok(Err(error)) => {
                    tracing::warn!(error = %error, "consumer error while filling a batch");
                    break;
                }
                Err(_) => break,
            }
        }
        // A rebalance inside the last `recv` may have taken partitions away.
        batch.forget_revoked(&lock(&self.offsets));
        batch
    }

    async fn handle_batch(&mut self, read: &Filled) -> Result<(), RunnerError> {
        self.settle_partitions().await?;
        let started = Instant::now();
        let filled = &read.records;
        self.sink.metrics.records_in.inc_by(filled.len() as u64);
        self.sink.metrics.add_event(MESSAGES_READ, read.messages);
        // A rebalance while the batch filled may have taken some of its partitions away.
        let owned = self.book().owned(filled);
        if owned.len() < filled.len() {
            tracing::info!(
                left = filled.len() - owned.len(),
                "records of revoked partitions left to their next owner"
            );
        }
        let batch: &[SourceRecord] = &owned;
        let mut out = Emitter::new();
        let fresh;
        let input = if self.checkpointing == Checkpointing::Stateless {
            batch
        } else {
            fresh = self.book().not_yet_in_state(batch);
            if fresh.len() < batch.len() {
                tracing::info!(
                    skipped = batch.len() - fresh.len(),
                    "records already in the stage's state skipped"
                );
            }
            &*fresh
        };
        let input = read.readable(input, &mut out);
        off_the_io_runtime(|| self.stage.process_batch(&input, &mut out));
        // This batch's outputs go to the producer after the last one's, then the last one lands: its
        // acknowledgements came while this one was read and processed.
        let dispatched = self.sink.dispatch(out).await;
        let flight = self.book().fly(batch);
        self.land().await?;
        self.in_flight = Some(InFlight { dispatched, flight });
        self.commit_pending(false).await?;
        self.sink.metrics.batches.inc();
        self.sink
            .metrics
            .batch_duration
            .observe(started.elapsed().as_secs_f64());
        Ok(())
    }
}

/// Runs CPU-bound stage work (model inference, SQL over a micro-batch) so it does not stall the I/O
/// runtime: on a multi-threaded runtime the worker hands its other tasks to the rest of the pool while
/// `work` runs; on a current-thread runtime (tests) it simply runs.
fn off_the_io_runtime<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::offset_book::Checkpointing;

    fn read(filled: &mut Filled, book: &OffsetBook, partition: i32, offsets: std::ops::Range<i64>) {
        filled.forget_revoked(book);
        filled.note_read(&("in".to_owned(), partition), book);
        filled
            .records
            .extend(offsets.map(|o| SourceRecord::new("in", partition, o, "{}")));
    }

    #[test]
    fn records_read_before_a_revoke_are_left_out_even_if_the_partition_came_back() {
        let per_partition = Checkpointing::PerPartition;
        let mut book = OffsetBook::default();
        book.assign(&[("in".to_owned(), 0), ("in".to_owned(), 1)], per_partition);
        let mut filled = Filled::default();
        read(&mut filled, &book, 0, 10..15);
        read(&mut filled, &book, 1, 40..45);
        // Inside the next `recv`, the group takes every partition away and gives them back.
        book.revoke(&[("in".to_owned(), 0), ("in".to_owned(), 1)], per_partition);
        book.assign(&[("in".to_owned(), 0), ("in".to_owned(), 1)], per_partition);
        // What that `recv` returned was fetched after the assignment: from the last commit.
        read(&mut filled, &book, 0, 3..6);
        let kept: Vec<(i32, i64)> = filled
            .records
            .iter()
            .map(|r| (r.coordinates.partition, r.coordinates.offset))
            .collect();
        assert_eq!(kept, [(0, 3), (0, 4), (0, 5)]);
        // Records read after the assignment stay.
        read(&mut filled, &book, 1, 38..39);
        assert_eq!(filled.records.len(), 4);
    }
}
