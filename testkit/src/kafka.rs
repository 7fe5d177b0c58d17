//! The external test broker (`scripts/kafka-up.sh`) and what tests do with it: create topics, produce,
//! observe what medic wrote, read a stage's latest checkpoint, name a run's topics.

use rdkafka::consumer::StreamConsumer;
use std::collections::HashMap;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The test broker's address (`MEDIC_TEST_BROKERS`, default `127.0.0.1:19092`).
///
/// # Panics
/// When nothing answers there, with how to start it.
pub fn brokers() -> String {
    let brokers =
        std::env::var("MEDIC_TEST_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".to_owned());
    let first = brokers.split(',').next().unwrap_or_default().to_owned();
    assert!(
        TcpStream::connect_timeout(
            &first.parse().expect("MEDIC_TEST_BROKERS is host:port"),
            Duration::from_secs(2)
        )
        .is_ok(),
        "no Kafka broker answers at {brokers}. Start the test broker with `scripts/kafka-up.sh` \
         (the README's test command, scripts/test.sh, does this), or point MEDIC_TEST_BROKERS at one."
    );
    brokers
}

/// Creates `topic` with `partitions` partitions on `brokers` unless it exists.
///
/// # Panics
/// When the broker refuses for another reason.
pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    create_topic_with(brokers, topic, partitions, &[]).await;
}

/// [`create_topic`] with topic configs, e.g. `("retention.ms", "-1")` for records stamped with times
/// older than the broker's retention (7 days by default), which Kafka rolls into segments of their own
/// and deletes at its next retention check, every 5 minutes — while a test reads them.
///
/// # Panics
/// When the broker refuses for another reason.
pub async fn create_topic_with(
    brokers: &str,
    topic: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let results = admin
        .create_topics(
            &[configs.iter().fold(
                NewTopic::new(topic, partitions, TopicReplication::Fixed(1)),
                |topic, (key, value)| topic.set(key, value),
            )],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .expect("create topics");
    for result in results {
        match result {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => panic!("cannot create {topic}: {code}"),
        }
    }
}

/// Produces every `(key, payload)` to `topic` with an idempotent producer (in order per key, all in
/// flight at once) and returns where each landed: (partition, offset), in input order.
///
/// # Panics
/// When a record cannot be delivered within 60 s.
pub async fn produce_all(
    brokers: &str,
    topic: &str,
    records: &[(String, Vec<u8>)],
) -> Vec<(i32, i64)> {
    produce_all_as(client(brokers, None), topic, records).await
}

/// A client of `brokers`; with `user` (name, password), authenticated as that SCRAM-SHA-512 user over
/// SASL_PLAINTEXT (a broker of [`crate::durable::DurableBroker::start_with_users`]).
#[must_use]
pub fn client(brokers: &str, user: Option<(&str, &str)>) -> rdkafka::ClientConfig {
    let mut config = rdkafka::ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    if let Some((name, password)) = user {
        config
            .set("security.protocol", "SASL_PLAINTEXT")
            .set("sasl.mechanisms", "SCRAM-SHA-512")
            .set("sasl.username", name)
            .set("sasl.password", password);
    }
    config
}

/// [`produce_all`] as the client `client` configures.
///
/// # Panics
/// When a record cannot be delivered within 60 s.
pub async fn produce_all_as(
    mut client: rdkafka::ClientConfig,
    topic: &str,
    records: &[(String, Vec<u8>)],
) -> Vec<(i32, i64)> {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = client
        .set("enable.idempotence", "true")
        .set("linger.ms", "20")
        .create()
        .expect("producer");
    let sends = records.iter().map(|(key, payload)| {
        producer.send(
            FutureRecord::to(topic).key(key).payload(payload),
            Duration::from_secs(60),
        )
    });
    futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|delivered| {
            let delivered = delivered.map_err(|(e, _)| e).expect("produce");
            (delivered.partition, delivered.offset)
        })
        .collect()
}

/// A consumer in its own group reading `topics` from the beginning (for reading what medic wrote).
///
/// # Panics
/// When the consumer cannot be created or subscribed.
pub fn observer(brokers: &str, group: &str, topics: &[&str]) -> rdkafka::consumer::StreamConsumer {
    observer_as(client(brokers, None), group, topics)
}

/// [`observer`] as the client `client` configures.
///
/// # Panics
/// When the consumer cannot be created or subscribed.
pub fn observer_as(
    mut client: rdkafka::ClientConfig,
    group: &str,
    topics: &[&str],
) -> rdkafka::consumer::StreamConsumer {
    use rdkafka::consumer::Consumer;
    let consumer: rdkafka::consumer::StreamConsumer = client
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .create()
        .expect("consumer");
    consumer.subscribe(topics).expect("subscribe");
    consumer
}

