//! [`EmbeddedBroker`]: librdkafka's in-process mock cluster, set up the one way medic uses it — for
//! `medic demo`, replays, the end-to-end bench and the runner tests. It listens on a real localhost TCP
//! port, so stage processes connect to it like to any broker and the same client code runs as in
//! production.

use crate::config::{KafkaConfig, TopicsConfig};
use rdkafka::error::KafkaError;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use schemas::span::Span;

/// `fetch.wait.max.ms` of every client on the embedded broker: the mock answers an empty fetch only
/// after the whole wait (librdkafka's default is 500 ms) even when data arrives meanwhile, where a real
/// broker answers as soon as there is data.
pub const FETCH_WAIT_MS: u32 = 10;

/// Consumer-group session timeout on the embedded broker: group joins take about half of it.
pub const SESSION_TIMEOUT: Span = Span::secs(6);

/// A one-broker Kafka cluster in this process; it stops when dropped.
pub struct EmbeddedBroker {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl EmbeddedBroker {
    /// Starts the broker.
    ///
    /// # Errors
    /// When librdkafka cannot create the mock cluster.
    pub fn start() -> Result<Self, KafkaError> {
        Ok(Self {
            cluster: MockCluster::new(1)?,
        })
    }

    /// The `host:port` clients connect to.
    #[must_use]
    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    /// The mock cluster itself, for fault injection in tests (request errors, brokers down).
    #[must_use]
    pub fn mock(&self) -> &MockCluster<'static, DefaultProducerContext> {
        &self.cluster
    }

    /// Points `kafka` at this broker with the settings the mock needs: topics are created here (the
    /// mock has no CreateTopics), a short fetch wait for consumers (see [`FETCH_WAIT_MS`]; an explicit
    /// `fetch.wait.max.ms` in `kafka.consumer_properties` is kept) and a session timeout of at most
    /// [`SESSION_TIMEOUT`].
    pub fn configure(&self, kafka: &mut KafkaConfig) {
        kafka.brokers = self.bootstrap_servers();
        kafka.create_topics = false;
        kafka.session_timeout = kafka.session_timeout.min(SESSION_TIMEOUT);
        kafka
            .consumer_properties
            .entry("fetch.wait.max.ms".to_owned())
            .or_insert_with(|| FETCH_WAIT_MS.to_string());
    }

    /// Creates `names` with `partitions` partitions each, except the checkpoint topic of `topics`, which
    /// gets one (see [`crate::kafka::ensure_topics`]).
    ///
    /// # Errors
    /// When a topic cannot be created.
    pub fn create_topics(
        &self,
        topics: &TopicsConfig,
        names: &[String],
        partitions: i32,
    ) -> Result<(), KafkaError> {
        for name in names {
            let count = if *name == topics.checkpoints {
                1
            } else {
                partitions
            };
            self.cluster.create_topic(name, count, 1)?;
        }
        Ok(())
    }
}
