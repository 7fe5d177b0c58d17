//! The stage runner commits a batch only after its outputs are acknowledged. librdkafka's mock cluster is
//! used here because it can be told to fail produce requests, which a real broker cannot be asked to do.

use medic::config::PipelineConfig;
use medic::stages::StageName;
use rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::types::RDKafkaApiKey;
use rdkafka::{Offset, TopicPartitionList};
use runtime::kafka::{RunnerError, consumer_config};
use runtime::telemetry::metrics::Metrics;
use schemas::RecordKind;
use schemas::span::Span;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const SOURCE: &str = "medic.logs.k8s";
const RECORDS: i64 = 5;

fn committed(config: &PipelineConfig) -> Offset {
    let probe: BaseConsumer = consumer_config(&config.kafka, "medic-ingest")
        .create()
        .expect("probe consumer");
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition(SOURCE, 0);
    let committed = probe
        .committed_offsets(partitions, Duration::from_secs(10))
        .expect("offset fetch");
    committed
        .find_partition(SOURCE, 0)
        .expect("partition listed")
        .offset()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_committed_only_after_its_outputs_are_delivered() {
    let (cluster, mut config, feeder) = super::common::mock_pipeline();
    config.runner.produce_timeout = Span::secs(1);
    config.runner.produce_retries = 1;
    for i in 0..RECORDS {
        let line = format!("2026-03-14T09:00:0{i}Z stdout F request {i} served");
        feeder
            .send(
                FutureRecord::to(SOURCE).key("k").payload(&line),
                Duration::from_secs(5),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("feed");
    }

    // Every produce fails: the runner must stop with a delivery error and commit nothing.
    cluster.mock().request_errors(
        RDKafkaApiKey::Produce,
        &[RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 200],
    );
    let metrics = Metrics::new();
    let outcome = tokio::time::timeout(
        Duration::from_secs(60),
        super::common::runner(StageName::Ingest, &config, &metrics).run(CancellationToken::new()),
    )
    .await
    .expect("the runner gives up in time");
    assert!(
        matches!(outcome, Err(RunnerError::Delivery { .. })),
        "{outcome:?}"
    );
    assert_eq!(metrics.records_out("ingest", RecordKind::Log), 0);
    assert_eq!(
        committed(&config),
        Offset::Invalid,
        "nothing may be committed for an undelivered batch"
    );

    // The broker recovers: a restarted runner re-reads the batch, delivers it and commits past it.
    cluster.mock().clear_request_errors(RDKafkaApiKey::Produce);
    let metrics = Metrics::new();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(
        super::common::runner(StageName::Ingest, &config, &metrics).run(shutdown.clone()),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while metrics.records_out("ingest", RecordKind::Log) < RECORDS as u64 {
        assert!(
            Instant::now() < deadline,
            "the batch was not re-read and delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    task.await.expect("runner task").expect("clean shutdown");
    assert_eq!(committed(&config), Offset::Offset(RECORDS));
}
