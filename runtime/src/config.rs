//! The runtime's sections of a pipeline file: `[kafka]`, `[topics]`, `[runner]` and `[admin]`, each with
//! its defaults and its own validation.

use schemas::RecordKind;
use schemas::config::{Problem, Problems};
use schemas::span::Span;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// How to reach Kafka.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma-separated. Default: `127.0.0.1:9092`.
    #[serde(default = "default_brokers")]
    pub brokers: String,
    /// Create missing topics at start (CreateTopics admin API). Default: true.
    #[serde(default = "default_true")]
    pub create_topics: bool,
    /// Partitions of topics medic creates. Default: 6.
    #[serde(default = "default_partitions")]
    pub partitions: i32,
    /// Replication factor of topics medic creates. Default: 1.
    #[serde(default = "default_replication_factor")]
    pub replication_factor: i32,
    /// Each stage's consumer group is `<group_prefix>-<stage>`, and its checkpoints are keyed so: give
    /// every pipeline that shares a Kafka cluster its own. Default: `medic`.
    #[serde(default = "default_group_prefix")]
    pub group_prefix: String,
    /// Consumer group session timeout; group joins take about half of it. Default: `10s`.
    #[serde(default = "default_session_timeout")]
    pub session_timeout: Span,
    /// Upper bound on the input each stage's consumer prefetches, in bytes (librdkafka
    /// `queued.max.messages.kbytes`, rounded up to whole KiB; a fetch response is limited to the same).
    /// With `consumer_queue_records`, what keeps a stage's memory bounded when a backlog or a burst
    /// waits on its topics. Default: 4194304 (4 MiB).
    #[serde(default = "default_consumer_queue_bytes")]
    pub consumer_queue_bytes: u64,
    /// Records per input partition the consumer keeps prefetched at most (librdkafka
    /// `queued.min.messages`). Default: 1000.
    #[serde(default = "default_consumer_queue_records")]
    pub consumer_queue_records: u32,
    /// Extra librdkafka properties for the stages' consumers only, applied after `properties` (e.g.
    /// `"fetch.wait.max.ms"`; a consumer property given to a producer makes librdkafka warn). Default:
    /// none.
    #[serde(default)]
    pub consumer_properties: BTreeMap<String, String>,
    /// Extra librdkafka properties for every client (SASL, TLS, …), e.g.
    /// `"security.protocol" = "SASL_SSL"`. Default: none.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

fn default_brokers() -> String {
    "127.0.0.1:9092".to_owned()
}
fn default_true() -> bool {
    true
}
fn default_partitions() -> i32 {
    6
}
fn default_replication_factor() -> i32 {
    1
}
fn default_group_prefix() -> String {
    "medic".to_owned()
}
fn default_session_timeout() -> Span {
    Span::secs(10)
}
fn default_consumer_queue_bytes() -> u64 {
    4 << 20
}
fn default_consumer_queue_records() -> u32 {
    1000
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: default_brokers(),
            create_topics: true,
            partitions: default_partitions(),
            replication_factor: default_replication_factor(),
            group_prefix: default_group_prefix(),
            session_timeout: default_session_timeout(),
            consumer_queue_bytes: default_consumer_queue_bytes(),
            consumer_queue_records: default_consumer_queue_records(),
            properties: BTreeMap::new(),
            consumer_properties: BTreeMap::new(),
        }
    }
}

/// Topic names (the sources' topics are configured under `[[ingest.sources]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicsConfig {
    /// Normalised log records. Default: `medic.logs.normalized`.
    #[serde(default = "default_normalized")]
    pub normalized: String,
    /// Parsed records. Default: `medic.logs.parsed`.
    #[serde(default = "default_parsed")]
    pub parsed: String,
    /// Window features. Default: `medic.windows`.
    #[serde(default = "default_windows")]
    pub windows: String,
    /// Diagnoses. Default: `medic.diagnoses`.
    #[serde(default = "default_diagnoses")]
    pub diagnoses: String,
    /// Decisions. Default: `medic.decisions`.
    #[serde(default = "default_decisions")]
    pub decisions: String,
    /// A learned policy's decisions in shadow mode (never acted on). Default: `medic.decisions.shadow`.
    #[serde(default = "default_shadow_decisions")]
    pub shadow_decisions: String,
    /// Remediation commands: the actuation topic. Default: `medic.actions`.
    #[serde(default = "default_actions")]
    pub actions: String,
    /// Action results. Default: `medic.actions.results`.
    #[serde(default = "default_results")]
    pub results: String,
    /// Workload states from the cluster (the observer). Default: `medic.state`.
    #[serde(default = "default_state")]
    pub state: String,
    /// Dead letters: rejected input with the reason in headers. Default: `medic.dlq`.
    #[serde(default = "default_dlq")]
    pub dlq: String,
    /// Snapshots of stateful stages (template miner, open windows), one partition, compacted, keyed by
    /// input partition (enrich, diagnose) or by stage instance (decide). Default: `medic.checkpoints`.
    #[serde(default = "default_checkpoints")]
    pub checkpoints: String,
}

