//! [`Sink`]: where a stage's outputs go, in two steps so the runner can read on while the broker
//! acknowledges.
//!
//! ```text
//!   Emitter ─► Sink::dispatch: frames, oversized outputs and dead letters become messages,
//!              each handed to the producer in order          ─► Dispatched (owns the messages)
//!   Dispatched ─► Sink::acknowledged: await every acknowledgement, produce the failed messages
//!                 again (produce_retries rounds, backing off) ─► the stage's output metrics
//! ```
//!
//! Messages are handed to the producer in the order of the batches they come from, so with the
//! idempotent producer a partition receives them in that order. Only a message the producer refused or
//! whose delivery still failed after librdkafka's own retries is produced again, after the next batch's
//! messages were handed over, and may then land after them (as it could before within one batch).

use crate::config::TopicsConfig;
use crate::kafka::dlq::as_dead_letter;
use crate::kafka::frames::{Frame, FramePacker, PartitionCounts, Route, framed_kind};
use crate::kafka::oversize::{MessageLimit, mark_truncated};
use crate::kafka::{Checkpoint, RunnerError, delivered, dlq_headers};
use crate::telemetry::metrics::{OutputTally, StageMetrics};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use schemas::Emitter;
use std::collections::BTreeMap;
use std::time::Duration;

/// One message to produce: a record, a frame of records, a dead letter or a checkpoint.
struct Outgoing {
    topic: String,
    /// A frame's partition; otherwise the producer's partitioner chooses by key.
    partition: Option<i32>,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    headers: Option<OwnedHeaders>,
}

/// What handing a message to the producer gave: its acknowledgement to await, or the error that
/// refused it (it is produced again with the failed ones).
enum Handed {
    Sent(DeliveryFuture),
    Refused(KafkaError),
}

/// What a dispatched batch adds to the stage's metrics once every message is acknowledged.
#[derive(Default)]
struct Counts {
    outputs: OutputTally,
    dead_letters: BTreeMap<schemas::ErrorKind, u64>,
    dropped: u64,
    frames: u64,
    events: BTreeMap<&'static str, u64>,
}

/// A batch's outputs, handed to the producer, whose acknowledgements are still to come.
#[must_use = "outputs are delivered only once `Sink::acknowledged` has awaited them"]
pub(crate) struct Dispatched {
    messages: Vec<Outgoing>,
    handed: Vec<Handed>,
    counts: Counts,
}

/// Where a stage's outputs go: the shared producer, the topic map and the stage's metrics. Kept apart
/// from the stage itself so delivery can be awaited while the stage (which need not be `Sync`) is idle.
pub(crate) struct Sink {
    pub(crate) stage: &'static str,
    pub(crate) producer: FutureProducer,
    pub(crate) topics: TopicsConfig,
    pub(crate) produce_retries: u32,
    /// What one message may weigh; larger outputs are dead-lettered instead.
    pub(crate) limit: MessageLimit,
    /// The most bytes of records in one frame; 0: no frames.
    pub(crate) frame_max_bytes: usize,
    /// Partition counts of the framed topics.
    pub(crate) partitions: PartitionCounts,
    /// Whether frames may go to partitions computed here (see [`crate::kafka::frames::partitions_computable`]).
    pub(crate) route_by_partition: bool,
    pub(crate) metrics: StageMetrics,
    /// The topics read as frames ([`crate::kafka::frames::framed_topics`]): a rejected record from one
    /// of them is dead-lettered as its JSON form; the runner reads its inputs by the same list.
    pub(crate) framed: Vec<String>,
}

/// `e` with its payload as JSON when it is a compact record (sent one per message, outside a frame).
fn json_if_compact(mut e: schemas::Emitted) -> schemas::Emitted {
    e.payload = schemas::compact::into_json(e.payload);
    e
}

impl Sink {
    /// Produces everything in `out` and waits for every acknowledgement, retrying failed messages.
    pub(crate) async fn deliver(&self, out: Emitter) -> Result<(), RunnerError> {
        let dispatched = self.dispatch(out).await;
        self.acknowledged(dispatched).await
    }

