//! Two consumers of one group, one leaves: a stateful stage (enrich) that loses a partition to another
//! replica never commits that partition's offsets afterwards, so the group's commit never moves back
//! below what the partition's new owner committed (which would feed those records through again after
//! the next restart). librdkafka's mock cluster stands in for the broker.

use medic::config::PipelineConfig;
use medic::stages::StageName;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use runtime::kafka::consumer_config;
use runtime::telemetry::metrics::Metrics;
use schemas::span::Span;
use schemas::{RecordKind, fixtures};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const PARTITIONS: i32 = 2;
/// Records per partition per round.
const ROUND: i64 = 10;

fn message(round: i64, i: i64, partition: i32) -> String {
    format!("request {i} of round {round} served on {partition}")
}

/// Whether every record of rounds `0..=round` is on the parsed topic.
fn parsed_through(config: &PipelineConfig, round: i64) -> bool {
    let parsed: std::collections::BTreeSet<String> = super::common::parsed_on_topic(config)
        .into_iter()
        .map(|(message, _, _)| message)
        .collect();
    (0..=round)
        .all(|r| (0..PARTITIONS).all(|p| (0..ROUND).all(|i| parsed.contains(&message(r, i, p)))))
}

async fn feed(producer: &FutureProducer, topic: &str, round: i64) {
    for partition in 0..PARTITIONS {
        for i in 0..ROUND {
            let at = (round * ROUND + i) * 1_000_000_000;
            let record = fixtures::log_record(&message(round, i, partition), at);
            producer
                .send(
                    FutureRecord::to(topic)
                        .partition(partition)
                        .key("shop/web")
                        .payload(&serde_json::to_vec(&record).expect("encodes")),
                    Duration::from_secs(5),
                )
                .await
                .map_err(|(e, _)| e)
                .expect("feed");
        }
    }
}

/// One enrich replica: its own instance name (checkpoint key) and metrics, the shared group.
struct Replica {
    metrics: Metrics,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), runtime::kafka::RunnerError>>,
}

impl Replica {
    fn start(config: &PipelineConfig, instance: &str) -> Self {
        let mut config = config.clone();
        config.runner.instance = Some(instance.to_owned());
        let metrics = Metrics::new();
        let runner = super::common::runner(StageName::Enrich, &config, &metrics);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(runner.run(shutdown.clone()));
        Self {
            metrics,
            shutdown,
            task,
        }
    }

    /// Whether the consumer reports lag for every partition of `topic`: it owns them all (the lag gauge
    /// follows the assignment).
    fn owns_all(&self, topic: &str) -> bool {
        let text = self.metrics.encode();
        (0..PARTITIONS).all(|partition| {
            text.lines().any(|line| {
                line.starts_with("medic_consumer_lag{")
                    && line.contains(&format!("partition=\"{partition}\""))
                    && line.contains(&format!("topic=\"{topic}\""))
            })
        })
    }

    fn parsed(&self) -> u64 {
        self.metrics.records_out("enrich", RecordKind::Parsed)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("runner task")
            .expect("clean shutdown");
    }
}

async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The group's committed offset of each partition of `topic`.
fn committed(config: &PipelineConfig, topic: &str) -> Vec<i64> {
    let group = StageName::Enrich.group_id(config);
    let consumer: BaseConsumer = consumer_config(&config.kafka, &group)
        .create()
        .expect("consumer");
    let mut list = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        list.add_partition(topic, partition);
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .expect("committed offsets");
    (0..PARTITIONS)
        .map(
            |partition| match committed.find_partition(topic, partition) {
                Some(element) => match element.offset() {
                    Offset::Offset(next) => next,
                    _ => -1,
                },
                None => -1,
            },
        )
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_loses_a_partition_never_commits_it_later() {
    let (broker, mut config, feeder) = super::common::mock_pipeline();
    let topic = config.topics.normalized.clone();
    config.topics.normalized = format!("{topic}.rebalance");
    let topic = config.topics.normalized.clone();
    broker
        .create_topics(&config.topics, std::slice::from_ref(&topic), PARTITIONS)
        .expect("topic");
    // Snapshots (and so commits) only at the first batch and at shutdown in between.
    config.runner.checkpoint_interval = Span::secs(600);
    // Statistics (and so the lag gauge, which shows the assignment) every 100 ms.
    config.runner.lag_interval = Span::millis(100);

    // Replica a alone: its first batch is committed with its first snapshot; the second round of both
    // partitions is processed and delivered but not committed.
    let a = Replica::start(&config, "a");
    feed(&feeder, &topic, 0).await;
    wait_until("a parsed round 0", || a.parsed() >= 2 * ROUND as u64).await;
    feed(&feeder, &topic, 1).await;
    wait_until("a parsed round 1", || a.parsed() >= 4 * ROUND as u64).await;

    // Replica b joins: the group moves one partition to it, which commits its own progress there.
    let b = Replica::start(&config, "b");
    wait_until("b took over a partition", || b.parsed() >= 1).await;
    feed(&feeder, &topic, 2).await;
    // Counted on the topic: a partition that moved is parsed again from its last checkpoint, so the
    // replicas' counts hold duplicates.
    wait_until("round 2 parsed", || parsed_through(&config, 2)).await;
    b.stop().await;
    let after_b = committed(&config, &topic);
    assert!(
        after_b.contains(&(3 * ROUND)),
        "b committed its partition to the end at shutdown: {after_b:?}"
    );

    // a takes the partition back, has nothing new to read on it, and leaves: it commits its own
    // partition to the end, and the partition it lost is not pulled back to round 1's end.
    wait_until("a owns both partitions again", || a.owns_all(&topic)).await;
    a.stop().await;
    assert_eq!(
        committed(&config, &topic),
        vec![3 * ROUND; PARTITIONS as usize],
        "every partition committed to the end, none moved back"
    );
    drop(broker);
}