fn default_normalized() -> String {
    "medic.logs.normalized".to_owned()
}
fn default_parsed() -> String {
    "medic.logs.parsed".to_owned()
}
fn default_windows() -> String {
    "medic.windows".to_owned()
}
fn default_diagnoses() -> String {
    "medic.diagnoses".to_owned()
}
fn default_decisions() -> String {
    "medic.decisions".to_owned()
}
fn default_shadow_decisions() -> String {
    "medic.decisions.shadow".to_owned()
}
fn default_actions() -> String {
    "medic.actions".to_owned()
}
fn default_results() -> String {
    "medic.actions.results".to_owned()
}
fn default_state() -> String {
    "medic.state".to_owned()
}
fn default_dlq() -> String {
    "medic.dlq".to_owned()
}
fn default_checkpoints() -> String {
    "medic.checkpoints".to_owned()
}

impl Default for TopicsConfig {
    fn default() -> Self {
        Self {
            normalized: default_normalized(),
            parsed: default_parsed(),
            windows: default_windows(),
            diagnoses: default_diagnoses(),
            decisions: default_decisions(),
            shadow_decisions: default_shadow_decisions(),
            actions: default_actions(),
            results: default_results(),
            state: default_state(),
            dlq: default_dlq(),
            checkpoints: default_checkpoints(),
        }
    }
}

impl TopicsConfig {
    /// The topic records of `kind` go to.
    #[must_use]
    pub fn for_kind(&self, kind: RecordKind) -> &str {
        match kind {
            RecordKind::Log => &self.normalized,
            RecordKind::Parsed => &self.parsed,
            RecordKind::Window => &self.windows,
            RecordKind::Diagnosis => &self.diagnoses,
            RecordKind::Decision => &self.decisions,
            RecordKind::Command => &self.actions,
            RecordKind::ActionResult => &self.results,
            RecordKind::State => &self.state,
            RecordKind::ShadowDecision => &self.shadow_decisions,
        }
    }

    /// Every internal topic with its key name (for validation and creation).
    #[must_use]
    pub fn named(&self) -> [(&'static str, &str); 11] {
        [
            ("normalized", &self.normalized),
            ("parsed", &self.parsed),
            ("windows", &self.windows),
            ("diagnoses", &self.diagnoses),
            ("decisions", &self.decisions),
            ("shadow_decisions", &self.shadow_decisions),
            ("actions", &self.actions),
            ("results", &self.results),
            ("state", &self.state),
            ("dlq", &self.dlq),
            ("checkpoints", &self.checkpoints),
        ]
    }

    /// Puts `prefix` before every internal topic's name (the ones [`TopicsConfig::named`] lists), so
    /// a run has topics of its own.
    pub fn prefix_all(&mut self, prefix: &str) {
        for topic in [
            &mut self.normalized,
            &mut self.parsed,
            &mut self.windows,
            &mut self.diagnoses,
            &mut self.decisions,
            &mut self.shadow_decisions,
            &mut self.actions,
            &mut self.results,
            &mut self.state,
            &mut self.dlq,
            &mut self.checkpoints,
        ] {
            topic.insert_str(0, prefix);
        }
    }
}

/// Batching and delivery of the stage runner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerConfig {
    /// A batch takes no more messages once it holds this many records (a frame is never split, so a
    /// batch may pass it by one frame's records). Default: 2000.
    #[serde(default = "default_batch_max_records")]
    pub batch_max_records: usize,
    /// A batch also takes no more messages once their payloads weigh this many bytes (it may pass it by
    /// one message): what bounds a batch's memory where records are large (diagnose's windows carry up
    /// to ~0.7 MB of evidence). Default: 8388608 (8 MiB).
    #[serde(default = "default_batch_max_bytes")]
    pub batch_max_bytes: usize,
    /// Longest a batch waits to fill after its first record. Default: `50ms`.
    #[serde(default = "default_batch_linger")]
    pub batch_linger: Span,
    /// A batch also stops filling when no message came for this long (tokio's timers round it up to
    /// the next millisecond): a quiet stage (diagnose, decide, act) handles what came without waiting
    /// out `batch_linger`. Stages that write frames (ingest, enrich) ignore it: their batch is one frame
    /// per partition, and frames stay as few as `batch_linger` makes them (what the lag thresholds in
    /// `deploy/` assume). Default: `1ms`.
    #[serde(default = "default_batch_gap")]
    pub batch_gap: Span,
    /// Interval of the stages' time-based flushes. Default: `1s`.
    #[serde(default = "default_tick_interval")]
    pub tick_interval: Span,
    /// How long the producer keeps retrying one record before the delivery fails. Default: `30s`.
    #[serde(default = "default_produce_timeout")]
    pub produce_timeout: Span,
    /// How often a batch whose delivery failed is produced again before the stage stops (uncommitted,
    /// so a restart re-reads it). Default: 3.
    #[serde(default = "default_produce_retries")]
    pub produce_retries: u32,
    /// The most one produced message may weigh, in bytes (the producer's `message.max.bytes`; the
    /// brokers' and topics' own limit, 1 MiB by default, must not be smaller). An output larger than
    /// this less 4 KiB for headers is dead-lettered instead, its payload cut to fit; a dead letter's
    /// payload is cut the same way. Default: 1000000.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// The most bytes of records the runner packs into one message on the topics that carry one
    /// record per log line (`topics.normalized`, `topics.parsed`): a batch's records for one partition
    /// travel as frames of up to this size (`schemas::frame`), never above `max_message_bytes`. `0`
    /// sends one message per record, as before frames (every reader reads both). Default: 262144.
    #[serde(default = "default_frame_max_bytes")]
    pub frame_max_bytes: usize,
    /// How often a stateful stage snapshots its state to the checkpoint topic; its offsets are committed
    /// together with each snapshot, so this also bounds what a crash, or a partition moving to another
    /// replica, re-reads. Default: `5s`.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval: Span,
    /// Names this process's instance of a stage that keeps one state (decide) in its checkpoint key
    /// (`medic-decide/<instance>`), e.g. to run two pipelines' decide stages on one checkpoint topic.
    /// Stages whose state follows their partitions (enrich, diagnose) key it by partition and ignore
    /// this. Default: none.
    #[serde(default)]
    pub instance: Option<String>,
    /// How often each stage's consumer reports its lag per partition (`medic_consumer_lag`, from
    /// librdkafka's statistics: `statistics.interval.ms` of the stage consumers); `0s` turns the gauge
    /// off. Default: `5s`.
    #[serde(default = "default_lag_interval")]
    pub lag_interval: Span,
}

