//! The replay engine: every stage in this process on an in-process Kafka-protocol broker (librdkafka's
//! mock cluster, so the same client code runs as in production), fed with historical inputs at their
//! original pace × a factor or as fast as possible, drained stage by stage at the end of the input.
//!
//! Determinism: every topic has one partition and the inputs are fed in event-time order, so each
//! stage reads its input in the same order on every run; windows close on event time (the wall-clock
//! idle closures do not change a window's content, because no record of a window can arrive after the
//! feed has moved past it); the end of the input closes what is still open by draining the stages in
//! pipeline order (each stage's shutdown flush reaches the next stage before that one stops). Ids are
//! hashes of their inputs, so the same input gives the same diagnoses and decisions.
//!
//! Nothing is lost silently: the mock broker keeps at most 5 MB per partition and drops the oldest
//! records beyond it, read or not, so the feed lets at most [`IN_FLIGHT_RECORDS`] (and about
//! [`IN_FLIGHT_BYTES`] of lines) into the pipeline ahead of its stages, and a hop whose broker dropped
//! records its reader had not read fails the replay ([`ReplayError::Dropped`]).

use super::bundle::Input;
use super::recording::{Observed, Recording};
use crate::app::run_stages;
use crate::config::PipelineConfig;
use crate::stages::StageName;
use futures::FutureExt;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use runtime::embedded::EmbeddedBroker;
use runtime::kafka::{consumer_config, delivered, producer_config};
use runtime::supervisor::PipelineError;
use runtime::telemetry::health::Health;
use runtime::telemetry::metrics::Metrics;
use schemas::RecordKind;
use schemas::span::Span;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How fast the inputs are fed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Back to back.
    AsFastAsPossible,
    /// At the original spacing of the event times, divided by this factor (1 = real time).
    Speed(f64),
}

/// Records the feed lets into the pipeline that a stage has not yet read, summed over every hop (the
/// source topic and each stage's output read by the next). librdkafka's mock broker keeps at most 5 MB
/// per partition and silently drops the oldest records beyond it; 2 000 records stay under it up to
/// 2.5 KB a record, and still keep every stage's batches full.
pub const IN_FLIGHT_RECORDS: u64 = 2_000;

/// Bytes of lines the feed lets into the pipeline ahead of its stages (the lines last fed, as many as
/// are in flight), so that a bundle of long lines stays under the mock broker's 5 MB as well: a parsed
/// record carries its line two or three times over (message, template, parameters, JSON escapes), and
/// each stage may hold a batch it has read but not yet written. One line longer than this is still
/// fed, alone.
pub const IN_FLIGHT_BYTES: u64 = 512 << 10;

/// How often the topics are checked for records the broker dropped.
const LOSS_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Options of a replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// How fast the inputs are fed.
    pub pace: Pace,
    /// Give up after this long.
    pub timeout: Duration,
    /// Partitions of each topic. One keeps the replay deterministic.
    pub partitions: i32,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            pace: Pace::AsFastAsPossible,
            timeout: Duration::from_secs(300),
            partitions: 1,
        }
    }
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The in-process broker or a client failed.
    #[error("in-process Kafka broker: {0}")]
    Kafka(#[from] KafkaError),
    /// A stage failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The pipeline did not finish in time.
    #[error("the replay did not finish within {0:?} (see the log above)")]
    Timeout(Duration),
    /// A stage stopped before the end of the input, without an error.
    #[error("stage {0} stopped before the end of the input")]
    StoppedEarly(&'static str),
    /// The in-process broker dropped the oldest records of a topic (it keeps at most 5 MB per
    /// partition): the replay would be missing them.
    #[error(
        "the in-process broker dropped {messages} messages of {topic} before they were read; records \
         this large need fewer in flight than {IN_FLIGHT_RECORDS} records or {IN_FLIGHT_BYTES} bytes"
    )]
    Dropped {
        /// The topic.
        topic: String,
        /// Messages (a frame is one) dropped before their reader read them.
        messages: i64,
    },
}

/// What a replay produced.
pub struct Replayed {
    /// Every output record, in the order the topics delivered them.
    pub recording: Recording,
    /// The stages' counters.
    pub metrics: Metrics,
    /// Records fed into the source topic.
    pub fed: u64,
    /// Wall time of the replay.
    pub elapsed: Duration,
}

/// What each stage hands to the next: `(stage, the kind it produces, the stage that reads it)`.
const HANDOFFS: [(StageName, RecordKind, StageName); 5] = [
    (StageName::Ingest, RecordKind::Log, StageName::Enrich),
    (StageName::Enrich, RecordKind::Window, StageName::Diagnose),
    (
        StageName::Diagnose,
        RecordKind::Diagnosis,
        StageName::Decide,
    ),
    (StageName::Decide, RecordKind::Decision, StageName::Act),
    (StageName::Act, RecordKind::Command, StageName::Actuator),
];