    /// Turns `out` into messages and hands each to the producer, in order; their acknowledgements are
    /// awaited by [`Sink::acknowledged`].
    pub(crate) async fn dispatch(&self, mut out: Emitter) -> Dispatched {
        let stage = self.stage;
        let schemas::Collected {
            emitted,
            rejections,
            dropped,
            events,
        } = out.take();
        let limit = self.limit;
        // Compact records travel only inside frames: one per message, every record is JSON, as readers
        // outside medic expect; a rejected compact record is dead-lettered as JSON when it decodes
        // (`as_dead_letter`). A rejected input from any other topic (a raw source) is dead-lettered
        // exactly as it came, whatever its bytes.
        let emitted: Vec<schemas::Emitted> = if self.frame_max_bytes == 0 {
            emitted.into_iter().map(json_if_compact).collect()
        } else {
            emitted
        };
        // An output too large for one message is dead-lettered (cut to fit) instead of produced.
        let (fitting, oversized): (Vec<schemas::Emitted>, Vec<schemas::Emitted>) = emitted
            .into_iter()
            .partition(|e| limit.fits(e.key.as_deref().map(str::as_bytes), &e.payload));
        let mut counts = Counts {
            outputs: OutputTally::of(fitting.iter()),
            dropped,
            events,
            ..Counts::default()
        };
        if counts.outputs.unreadable > 0 {
            tracing::error!(
                outputs = counts.outputs.unreadable,
                "outputs just encoded do not decode for their metrics (a bug)"
            );
        }
        let (framed, single): (Vec<schemas::Emitted>, Vec<schemas::Emitted>) = fitting
            .into_iter()
            .partition(|e| self.frame_max_bytes > 0 && framed_kind(e.kind));
        let frames = self.frames(&framed).await;
        drop(framed);
        counts.frames = frames.len() as u64;
        let mut messages: Vec<Outgoing> = single
            .into_iter()
            .map(|e| Outgoing {
                topic: self.topics.for_kind(e.kind).to_owned(),
                partition: None,
                key: e.key.map(String::into_bytes),
                payload: e.payload,
                headers: None,
            })
            .collect();
        messages.extend(frames.into_iter().map(|frame| {
            let (partition, key) = match frame.route {
                Route::Partition(partition) => (Some(partition), None),
                Route::Keyed(key) => (None, key),
            };
            Outgoing {
                topic: frame.topic,
                partition,
                key,
                payload: frame.payload,
                headers: None,
            }
        }));
        for e in &oversized {
            let json = schemas::compact::to_json(&e.payload)
                .unwrap_or(std::borrow::Cow::Borrowed(&e.payload));
            let topic = self.topics.for_kind(e.kind);
            tracing::warn!(
                topic,
                bytes = e.payload.len(),
                "output too large for one message: dead-lettered, cut to fit"
            );
            let key = limit.key(e.key.as_deref().map(str::as_bytes));
            let headers = limit.output_headers(stage, topic, json.len());
            messages.push(self.dead_letter(key, &json, headers));
        }
        if !oversized.is_empty() {
            *counts
                .dead_letters
                .entry(schemas::ErrorKind::TooLarge)
                .or_default() += oversized.len() as u64;
        }
        for r in rejections {
            let r = as_dead_letter(r, &self.framed, limit);
            tracing::warn!(
                error_kind = r.error.kind.as_str(),
                reason = %r.error.reason,
                topic = %r.coordinates.topic,
                partition = r.coordinates.partition,
                offset = r.coordinates.offset,
                "record dead-lettered"
            );
            *counts.dead_letters.entry(r.error.kind).or_default() += 1;
            let key = limit.key(r.key.as_deref());
            let mut headers = dlq_headers(stage, &r);
            if !limit.fits(key, &r.payload) {
                headers = mark_truncated(headers, r.payload.len());
            }
            messages.push(self.dead_letter(key, &r.payload, headers));
        }
        self.hand_all(messages, counts).await
    }

    /// A message for the dead-letter topic under `key` (already within the limit's bound for keys):
    /// `payload` cut to fit.
    fn dead_letter(&self, key: Option<&[u8]>, payload: &[u8], headers: OwnedHeaders) -> Outgoing {
        Outgoing {
            topic: self.topics.dlq.clone(),
            partition: None,
            key: key.map(<[u8]>::to_vec),
            payload: self.limit.cut(key, payload).to_vec(),
            headers: Some(headers),
        }
    }

    /// Hands every message to the producer, in order; what a successful delivery adds to the metrics
    /// is `counts`.
    async fn hand_all(&self, messages: Vec<Outgoing>, counts: Counts) -> Dispatched {
        let mut handed = Vec::with_capacity(messages.len());
        for message in &messages {
            handed.push(self.hand(message).await);
        }
        Dispatched {
            messages,
            handed,
            counts,
        }
    }