fn default_batch_max_records() -> usize {
    2000
}
fn default_batch_max_bytes() -> usize {
    8 << 20
}
fn default_batch_gap() -> Span {
    Span::millis(1)
}
fn default_batch_linger() -> Span {
    Span::millis(50)
}
fn default_tick_interval() -> Span {
    Span::secs(1)
}
fn default_produce_timeout() -> Span {
    Span::secs(30)
}
fn default_produce_retries() -> u32 {
    3
}
fn default_max_message_bytes() -> usize {
    1_000_000
}
fn default_frame_max_bytes() -> usize {
    256 * 1024
}
fn default_checkpoint_interval() -> Span {
    Span::secs(5)
}
fn default_lag_interval() -> Span {
    Span::secs(5)
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            batch_max_records: default_batch_max_records(),
            batch_max_bytes: default_batch_max_bytes(),
            batch_linger: default_batch_linger(),
            batch_gap: default_batch_gap(),
            tick_interval: default_tick_interval(),
            produce_timeout: default_produce_timeout(),
            produce_retries: default_produce_retries(),
            max_message_bytes: default_max_message_bytes(),
            frame_max_bytes: default_frame_max_bytes(),
            checkpoint_interval: default_checkpoint_interval(),
            instance: None,
            lag_interval: default_lag_interval(),
        }
    }
}

/// The admin HTTP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Serve `/metrics`, `/healthz` and `/readyz`. Default: true.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Listen address (`host:port`). Default: `0.0.0.0:9464`.
    #[serde(default = "default_listen", deserialize_with = "socket_address")]
    pub listen: SocketAddr,
}

/// A `host:port` socket address, or an error that names the accepted form.
fn socket_address<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "{text:?} is not a socket address (host:port, e.g. 0.0.0.0:9464)"
        ))
    })
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 9464))
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: default_listen(),
        }
    }
}

