//! Shared set-up for the runner tests on librdkafka's mock cluster, and helpers for the tests against the
//! external broker.

use medic::config::PipelineConfig;
use medic::stages::StageName;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::FutureProducer;
use rdkafka::{Offset, TopicPartitionList};
use runtime::embedded::EmbeddedBroker;
use runtime::kafka::consumer_config;
use runtime::kafka::{StageRunner, producer_config};
use runtime::telemetry::health::Health;
use runtime::telemetry::metrics::Metrics;
use schemas::ParsedRecord;
use schemas::span::Span;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A one-broker mock cluster with every pipeline topic (one partition each), a pipeline pointing at it
/// with short timeouts, and a plain producer to feed source topics.
pub fn mock_pipeline() -> (EmbeddedBroker, PipelineConfig, FutureProducer) {
    let broker = EmbeddedBroker::start().expect("embedded broker");
    let mut config = PipelineConfig::default();
    broker.configure(&mut config.kafka);
    config.runner.batch_linger = Span::millis(20);
    broker
        .create_topics(&config.topics, &config.all_topics(), 1)
        .expect("topics");
    let feeder: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap_servers())
        .create()
        .expect("feeder");
    (broker, config, feeder)
}

/// A runner for stage `name` with its own producer.
pub fn runner(name: StageName, config: &PipelineConfig, metrics: &Metrics) -> StageRunner {
    let producer: FutureProducer = producer_config(&config.kafka, &config.runner)
        .create()
        .expect("producer");
    let health = Arc::new(Health::new(Duration::from_secs(60)));
    name.runner(config, producer, metrics, health)
        .expect("runner")
}

/// The test Kubernetes API server is shared, and a drain evicts every pod on its node, whatever test
/// created it: tests that run their own pods beside another test's drains take this exclusively; the
/// actuator end-to-end tests (which keep to their own nodes' budgets) share it.
pub static CLUSTER: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The machine: the tests whose outcome depends on having it to themselves — a peak-RSS bound, a broker
/// killed and restarted, six stage processes killed mid-stream against timeouts —
/// take it exclusively; every other test that starts stage processes or runs the whole pipeline takes
/// it shared (the test harness runs two tests at a time).
pub static MACHINE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// [`MACHINE`], shared, from a test that is not async.
pub fn share_machine() -> tokio::sync::RwLockReadGuard<'static, ()> {
    MACHINE.blocking_read()
}

/// What enrich's per-partition checkpoints (group `group`, input `normalized`) hold together: the
/// normalised messages they cover and the records their template miners absorbed (the sum of the
/// clusters' sizes: a record taken into a state twice counts twice).
pub fn enrich_checkpointed(
    brokers: &str,
    checkpoints: &str,
    group: &str,
    normalized: &str,
) -> (usize, u64) {
    let by_partition =
        testkit::kafka::partition_checkpoints(brokers, checkpoints, group, normalized);
    assert!(!by_partition.is_empty(), "enrich checkpointed");
    let mut covered = 0;
    let mut absorbed = 0;
    for checkpoint in by_partition.values() {
        covered += checkpoint
            .offsets
            .iter()
            .filter(|((t, _), _)| t == normalized)
            .map(|(_, next)| usize::try_from(*next).expect("positive"))
            .sum::<usize>();
        let state: serde_json::Value =
            serde_json::from_slice(&checkpoint.state).expect("json state");
        absorbed += state["miner"]["clusters"]
            .as_array()
            .expect("the miner's templates are in the checkpoint")
            .iter()
            .map(|c| c["size"].as_u64().expect("size"))
            .sum::<u64>();
    }
    (covered, absorbed)
}

/// Every parsed record on the topic, in order, as (message, template id, template version).
pub fn parsed_on_topic(config: &PipelineConfig) -> Vec<(String, String, u32)> {
    let consumer: BaseConsumer = consumer_config(&config.kafka, "test-reader")
        .create()
        .expect("reader");
    let topic = &config.topics.parsed;
    let (_, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(5))
        .expect("watermarks");
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset(topic, 0, Offset::Beginning)
        .expect("partition");
    consumer.assign(&partitions).expect("assign");
    let mut out = Vec::new();
    let mut next = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while next < high {
        assert!(Instant::now() < deadline, "parsed topic not read in time");
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.expect("message");
            next = message.offset() + 1;
            for payload in testkit::kafka::payloads(&message) {
                let parsed: ParsedRecord = schemas::decode_record(&payload).expect("parsed");
                out.push((
                    parsed.log.message,
                    parsed.template_id,
                    parsed.template_version,
                ));
            }
        }
    }
    out
}
