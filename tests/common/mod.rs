//! Shared set-up for the runner tests on librdkafka's mock cluster, and helpers for the tests against the
//! external broker.

#![allow(dead_code)]

pub mod durable;
pub mod external;
pub mod incident;

use medic::config::PipelineConfig;
use medic::health::Health;
use medic::kafka::{StageRunner, all_topics, producer_config};
use medic::metrics::Metrics;
use medic::stages::StageName;
use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{DefaultProducerContext, FutureProducer};
use std::sync::Arc;
use std::time::Duration;

/// A one-broker mock cluster with every pipeline topic (one partition each), a pipeline pointing at it
/// with short timeouts, and a plain producer to feed source topics.
pub fn mock_pipeline() -> (
    MockCluster<'static, DefaultProducerContext>,
    PipelineConfig,
    FutureProducer,
) {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let mut config = PipelineConfig::default();
    config.kafka.brokers = cluster.bootstrap_servers();
    config.kafka.create_topics = false;
    config.kafka.session_timeout_ms = 6_000;
    config.runner.batch_linger_ms = 20;
    for topic in all_topics(&config) {
        cluster.create_topic(&topic, 1, 1).expect("topic");
    }
    let feeder: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .create()
        .expect("feeder");
    (cluster, config, feeder)
}

/// A runner for stage `name` with its own producer.
pub fn runner(name: StageName, config: &PipelineConfig, metrics: &Metrics) -> StageRunner {
    let producer: FutureProducer = producer_config(&config.kafka, &config.runner)
        .create()
        .expect("producer");
    let health = Arc::new(Health::new(Duration::from_secs(60)));
    StageRunner::new(name, config, producer, metrics, health).expect("runner")
}