/// The outputs the recording sees, per producing stage.
const RECORDED: [(StageName, RecordKind); 6] = [
    (StageName::Enrich, RecordKind::Window),
    (StageName::Diagnose, RecordKind::Diagnosis),
    (StageName::Decide, RecordKind::Decision),
    (StageName::Decide, RecordKind::ShadowDecision),
    (StageName::Act, RecordKind::Command),
    (StageName::Actuator, RecordKind::ActionResult),
];

/// The pipeline `base` rewired for a replay on the in-process `broker` (see
/// [`EmbeddedBroker::configure`]): short batching, no admin server, and the actuator in `log` mode — a
/// replay never changes a cluster.
#[must_use]
pub fn replay_config(mut base: PipelineConfig, broker: &EmbeddedBroker) -> PipelineConfig {
    broker.configure(&mut base.kafka);
    base.runner.batch_linger = Span::millis(20);
    base.runner.tick_interval = Span::millis(200);
    base.admin.enabled = false;
    base.act.mode = act::ActuatorMode::Log;
    base.act.journal = None;
    // The end of the input closes the last windows, which diagnose then reads.
    base.enrich.flush_on_close = true;
    base
}

struct RunningStage {
    name: StageName,
    stop: CancellationToken,
    task: JoinHandle<Result<(), PipelineError>>,
}

