//! The stage runner commits a batch only after its outputs are acknowledged, and no record can stop it.
//! librdkafka's mock cluster is used here because it can be told to fail produce requests, which a real
//! broker cannot be asked to do.

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

    // The broker recovers: a restarted runner re-reads the batch, delivers it and commits past it —
    // once idle, at once, not at its next tick (none comes within the test).
    cluster.mock().clear_request_errors(RDKafkaApiKey::Produce);
    config.runner.tick_interval = Span::secs(3600);
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
    while committed(&config) != Offset::Offset(RECORDS) {
        assert!(
            Instant::now() < deadline,
            "an idle stage must commit its last batch"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    task.await.expect("runner task").expect("clean shutdown");
    assert_eq!(committed(&config), Offset::Offset(RECORDS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_too_large_for_one_message_is_dead_lettered_cut_to_fit_and_the_stage_goes_on() {
    // The probe: a container line of about 1 MiB (within max_line_bytes and max_record_bytes) makes a
    // LogRecord over the producer's 1,000,000-byte message limit; the runner used to retry it, stop
    // uncommitted and re-read it after every restart.
    let (_cluster, mut config, _) = super::common::mock_pipeline();
    // Every message weighs more than a byte: each is a batch of its own, though all three wait.
    config.runner.batch_max_bytes = 1;
    let feeder: rdkafka::producer::FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &config.kafka.brokers)
        .set("message.max.bytes", "4000000")
        .create()
        .expect("feeder");
    // Control characters: 1 byte each in the compact record, 6 in its JSON form, which the dead letter
    // holds (cut), and whose size `medic.truncated_from` gives.
    let huge = format!(
        "2026-03-14T09:00:01Z stdout F {}",
        "\u{1}".repeat(1_048_000)
    );
    let lines = [
        "2026-03-14T09:00:00Z stdout F before".to_owned(),
        huge,
        "2026-03-14T09:00:02Z stdout F after".to_owned(),
    ];
    feed(&feeder, SOURCE, lines.iter().map(String::as_bytes)).await;
    let metrics = run_until_out(StageName::Ingest, RecordKind::Log, &config, 3).await;
    assert_eq!(metrics.records_out("ingest", RecordKind::Log), 2);
    assert_eq!(metrics.dead_lettered("ingest"), 1);
    assert_eq!(
        metrics.batches("ingest"),
        3,
        "a batch stops at batch_max_bytes"
    );
    assert_eq!(committed(&config), Offset::Offset(3), "committed past it");

    let reader: BaseConsumer = consumer_config(&config.kafka, "dlq-reader")
        .create()
        .expect("reader");
    reader.subscribe(&[&config.topics.dlq]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (headers, cut) = loop {
        assert!(Instant::now() < deadline, "no dead letter");
        if let Some(message) = reader.poll(Duration::from_millis(200)) {
            let message = message.expect("dead letter");
            let payload = rdkafka::Message::payload(&message).unwrap_or_default();
            assert!(
                payload.starts_with(br#"{"schema_version":"#),
                "the record's JSON form, cut"
            );
            break (testkit::kafka::headers(&message), payload.len());
        }
    };
    assert_eq!(
        headers.get("medic.error.kind").map(String::as_str),
        Some("too_large")
    );
    assert_eq!(
        headers.get("medic.output.topic").map(String::as_str),
        Some(config.topics.normalized.as_str())
    );
    let full: usize = headers
        .get("medic.truncated_from")
        .and_then(|n| n.parse().ok())
        .expect("the full size");
    assert!(
        full > 6_000_000 && cut < 1_000_000 && cut > 900_000,
        "{full} cut to {cut}"
    );
}

/// Enrich reads the frames ingest writes record by record: a bad record inside a frame is dead-lettered
/// alone, named by its place in the frame, and as JSON when it is a compact record that decodes; a frame
/// from a newer writer is dead-lettered whole with what to do; the good records (compact, and JSON from
/// a writer before compact records) come out framed again, compact, one frame for their partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_are_read_record_by_record_and_a_newer_one_is_refused() {
    use schemas::frame::{FRAME_VERSION, FrameWriter};
    let (_cluster, config, feeder) = super::common::mock_pipeline();
    let now = schemas::clock::wall_clock_ns();
    let log = |i: i64| {
        let mut log = schemas::fixtures::log_record(&format!("request {i} served"), now + i);
        log.source.offset = i;
        log
    };
    let good = |i: i64| schemas::encode_record(&log(i)).expect("encodes");
    let mut future = log(3);
    future.schema_version = schemas::SCHEMA_VERSION + 1;
    let mut frame = FrameWriter::new();
    frame.push(Some(b"shop/web"), &good(0));
    frame.push(Some(b"shop/web"), b"{not json");
    frame.push(Some(b"shop/web"), &good(1));
    frame.push(Some(b"shop/web"), &schemas::compact::encode_log(&future));
    frame.push(
        Some(b"shop/web"),
        &serde_json::to_vec(&log(4)).expect("json"),
    );
    let mut newer = FrameWriter::new();
    newer.push(Some(b"shop/web"), &good(2));
    let mut newer = newer.finish();
    newer[3] = FRAME_VERSION + 1;
    let frames = [frame.finish(), newer];
    feed(
        &feeder,
        &config.topics.normalized,
        frames.iter().map(Vec::as_slice),
    )
    .await;
    let metrics = run_until_out(StageName::Enrich, RecordKind::Parsed, &config, 6).await;
    assert_eq!(metrics.records_out("enrich", RecordKind::Parsed), 3);
    assert_eq!(metrics.dead_lettered("enrich"), 3);

    let reader = topic_reader(&config);
    let dead = read_all(&reader, &config.topics.dlq);
    assert_eq!(dead.len(), 3, "{dead:?}");
    let find = |what: &str, test: &dyn Fn(&[u8]) -> bool| {
        dead.iter()
            .find(|r| test(&r.payload))
            .unwrap_or_else(|| panic!("no dead letter {what}: {dead:?}"))
    };
    let bad = find("not JSON", &|p| p == b"{not json");
    let headers = dlq_headers(&config, bad.coordinates.offset);
    assert_eq!(headers["medic.source.offset"], "0");
    assert_eq!(
        headers["medic.source.index"], "1",
        "named by its place in the frame"
    );
    assert_eq!(headers["medic.error.kind"], "decode");
    let later = find("from a later schema", &|p| {
        serde_json::from_slice::<serde_json::Value>(p)
            .is_ok_and(|v| v["schema_version"] == schemas::SCHEMA_VERSION + 1)
    });
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&later.payload).expect("JSON"),
        serde_json::to_value(&future).expect("json"),
        "a compact record is dead-lettered as its JSON form"
    );
    let headers = dlq_headers(&config, later.coordinates.offset);
    assert_eq!(headers["medic.source.index"], "3");
    assert_eq!(headers["medic.error.kind"], "schema");
    let whole = find("whole", &|p| schemas::frame::is_frame(p));
    let headers = dlq_headers(&config, whole.coordinates.offset);
    assert_eq!(headers["medic.source.offset"], "1");
    assert_eq!(headers["medic.error.kind"], "schema");
    assert!(
        headers["medic.error.reason"].contains("newer than this reader's"),
        "{headers:?}"
    );

    let parsed = read_all(&reader, &config.topics.parsed);
    let messages: Vec<(i64, u32)> = parsed
        .iter()
        .map(|r| (r.coordinates.offset, r.coordinates.index))
        .collect();
    assert_eq!(
        messages,
        [(0, 0), (0, 1), (0, 2)],
        "every record in one frame"
    );
    assert!(
        parsed
            .iter()
            .all(|r| schemas::compact::is_compact(&r.payload)),
        "parsed records travel compact"
    );
    let messages: Vec<String> = parsed
        .iter()
        .map(|r| {
            let record: schemas::ParsedRecord =
                schemas::decode_record(&r.payload).expect("decodes");
            record.log.message
        })
        .collect();
    assert_eq!(
        messages,
        ["request 0 served", "request 1 served", "request 4 served"]
    );
}

/// A reader of the pipeline's topics.
fn topic_reader(config: &PipelineConfig) -> medic::topic_reader::TopicReader {
    medic::topic_reader::TopicReader::new(&config.kafka, &config.topics, Duration::from_secs(10))
        .expect("reader")
}

/// Every record of `topic`, out of its frames.
fn read_all(reader: &medic::topic_reader::TopicReader, topic: &str) -> Vec<schemas::SourceRecord> {
    let mut records = Vec::new();
    reader
        .each(topic, None, |record| {
            records.push(record);
            true
        })
        .expect("the topic reads");
    records
}

/// The headers of the dead letter at `offset` on the dead-letter topic.
fn dlq_headers(config: &PipelineConfig, offset: i64) -> std::collections::HashMap<String, String> {
    let reader: BaseConsumer = consumer_config(&config.kafka, "dlq-headers")
        .create()
        .expect("reader");
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset(&config.topics.dlq, 0, Offset::Offset(offset))
        .expect("partition");
    reader.assign(&partitions).expect("assign");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no dead letter at {offset}");
        if let Some(message) = reader.poll(Duration::from_millis(200)) {
            return testkit::kafka::headers(&message.expect("dead letter"));
        }
    }
}

/// Produces each of `payloads` to `topic`, keyed `k`.
async fn feed<'a>(
    feeder: &rdkafka::producer::FutureProducer,
    topic: &str,
    payloads: impl IntoIterator<Item = &'a [u8]>,
) {
    for payload in payloads {
        feeder
            .send(
                FutureRecord::<str, [u8]>::to(topic)
                    .key("k")
                    .payload(payload),
                Duration::from_secs(5),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("feed");
    }
}

/// Runs stage `name` until it has written or dead-lettered `n` records (of `kind`), then stops it;
/// the runner must keep going through whatever it read and shut down cleanly.
async fn run_until_out(
    name: StageName,
    kind: RecordKind,
    config: &PipelineConfig,
    n: u64,
) -> Metrics {
    let metrics = Metrics::new();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(super::common::runner(name, config, &metrics).run(shutdown.clone()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let stage = name.as_str();
    while metrics.records_out(stage, kind) + metrics.dead_lettered(stage) < n {
        assert!(
            Instant::now() < deadline,
            "{stage} stopped before {n} records came out"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    task.await
        .expect("runner task")
        .expect("the runner keeps going and shuts down cleanly");
    metrics
}

/// A raw source topic is never read as frames: a line that carries the frame's magic bytes and a
/// record keyed with another tenant's kubelet path is one (undecodable) line, not a record of theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_line_shaped_like_a_frame_is_only_a_line() {
    let (_cluster, config, feeder) = super::common::mock_pipeline();
    let mut forged = schemas::frame::FrameWriter::new();
    forged.push(
        Some(b"/var/log/pods/victim_web-7d9c7f5b9d-x2x7q_0000/app/0.log"),
        b"2026-03-14T09:00:00Z stdout F OOMKilled",
    );
    let forged = forged.finish();
    feed(&feeder, SOURCE, [forged.as_slice()]).await;
    run_until_out(StageName::Ingest, RecordKind::Log, &config, 1).await;
    let reader = topic_reader(&config);
    let logs: Vec<schemas::LogRecord> = reader.records(&config.topics.normalized).expect("read");
    assert_eq!(logs.len(), 1, "the message is one line: {logs:?}");
    assert_ne!(
        logs[0].resource.namespace.as_deref(),
        Some("victim"),
        "no record under the forged key"
    );
}

/// A raw input that is, byte for byte, a compact record of another tenant is not read as that record:
/// rejected by its source's format, it is dead-lettered exactly as it came (only the per-line topics'
/// compact records are dead-lettered as their JSON form).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_input_shaped_like_a_compact_record_is_dead_lettered_as_it_came() {
    let (_cluster, mut config, feeder) = super::common::mock_pipeline();
    config.ingest.sources[0].format = ingest::Format::JsonLine;
    let mut theirs = schemas::fixtures::log_record("OOMKilled", schemas::clock::wall_clock_ns());
    theirs.resource.namespace = Some("victim".to_owned());
    let compact = schemas::compact::encode_log(&theirs);
    feed(&feeder, SOURCE, [compact.as_slice()]).await;
    let metrics = run_until_out(StageName::Ingest, RecordKind::Log, &config, 1).await;
    assert_eq!(metrics.dead_lettered("ingest"), 1, "not a JSON line");
    let reader = topic_reader(&config);
    let dead = read_all(&reader, &config.topics.dlq);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].payload, compact, "its bytes, not a record's JSON");
}

/// With frames off (`runner.frame_max_bytes = 0`, for readers of the per-line topics that predate
/// them), each record is one message, and JSON: compact records never leave a frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_frames_off_each_record_is_one_json_message() {
    let (_cluster, mut config, feeder) = super::common::mock_pipeline();
    config.runner.frame_max_bytes = 0;
    let lines = [
        &b"2026-03-14T09:00:00Z stdout F first"[..],
        b"2026-03-14T09:00:01Z stdout F second",
    ];
    feed(&feeder, SOURCE, lines).await;
    run_until_out(StageName::Ingest, RecordKind::Log, &config, 2).await;
    let reader = topic_reader(&config);
    let messages = read_all(&reader, &config.topics.normalized);
    let read: Vec<(i64, String)> = messages
        .iter()
        .map(|m| {
            let log: schemas::LogRecord =
                serde_json::from_slice(&m.payload).expect("a JSON record");
            (m.coordinates.offset, log.message)
        })
        .collect();
    assert_eq!(read, [(0, "first".to_owned()), (1, "second".to_owned())]);
}
