//! The [`Stage`] trait: what every stage implements, and the [`Emitter`] it writes to.

use std::collections::BTreeMap;

use crate::{RecordKind, SourceCoordinates, StageError, WireRecord, encode_record};

/// One input record as a stage sees it: the raw bytes and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    /// Topic, partition and offset.
    pub coordinates: SourceCoordinates,
    /// Message key, if any (for CRI lines: the log file path).
    pub key: Option<Vec<u8>>,
    /// Message payload.
    pub payload: Vec<u8>,
    /// Broker/producer timestamp, ms since the epoch, if any.
    pub timestamp_ms: Option<i64>,
}

impl SourceRecord {
    /// A record read from `topic` at `partition`/`offset` with `payload` (handy in tests).
    pub fn new(topic: &str, partition: i32, offset: i64, payload: impl Into<Vec<u8>>) -> Self {
        Self {
            coordinates: SourceCoordinates {
                topic: topic.to_owned(),
                partition,
                offset,
                index: 0,
            },
            key: None,
            payload: payload.into(),
            timestamp_ms: None,
        }
    }

    /// Sets the key.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }
}

/// A record a stage produced, already encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitted {
    /// Which kind (and so which topic).
    pub kind: RecordKind,
    /// Message key.
    pub key: Option<String>,
    /// Encoded payload.
    pub payload: Vec<u8>,
}

/// An input record a stage could not process: it goes to the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The input's coordinates.
    pub coordinates: SourceCoordinates,
    /// The input's key.
    pub key: Option<Vec<u8>>,
    /// The input's payload, unchanged.
    pub payload: Vec<u8>,
    /// Why it was rejected.
    pub error: StageError,
}

/// Collects what a stage produces for one batch: records, rejections, deliberate drops, and counts of
/// stage-specific events (redactions by rule, rejections by reason) that the runner exports as
/// `medic_stage_events_total{stage, event}`.
#[derive(Debug, Default)]
pub struct Emitter {
    emitted: Vec<Emitted>,
    rejections: Vec<Rejection>,
    dropped: u64,
    events: BTreeMap<&'static str, u64>,
}

/// Everything an [`Emitter`] collected, taken out of it.
#[derive(Debug, Default)]
pub struct Collected {
    /// Records to produce.
    pub emitted: Vec<Emitted>,
    /// Inputs for the dead-letter topic.
    pub rejections: Vec<Rejection>,
    /// Inputs consumed on purpose without output.
    pub dropped: u64,
    /// Stage-specific event counts, by event name.
    pub events: BTreeMap<&'static str, u64>,
}

impl Emitter {
    /// An empty emitter.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodes and emits `record`.
    ///
    /// # Errors
    /// When the record cannot be encoded (an internal error); nothing is emitted then.
    pub fn emit<R: WireRecord>(&mut self, record: &R) -> Result<(), StageError> {
        let payload = encode_record(record)?;
        self.emit_payload(R::KIND, record.key(), payload);
        Ok(())
    }

    /// Emits `record`, or rejects `input` if it cannot be encoded.
    pub fn emit_or_reject<R: WireRecord>(&mut self, input: &SourceRecord, record: &R) {
        if let Err(error) = self.emit(record) {
            self.reject(input, error);
        }
    }

    /// Emits `payload`, a record of `kind` keyed `key` that the caller encoded: the record's
    /// [`crate::encode_record`], or an encoding made without building the record (enrich's parsed records,
    /// [`crate::compact::encode_parsed_copying`]).
    pub fn emit_payload(&mut self, kind: RecordKind, key: Option<String>, payload: Vec<u8>) {
        self.emitted.push(Emitted { kind, key, payload });
    }

    /// Emits `input`'s key and payload unchanged as a record of `kind` (a pass-through).
    pub fn forward(&mut self, kind: RecordKind, input: &SourceRecord) {
        self.emitted.push(Emitted {
            kind,
            key: input
                .key
                .as_deref()
                .map(|k| String::from_utf8_lossy(k).into_owned()),
            payload: input.payload.clone(),
        });
    }

    /// Sends `input` to the dead-letter topic because of `error`.
    pub fn reject(&mut self, input: &SourceRecord, error: StageError) {
        self.rejections.push(Rejection {
            coordinates: input.coordinates.clone(),
            key: input.key.clone(),
            payload: input.payload.clone(),
            error,
        });
    }

    /// Counts `input` as consumed on purpose without output (a control message, a no-op decision).
    pub fn drop_record(&mut self) {
        self.dropped += 1;
    }

    /// Adds `n` to the count of stage event `event` (a fixed, low-cardinality name such as
    /// `redacted.bearer_token`; never data from the record).
    pub fn count(&mut self, event: &'static str, n: u64) {
        if n > 0 {
            *self.events.entry(event).or_default() += n;
        }
    }