/// The latest checkpoint stored under `key` (e.g. `medic-enrich`) on the checkpoint topic `topic`.
///
/// # Panics
/// When the topic cannot be read.
pub fn latest_checkpoint(
    brokers: &str,
    topic: &str,
    key: &str,
) -> Option<runtime::kafka::Checkpoint> {
    let kafka = runtime::config::KafkaConfig {
        brokers: brokers.to_owned(),
        ..runtime::config::KafkaConfig::default()
    };
    runtime::kafka::load_latest(&kafka, topic, key, Duration::from_secs(30)).expect("readable")
}

/// The latest checkpoint of each partition of `input` that a stage whose state follows its partitions
/// (consumer group `group`, e.g. `medic-enrich`) wrote on the checkpoint topic `topic`, by partition.
///
/// # Panics
/// When the topics cannot be read.
pub fn partition_checkpoints(
    brokers: &str,
    topic: &str,
    group: &str,
    input: &str,
) -> std::collections::BTreeMap<i32, runtime::kafka::Checkpoint> {
    use rdkafka::consumer::Consumer;
    let kafka = runtime::config::KafkaConfig {
        brokers: brokers.to_owned(),
        ..runtime::config::KafkaConfig::default()
    };
    let reader: rdkafka::consumer::BaseConsumer =
        runtime::kafka::consumer_config(&kafka, "test-reader")
            .create()
            .expect("reader");
    let metadata = reader
        .fetch_metadata(Some(input), Duration::from_secs(10))
        .expect("metadata");
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let keys: std::collections::BTreeMap<String, i32> = partitions
        .into_iter()
        .map(|p| {
            let key = runtime::kafka::partition_checkpoint_key(group, &(input.to_owned(), p));
            (key, p)
        })
        .collect();
    let wanted = keys.keys().cloned().collect();
    let mut loaded =
        runtime::kafka::load_latest_of(&kafka, topic, &wanted, Duration::from_secs(30))
            .expect("readable");
    keys.into_iter()
        .filter_map(|(key, p)| loaded.remove(&key).map(|checkpoint| (p, checkpoint)))
        .collect()
}

/// The `[kafka]` and `[topics]` sections of a pipeline file for one test run on `brokers`: consumer
/// groups `<run_id>-<stage>` and every internal topic `<run_id>.<name>`, so that runs sharing the test
/// broker never share a group or a topic; `partitions` per topic, group joins within seconds. Tests
/// append the sections they need.
#[must_use]
pub fn run_pipeline(run_id: &str, brokers: &str, partitions: i32) -> String {
    let topics: String = runtime::config::TopicsConfig::default()
        .named()
        .iter()
        .map(|(name, _)| format!("{name} = \"{run_id}.{name}\"\n"))
        .collect();
    format!(
        "[kafka]\nbrokers = \"{brokers}\"\ngroup_prefix = \"{run_id}\"\npartitions = {partitions}\n\
         session_timeout = \"6s\"\n\n[topics]\n{topics}\n"
    )
}

/// A message's headers as text (values decoded lossily), by key.
#[must_use]
pub fn headers(message: &rdkafka::message::BorrowedMessage<'_>) -> HashMap<String, String> {
    use rdkafka::message::{Headers, Message};
    message
        .headers()
        .map(|h| {
            h.iter()
                .map(|x| {
                    (
                        x.key.to_owned(),
                        String::from_utf8_lossy(x.value.unwrap_or_default()).into_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads `consumer` into `state` (each message through `record`) until `done(state)` holds, then
/// `settle` longer, so that records that should not come are seen too. `done` may be costly: it is
/// asked at most twice a second.
///
/// # Panics
/// After `limit`, with `report(state)` (what was read, the processes' logs).
pub async fn read_until<S>(
    consumer: &StreamConsumer,
    state: &mut S,
    mut record: impl FnMut(&mut S, &rdkafka::message::BorrowedMessage<'_>),
    done: impl Fn(&S) -> bool,
    settle: Duration,
    limit: Duration,
    report: impl Fn(&S) -> String,
) {
    let deadline = Instant::now() + limit;
    let mut settled_at: Option<Instant> = None;
    let mut asked: Option<Instant> = None;
    while settled_at.is_none_or(|t| t.elapsed() < settle) {
        if settled_at.is_none() && asked.is_none_or(|t| t.elapsed() >= Duration::from_millis(500)) {
            asked = Some(Instant::now());
            if done(state) {
                settled_at = Some(Instant::now());
                continue;
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out reading: {}",
            report(state)
        );
        if let Ok(Ok(message)) =
            tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await
        {
            record(state, &message);
        }
    }
}

/// The payloads a message holds: every record of a frame (`schemas::frame`, the per-line topics), or
/// the message's own payload (also when it is a frame this build cannot read: a test then sees it whole).
#[must_use]
pub fn payloads(message: &rdkafka::message::BorrowedMessage<'_>) -> Vec<Vec<u8>> {
    use rdkafka::message::Message;
    let payload = message.payload().unwrap_or_default();
    schemas::frame::read_frame(message.key(), payload).map_or_else(
        |_| vec![payload.to_vec()],
        |records| records.iter().map(|r| r.payload.to_vec()).collect(),
    )
}