/// Replays `inputs` through every stage of `base` (see the module docs), calling `observe` for each
/// output record as it arrives. The workload `states` (a bundle's observer records) go to the state
/// topic first, and are all read by decide before the first input is fed: decide looks a diagnosis'
/// state up by time, so it decides on the state of the diagnosis' time whatever it has read.
///
/// # Errors
/// [`ReplayError`] when the broker or a stage fails, or the replay times out.
pub async fn replay(
    base: PipelineConfig,
    inputs: &[Input],
    states: &[Input],
    options: &ReplayOptions,
    observe: &mut (dyn FnMut(Observed<'_>) + Send),
) -> Result<Replayed, ReplayError> {
    let started = Instant::now();
    let deadline = started + options.timeout;
    let broker = EmbeddedBroker::start()?;
    let config = replay_config(base, &broker);
    broker.create_topics(&config.topics, &config.all_topics(), options.partitions)?;
    let metrics = Metrics::new();
    let health = Arc::new(Health::new(Duration::from_secs(60)));
    let mut stages: Vec<RunningStage> = StageName::ALL
        .iter()
        .map(|&name| {
            let stop = CancellationToken::new();
            let (config, metrics, health, token) = (
                config.clone(),
                metrics.clone(),
                Arc::clone(&health),
                stop.clone(),
            );
            let task = tokio::spawn(async move {
                run_stages(&config, &[name], &metrics, &health, token).await
            });
            RunningStage { name, stop, task }
        })
        .collect();

    let monitor = monitor(&config, options.partitions)?;
    let mut recording = Recording::default();
    let source_topic = config.ingest.sources[0].topic();
    let producer: FutureProducer = producer_config(&config.kafka, &config.runner).create()?;
    // Decide reads the states besides the diagnoses: what it has read of the diagnoses leaves them out.
    let states_fed = states.len() as u64;
    let read = {
        let metrics = metrics.clone();
        move |stage: StageName| {
            let read = metrics.records_in(stage.as_str());
            if stage == StageName::Decide {
                read.saturating_sub(states_fed)
            } else {
                read
            }
        }
    };
    let in_flight = {
        let (metrics, read) = (metrics.clone(), read.clone());
        move |fed: u64| in_flight(&metrics, &read, fed)
    };
    let hops = hops(&config, source_topic.clone());
    let mut wait = Wait {
        monitor: &monitor,
        topics: &config.topics,
        hops: &hops,
        metrics: &metrics,
        partitions: options.partitions,
        last_loss_check: Instant::now(),
        recording: &mut recording,
        observe,
        deadline,
        timeout: options.timeout,
    };
    if !states.is_empty() {
        // Decide reads nothing else yet: what it has not read of the states is in flight.
        let unread = {
            let metrics = metrics.clone();
            move |fed: u64| fed.saturating_sub(metrics.records_in(StageName::Decide.as_str()))
        };
        let topic = config.topics.state.clone();
        let fed = tokio::spawn(feed(
            producer.clone(),
            topic,
            states.to_vec(),
            Pace::AsFastAsPossible,
            unread,
        ));
        wait.fed_then(&mut stages, fed, |_| {
            metrics.records_in(StageName::Decide.as_str()) >= states_fed
        })
        .await?;
    }
    let feed = tokio::spawn(feed(
        producer,
        source_topic,
        inputs.to_vec(),
        options.pace,
        in_flight,
    ));
    let fed = inputs.len() as u64;

    // Run until the input is fed and every stage has consumed what the previous one produced.
    wait.fed_then(&mut stages, feed, |_| {
        metrics.records_in(StageName::Ingest.as_str()) >= fed
    })
    .await?;
    // End of input: stop the stages in pipeline order, each after it has read all its input, so each
    // one's shutdown flush (open windows) reaches the next before that one stops.
    for (from, kind, to) in HANDOFFS {
        let position = stages.iter().position(|s| s.name == from).unwrap_or(0);
        let stage = stages.remove(position);
        stage.stop.cancel();
        stage
            .task
            .await
            .map_err(|e| PipelineError::Panicked(e.to_string()))??;
        let produced = metrics.records_out(from.as_str(), kind);
        wait.until(&mut stages, |_| read(to) >= produced).await?;
    }
    for stage in stages.drain(..) {
        stage.stop.cancel();
        stage
            .task
            .await
            .map_err(|e| PipelineError::Panicked(e.to_string()))??;
    }
    let dead_letters: u64 = StageName::ALL
        .iter()
        .map(|s| metrics.dead_lettered(s.as_str()))
        .sum();
    let complete = |seen: &Recording| {
        RECORDED
            .iter()
            .all(|&(stage, kind)| seen.count(kind) >= metrics.records_out(stage.as_str(), kind))
            && seen.dead_letters.len() as u64 >= dead_letters
    };
    wait.until(&mut stages, complete).await?;
    Ok(Replayed {
        recording,
        metrics,
        fed,
        elapsed: started.elapsed(),
    })
}

/// A topic a stage reads.
struct Hop {
    topic: String,
    reader: StageName,
}

/// The source topic and each [`HANDOFFS`] topic, with their readers.
fn hops(config: &PipelineConfig, source: String) -> Vec<Hop> {
    let t = &config.topics;
    let mut hops = vec![Hop {
        topic: source,
        reader: StageName::Ingest,
    }];
    hops.extend(HANDOFFS.iter().map(|&(_, kind, reader)| Hop {
        topic: t.for_kind(kind).to_owned(),
        reader,
    }));
    hops
}

/// Records fed but not yet read by every stage: the source topic's backlog plus each hop's (`read`:
/// what a stage has read of its hop).
fn in_flight(metrics: &Metrics, read: &impl Fn(StageName) -> u64, fed: u64) -> u64 {
    let source = fed.saturating_sub(read(StageName::Ingest));
    HANDOFFS.iter().fold(source, |sum, &(from, kind, to)| {
        sum + metrics
            .records_out(from.as_str(), kind)
            .saturating_sub(read(to))
    })
}

/// A consumer assigned to every output topic from the beginning (no group join to wait for).
fn monitor(config: &PipelineConfig, partitions: i32) -> Result<StreamConsumer, KafkaError> {
    let monitor: StreamConsumer =
        consumer_config(&config.kafka, "medic-replay-monitor").create()?;
    let t = &config.topics;
    let mut assignment = TopicPartitionList::new();
    for topic in [
        &t.windows,
        &t.diagnoses,
        &t.decisions,
        &t.shadow_decisions,
        &t.actions,
        &t.results,
        &t.dlq,
    ] {
        for partition in 0..partitions {
            assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
        }
    }
    monitor.assign(&assignment)?;
    Ok(monitor)
}

/// Produces `inputs` to `topic` with their event times as record timestamps, paced by `pace`, and
/// never more than [`IN_FLIGHT_RECORDS`] or [`IN_FLIGHT_BYTES`] ahead of the pipeline (`in_flight(fed)`
/// tells how many records are).
async fn feed(
    producer: FutureProducer,
    topic: String,
    inputs: Vec<Input>,
    pace: Pace,
    in_flight: impl Fn(u64) -> u64,
) -> Result<(), KafkaError> {
    let Some(first) = inputs.first().map(|i| i.event_time_ns) else {
        return Ok(());
    };
    let started = tokio::time::Instant::now();
    let mut deliveries: VecDeque<DeliveryFuture> = VecDeque::with_capacity(inputs.len());
    // Bytes of the inputs before each one.
    let mut fed_bytes = Vec::with_capacity(inputs.len() + 1);
    fed_bytes.push(0u64);
    for (fed, input) in (0u64..).zip(&inputs) {
        let size = (input.key.len() + input.payload.len()) as u64;
        loop {
            let records = in_flight(fed).min(fed);
            let bytes = fed_bytes[fed as usize] - fed_bytes[(fed - records) as usize];
            if records == 0 || (records < IN_FLIGHT_RECORDS && bytes + size <= IN_FLIGHT_BYTES) {
                break;
            }
            // A record the broker refused never reaches ingest: fail now, not at the timeout.
            while let Some(outcome) = deliveries.front_mut().and_then(|d| d.now_or_never()) {
                deliveries.pop_front();
                delivered(outcome)?;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        fed_bytes.push(fed_bytes[fed as usize] + size);
        if let Pace::Speed(factor) = pace {
            let offset_secs = (input.event_time_ns - first).max(0) as f64 / 1e9 / factor.max(1e-6);
            tokio::time::sleep_until(started + Duration::from_secs_f64(offset_secs)).await;
        }
        let record = FutureRecord::to(&topic)
            .key(&input.key)
            .payload(&input.payload)
            .timestamp(input.event_time_ns / 1_000_000);
        deliveries.push_back(producer.send_result(record).map_err(|(e, _)| e)?);
    }
    for delivery in deliveries {
        delivered(delivery.await)?;
    }
    Ok(())
}

/// Reads the monitor while waiting for a condition, failing on a stage error or the deadline.
struct Wait<'a, 'o> {
    monitor: &'a StreamConsumer,
    topics: &'a runtime::config::TopicsConfig,
    /// Each topic a stage reads, and how many records it has read.
    hops: &'a [Hop],
    metrics: &'a Metrics,
    partitions: i32,
    last_loss_check: Instant,
    recording: &'a mut Recording,
    observe: &'a mut (dyn FnMut(Observed<'_>) + Send + 'o),
    deadline: Instant,
    timeout: Duration,
}

impl Wait<'_, '_> {
    /// Fails when the broker has dropped messages of a hop's topic that its reader had not read yet
    /// (messages, not records: on the framed topics one message holds many).
    fn check_losses(&self) -> Result<(), ReplayError> {
        for hop in self.hops {
            let read = self
                .metrics
                .stage_event(hop.reader.as_str(), runtime::kafka::MESSAGES_READ);
            let topic = &hop.topic;
            let mut dropped = 0;
            for partition in 0..self.partitions {
                match self
                    .monitor
                    .fetch_watermarks(topic, partition, Duration::from_secs(1))
                {
                    Ok((low, _)) => dropped += low,
                    Err(error) => {
                        // A slow answer is not a loss: asked again next round.
                        tracing::debug!(topic, error = %error, "replay: watermarks not read");
                        return Ok(());
                    }
                }
            }
            let unread = dropped - i64::try_from(read).unwrap_or(i64::MAX).min(dropped);
            if unread > 0 {
                return Err(ReplayError::Dropped {
                    topic: topic.clone(),
                    messages: unread,
                });
            }
        }
        Ok(())
    }

    /// Waits until `feed` has finished (failing with its error), then until `read` holds (its reader
    /// has read what it fed).
    async fn fed_then(
        &mut self,
        stages: &mut [RunningStage],
        feed: JoinHandle<Result<(), KafkaError>>,
        read: impl FnMut(&Recording) -> bool,
    ) -> Result<(), ReplayError> {
        self.until(stages, |_| feed.is_finished()).await?;
        feed.await
            .map_err(|e| PipelineError::Panicked(e.to_string()))??;
        self.until(stages, read).await
    }

    async fn until(
        &mut self,
        stages: &mut [RunningStage],
        mut done: impl FnMut(&Recording) -> bool,
    ) -> Result<(), ReplayError> {
        loop {
            if let Some(stage) = stages.iter_mut().find(|s| s.task.is_finished()) {
                let name = stage.name.as_str();
                return Err(match (&mut stage.task).await {
                    Ok(Err(error)) => error.into(),
                    Ok(Ok(())) => ReplayError::StoppedEarly(name),
                    Err(join) => PipelineError::Panicked(join.to_string()).into(),
                });
            }
            if done(self.recording) {
                return Ok(());
            }
            if self.last_loss_check.elapsed() >= LOSS_CHECK_INTERVAL {
                self.last_loss_check = Instant::now();
                if let Err(error) = self.check_losses() {
                    for stage in stages.iter() {
                        stage.stop.cancel();
                    }
                    return Err(error);
                }
            }
            if Instant::now() > self.deadline {
                for stage in stages.iter() {
                    stage.stop.cancel();
                }
                return Err(ReplayError::Timeout(self.timeout));
            }
            match tokio::time::timeout(Duration::from_millis(100), self.monitor.recv()).await {
                Err(_) => {}
                Ok(Err(error)) => tracing::warn!(error = %error, "replay monitor error"),
                Ok(Ok(message)) => {
                    if let Some(observed) = self.recording.record(self.topics, &message) {
                        (self.observe)(observed);
                    }
                }
            }
        }
    }
}