    /// The stage event counts so far.
    #[must_use]
    pub fn events(&self) -> &BTreeMap<&'static str, u64> {
        &self.events
    }

    /// The records emitted so far.
    #[must_use]
    pub fn emitted(&self) -> &[Emitted] {
        &self.emitted
    }

    /// The rejections so far.
    #[must_use]
    pub fn rejections(&self) -> &[Rejection] {
        &self.rejections
    }

    /// How many inputs were dropped on purpose.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Decodes every emitted record of type `R` (for tests and in-process consumers).
    ///
    /// # Errors
    /// If an emitted record of `R`'s kind does not decode.
    pub fn decode_all<R: WireRecord>(&self) -> Result<Vec<R>, StageError> {
        self.emitted
            .iter()
            .filter(|e| e.kind == R::KIND)
            .map(|e| crate::decode_record(&e.payload))
            .collect()
    }

    /// Takes everything collected, leaving the emitter empty.
    pub fn take(&mut self) -> Collected {
        Collected {
            emitted: std::mem::take(&mut self.emitted),
            rejections: std::mem::take(&mut self.rejections),
            dropped: std::mem::take(&mut self.dropped),
            events: std::mem::take(&mut self.events),
        }
    }
}

/// State a stage carries from batch to batch (a template miner, open windows) that must survive a
/// restart. The runner snapshots it on commit and restores the latest snapshot at start.
pub trait StageState {
    /// Serialises the whole state.
    ///
    /// # Errors
    /// When the state cannot be serialised (an internal error: the runner stops without committing).
    fn snapshot(&self) -> Result<Vec<u8>, StageError>;

    /// Replaces the state with `snapshot`, taken by [`StageState::snapshot`] (possibly by an earlier
    /// process or version).
    ///
    /// # Errors
    /// When the snapshot cannot be read; the runner refuses to start rather than lose state silently.
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), StageError>;
}

/// An input partition: a topic and a partition number.
pub type InputPartition = (String, i32);

/// State a stage keeps apart per input partition, so it can follow the partition when the consumer
/// group moves it to another instance (scale-out, scale-in, a crash). The runner snapshots each owned
/// partition's state to the checkpoint topic under its own key, restores exactly the partitions an
/// instance is assigned, and releases the ones taken away. A stage whose state is keyed by what its input
/// is keyed by (a workload) implements it by keeping one state per partition; the runtime's `PerPartition`
/// does that for any [`StageState`].
pub trait PartitionedState {
    /// The partitions whose state is held.
    fn partitions(&self) -> Vec<InputPartition>;

    /// Serialises the state of `partition` (`None` when none is held for it).
    ///
    /// # Errors
    /// When the state cannot be serialised (an internal error: the runner stops without committing).
    fn snapshot_partition(
        &mut self,
        partition: &InputPartition,
    ) -> Result<Option<Vec<u8>>, StageError>;

    /// Replaces the state of `partition` with `snapshot`, taken by
    /// [`PartitionedState::snapshot_partition`] (possibly by another instance, process or version).
    ///
    /// # Errors
    /// When the snapshot cannot be read; the runner stops rather than lose state silently.
    fn restore_partition(
        &mut self,
        partition: &InputPartition,
        snapshot: &[u8],
    ) -> Result<(), StageError>;

    /// Drops the state of `partition`: another instance owns it now.
    fn release_partition(&mut self, partition: &InputPartition);
}

/// A stage of the pipeline: a pure processor over batches of input records, with no Kafka inside.
///
/// Implement [`Stage::process_batch`]; the hooks default to doing nothing. The runner calls them in this
/// order: [`Stage::state`] restore (once, when a checkpoint exists) → `process_batch`/`on_tick` (any
/// number of times) → `on_close` once at shutdown.
///
/// # Guarantees the runner gives
/// Batches arrive in offset order per partition. Everything emitted for a batch is durably produced before
/// that batch's offsets are committed; a crash before that re-delivers the batch (at-least-once), so
/// stages derive ids from their input, never from a counter or the clock.
///
/// A stage with [`Stage::state`] is checkpointed: the runner commits offsets only together with a
/// snapshot of the state that covers them, and after a restart skips records the restored state already
/// includes, so the state counts each input once while outputs stay at-least-once.
pub trait Stage: Send {
    /// Processes one batch: for each input, emit outputs, reject it, or drop it.
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter);

    /// Called periodically with the wall-clock time (ns) so a stage can flush time-bound state
    /// (partial lines, windows past their lateness bound). Default: nothing.
    fn on_tick(&mut self, _now_ns: i64, _out: &mut Emitter) {}

    /// Called at shutdown, after the last batch: emit whatever is still buffered. Default: nothing.
    fn on_close(&mut self, _out: &mut Emitter) {}

    /// The state to checkpoint, for stateful stages. Default: none (the stage is stateless).
    fn state(&mut self) -> Option<&mut dyn StageState> {
        None
    }

    /// The state to checkpoint per input partition, for stateful stages whose state follows their
    /// partitions (see [`PartitionedState`]). Default: none. A stage has at most one of this and
    /// [`Stage::state`].
    fn partitioned_state(&mut self) -> Option<&mut dyn PartitionedState> {
        None
    }
}