/// A legal Kafka topic name: 1–249 characters of `[a-zA-Z0-9._-]`.
pub fn is_legal_topic(name: &str) -> bool {
    (1..=249).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Records a problem at `key` unless `span` lies in `range` (both ends included).
fn require_within(
    problems: &mut Problems,
    span: Span,
    key: &str,
    range: std::ops::RangeInclusive<Span>,
) {
    problems.require(range.contains(&span), key, || {
        format!(
            "{span} must be between {} and {}",
            range.start(),
            range.end()
        )
    });
}

impl KafkaConfig {
    /// Checks the section.
    ///
    /// # Errors
    /// Every problem, under `kafka.<key>`.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut problems = Problems::new("kafka");
        problems.require(
            !self.brokers.trim().is_empty(),
            "brokers",
            || "must name at least one broker",
        );
        problems.require(self.partitions >= 1, "partitions", || {
            format!("{} must be at least 1", self.partitions)
        });
        problems.require(self.replication_factor >= 1, "replication_factor", || {
            format!("{} must be at least 1", self.replication_factor)
        });
        require_within(
            &mut problems,
            self.session_timeout,
            "session_timeout",
            Span::secs(1)..=Span::secs(300),
        );
        problems.require(is_legal_topic(&self.group_prefix), "group_prefix", || {
            format!(
                "{:?} must be 1-249 characters of [a-zA-Z0-9._-]",
                self.group_prefix
            )
        });
        problems.require(
            (1..=MAX_CONSUMER_QUEUE_BYTES).contains(&self.consumer_queue_bytes),
            "consumer_queue_bytes",
            || {
                format!(
                    "{} must be between 1 and {MAX_CONSUMER_QUEUE_BYTES} (2 GiB)",
                    self.consumer_queue_bytes
                )
            },
        );
        problems.require(
            (1..=10_000_000).contains(&self.consumer_queue_records),
            "consumer_queue_records",
            || {
                format!(
                    "{} must be between 1 and 10000000",
                    self.consumer_queue_records
                )
            },
        );
        problems.into_result()
    }

    /// `consumer_queue_bytes` in librdkafka's unit (`queued.max.messages.kbytes`), rounded up.
    #[must_use]
    pub fn consumer_queue_kib(&self) -> u64 {
        self.consumer_queue_bytes.div_ceil(1024)
    }
}

/// The most librdkafka's `queued.max.messages.kbytes` allows, in bytes.
const MAX_CONSUMER_QUEUE_BYTES: u64 = 2_097_151 * 1024;

impl RunnerConfig {
    /// Checks the section.
    ///
    /// # Errors
    /// Every problem, under `runner.<key>`.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut problems = Problems::new("runner");
        problems.require(
            (1..=100_000).contains(&self.batch_max_records),
            "batch_max_records",
            || format!("{} must be between 1 and 100000", self.batch_max_records),
        );
        problems.require(
            (1..=1 << 30).contains(&self.batch_max_bytes),
            "batch_max_bytes",
            || {
                format!(
                    "{} must be between 1 and 1073741824 (1 GiB)",
                    self.batch_max_bytes
                )
            },
        );
        require_within(
            &mut problems,
            self.batch_linger,
            "batch_linger",
            Span::millis(0)..=Span::secs(60),
        );
        require_within(
            &mut problems,
            self.batch_gap,
            "batch_gap",
            Span::millis(0)..=Span::secs(60),
        );
        require_within(
            &mut problems,
            self.tick_interval,
            "tick_interval",
            Span::millis(10)..=Span::secs(60),
        );
        require_within(
            &mut problems,
            self.checkpoint_interval,
            "checkpoint_interval",
            Span::millis(100)..=Span::secs(600),
        );
        problems.require(
            self.lag_interval == Span::millis(0)
                || (Span::millis(100)..=Span::secs(600)).contains(&self.lag_interval),
            "lag_interval",
            || {
                format!(
                    "{} must be 0s (off) or between 100ms and 10m",
                    self.lag_interval
                )
            },
        );
        if let Some(instance) = &self.instance {
            problems.require(
                !instance.is_empty() && !instance.contains('/'),
                "instance",
                || format!("{instance:?} must be a non-empty name without '/'"),
            );
        }
        problems.require(
            (65_536..=1_000_000_000).contains(&self.max_message_bytes),
            "max_message_bytes",
            || {
                format!(
                    "{} must be between 65536 and 1000000000",
                    self.max_message_bytes
                )
            },
        );
        problems.require(
            self.frame_max_bytes == 0 || self.frame_max_bytes >= 1024,
            "frame_max_bytes",
            || format!("{} must be 0 (off) or at least 1024", self.frame_max_bytes),
        );
        problems.require(
            self.produce_timeout >= Span::secs(1),
            "produce_timeout",
            || format!("{} is below 1s", self.produce_timeout),
        );
        problems.into_result()
    }
}

impl KafkaConfig {
    /// The consumer group of stage `stage`: `<group_prefix>-<stage>`.
    #[must_use]
    pub fn group_id(&self, stage: &str) -> String {
        format!("{}-{stage}", self.group_prefix)
    }
}

/// The sections a stage runner needs, borrowed from the pipeline.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeConfig<'a> {
    /// How to reach Kafka.
    pub kafka: &'a KafkaConfig,
    /// Topic names (outputs, dead letters, checkpoints).
    pub topics: &'a TopicsConfig,
    /// Batching, delivery and checkpointing.
    pub runner: &'a RunnerConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_reaches_every_internal_topic() {
        let mut topics = TopicsConfig::default();
        topics.prefix_all("run-7.");
        for (name, topic) in topics.named() {
            assert!(topic.starts_with("run-7.medic."), "{name}: {topic}");
        }
    }
}