    /// Waits for every acknowledgement of `dispatched`, producing the failed messages again (up to
    /// `produce_retries` more rounds, backing off) before giving up with [`RunnerError::Delivery`];
    /// then counts the outputs in the stage's metrics.
    pub(crate) async fn acknowledged(&self, dispatched: Dispatched) -> Result<(), RunnerError> {
        let Dispatched {
            messages,
            mut handed,
            counts,
        } = dispatched;
        let mut pending: Vec<usize> = (0..messages.len()).collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let results = futures::future::join_all(handed.into_iter().map(|h| async move {
                match h {
                    Handed::Sent(delivery) => delivered(delivery.await),
                    Handed::Refused(error) => Err(error),
                }
            }))
            .await;
            let mut last_error = None;
            pending = pending
                .into_iter()
                .zip(results)
                .filter_map(|(i, result)| result.err().map(|e| (i, e)))
                .map(|(i, e)| {
                    last_error = Some(e);
                    i
                })
                .collect();
            handed = Vec::new();
            if let Some(source) = last_error {
                if attempt > self.produce_retries {
                    return Err(RunnerError::Delivery {
                        stage: self.stage,
                        failed: pending.len(),
                        attempts: attempt,
                        source,
                    });
                }
                self.metrics.produce_retries.inc_by(pending.len() as u64);
                tracing::warn!(error = %source, failed = pending.len(), attempt, "delivery failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                for &i in &pending {
                    handed.push(self.hand(&messages[i]).await);
                }
            }
        }
        self.count(counts);
        Ok(())
    }

    /// Adds a delivered batch's counts to the stage's metrics: one update per label seen.
    fn count(&self, counts: Counts) {
        self.metrics.add_outputs(&counts.outputs);
        for (kind, n) in counts.dead_letters {
            self.metrics.add_dlq(kind, n);
        }
        self.metrics.dropped.inc_by(counts.dropped);
        if counts.frames > 0 {
            self.metrics
                .add_event("runner.frames_written", counts.frames);
        }
        for (event, n) in counts.events {
            self.metrics.add_event(event, n);
        }
    }

    /// Produces each checkpoint under its key and waits for every acknowledgement (with the usual
    /// retries).
    pub(crate) async fn deliver_checkpoints(
        &self,
        checkpoints: &[(String, Checkpoint)],
    ) -> Result<(), RunnerError> {
        let mut messages = Vec::with_capacity(checkpoints.len());
        for (key, checkpoint) in checkpoints {
            let (payload, headers) = checkpoint.encode().map_err(|e| RunnerError::Checkpoint {
                stage: self.stage,
                reason: format!("cannot encode the snapshot: {e}"),
            })?;
            // A snapshot too large for one message would fail every delivery: say why instead.
            if !self.limit.fits(Some(key.as_bytes()), &payload) {
                return Err(RunnerError::Checkpoint {
                    stage: self.stage,
                    reason: format!(
                        "the snapshot {key} is {} bytes, more than runner.max_message_bytes allows \
                         ({} less headers): lower enrich.max_templates, the evidence_templates or \
                         max_open_windows of enrich.windows, or diagnose.max_episodes, or raise \
                         runner.max_message_bytes with the checkpoint topic's max.message.bytes",
                        payload.len(),
                        self.limit.max()
                    ),
                });
            }
            messages.push(Outgoing {
                topic: self.topics.checkpoints.clone(),
                partition: None,
                key: Some(key.clone().into_bytes()),
                payload,
                headers: Some(headers),
            });
        }
        let bytes: usize = messages.iter().map(|m| m.payload.len()).sum();
        let written = messages.len() as u64;
        let dispatched = self.hand_all(messages, Counts::default()).await;
        self.acknowledged(dispatched).await?;
        self.metrics.checkpoints.inc_by(written);
        self.metrics.checkpoint_bytes.set(bytes as i64);
        Ok(())
    }

    /// Packs `records` (of the framed kinds) into frames for their topics' partitions.
    async fn frames(&self, records: &[schemas::Emitted]) -> Vec<Frame> {
        if records.is_empty() {
            return Vec::new();
        }
        let mut counts: BTreeMap<&str, Option<i32>> = BTreeMap::new();
        let mut packer = FramePacker::new(self.frame_max_bytes.min(self.limit.room()));
        for e in records {
            let topic = self.topics.for_kind(e.kind);
            let partitions = match counts.get(topic) {
                _ if !self.route_by_partition => None,
                Some(count) => *count,
                None => {
                    let count = self.partitions.of(&self.producer, topic).await;
                    counts.insert(topic, count);
                    count
                }
            };
            packer.push(
                topic,
                partitions,
                e.key.as_deref().map(str::as_bytes),
                &e.payload,
            );
        }
        packer.finish()
    }

    /// Hands one message to the producer (waiting while its local queue is full); the acknowledgement
    /// comes later.
    async fn hand(&self, message: &Outgoing) -> Handed {
        let mut record = FutureRecord::<[u8], [u8]>::to(&message.topic).payload(&message.payload);
        if let Some(key) = &message.key {
            record = record.key(key);
        }
        if let Some(partition) = message.partition {
            record = record.partition(partition);
        }
        if let Some(headers) = &message.headers {
            record = record.headers(headers.clone());
        }
        loop {
            match self.producer.send_result(record) {
                Ok(delivery) => return Handed::Sent(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err((error, _)) => return Handed::Refused(error),
            }
        }
    }
}
