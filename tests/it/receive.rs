//! `medic receive`: the edge receivers, end to end through a broker (the embedded mock cluster) — a
//! wrong secret writes nothing, a request is answered only once its records are in Kafka, and what is
//! written is what ingest decodes.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use base64::Engine;
use medic::receive::{Receiver, Sender, router};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::producer::FutureProducer;
use rdkafka::{Message, Offset, TopicPartitionList};
use runtime::embedded::EmbeddedBroker;
use runtime::kafka::oversize::MessageLimit;
use runtime::telemetry::metrics::Metrics;
use schemas::{Emitter, SourceRecord, Stage};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const TOPIC: &str = "medic.logs.edge";
const SECRET: &str = "s3cret-key";
const DLQ: &str = "medic.dlq";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("ingest/tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn receiver(sender: Sender, brokers: &str) -> Receiver {
    counted_receiver(sender, brokers, &Metrics::new())
}

fn counted_receiver(sender: Sender, brokers: &str, metrics: &Metrics) -> Receiver {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("message.timeout.ms", "2000")
        .create()
        .expect("producer");
    Receiver {
        sender,
        producer,
        topic: TOPIC.to_owned(),
        secret: SECRET.to_owned(),
        max_body_bytes: 1 << 20,
        produce_timeout: Duration::from_secs(5),
        dlq_topic: DLQ.to_owned(),
        limit: MessageLimit::new(64 << 10),
        max_concurrent: 2,
        request_timeout: Duration::from_secs(10),
        metrics: metrics.stage(medic::receive::STAGE),
    }
}

/// Sends one request to a fresh router; the status and the body.
async fn send(receiver: Receiver, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let response = router(receiver).oneshot(request).await.expect("answered");
    let status = response.status();
    let bytes = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

/// Every record on the source topic (one partition), waiting briefly for those still in flight.
fn written(brokers: &str, expected: usize) -> Vec<SourceRecord> {
    read(brokers, TOPIC, expected)
        .into_iter()
        .map(|(record, _)| record)
        .collect()
}

/// Every record on `topic` (one partition) with its `medic.error.kind` header, if any.
fn read(brokers: &str, topic: &str, expected: usize) -> Vec<(SourceRecord, Option<String>)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "receive-test")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .expect("partition");
    consumer.assign(&assignment).expect("assigned");
    let mut records = Vec::new();
    // Until the expected records are in, then a little longer for any that should not be.
    let (deadline, mut settle) = (Instant::now() + Duration::from_secs(3), None);
    while Instant::now() < deadline && settle.is_none_or(|at| Instant::now() < at) {
        if settle.is_none() && records.len() >= expected {
            settle = Some(Instant::now() + Duration::from_millis(300));
        }
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let kind = m.headers().and_then(|headers| {
                headers
                    .iter()
                    .find(|h| h.key == "medic.error.kind")
                    .and_then(|h| h.value)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            });
            let payload = m.payload().unwrap_or_default().to_vec();
            records.push((SourceRecord::new(topic, 0, m.offset(), payload), kind));
        }
    }
    records
}

/// What the ingest stage makes of `records`: (records decoded, inputs refused).
fn ingested(records: &[SourceRecord]) -> (usize, usize) {
    let mut ingest = ingest::IngestConfig::default()
        .build()
        .expect("ingest builds");
    let mut out = Emitter::new();
    ingest.process_batch(records, &mut out);
    ingest.on_close(&mut out);
    (out.emitted().len(), out.rejections().len())
}

fn firehose_request(key: &str, body: Vec<u8>) -> Request<Body> {
    Request::post("/")
        .header("x-amz-firehose-access-key", key)
        .header(
            "x-amz-firehose-request-id",
            "0b5a3c2e-7d1f-4c8e-9a6b-2f4e8d1c3a57",
        )
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request")
}

#[tokio::test]
async fn firehose_deliveries_are_written_once_acknowledged_and_a_wrong_key_writes_nothing() {
    let broker = EmbeddedBroker::start().expect("broker");
    broker.mock().create_topic(TOPIC, 1, 1).expect("topic");
    broker.mock().create_topic(DLQ, 1, 1).expect("topic");
    let brokers = broker.bootstrap_servers();
    let body = fixture("firehose-http-endpoint-cwlogs.json");

    let metrics = Metrics::new();
    let (status, answer) = send(
        counted_receiver(Sender::Firehose, &brokers, &metrics),
        firehose_request("not-the-key", body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    let counted = metrics.encode();
    assert!(
        counted.contains(r#"event="receive.unauthorised",stage="receive"} 1"#),
        "{counted}"
    );
    assert!(answer["errorMessage"].is_string(), "{answer}");
    assert!(
        written(&brokers, 0).is_empty(),
        "a refused request writes nothing"
    );

    let (status, answer) = send(
        receiver(Sender::Firehose, &brokers),
        firehose_request(SECRET, body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["requestId"], "0b5a3c2e-7d1f-4c8e-9a6b-2f4e8d1c3a57");
    assert!(answer["timestamp"].is_i64(), "{answer}");
    // Answered, so in Kafka: each record's data, as Firehose sent it, and ingest reads it.
    let request: serde_json::Value = serde_json::from_slice(&body).expect("fixture is JSON");
    let sent: Vec<Vec<u8>> = request["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            base64::engine::general_purpose::STANDARD
                .decode(r["data"].as_str().expect("data"))
                .expect("base64")
        })
        .collect();
    let records = written(&brokers, sent.len());
    let payloads: Vec<&[u8]> = records.iter().map(|r| r.payload.as_slice()).collect();
    assert_eq!(payloads, sent.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let (decoded, refused) = ingested(&records);
    assert!(
        decoded > 0 && refused == 0,
        "{decoded} decoded, {refused} refused"
    );

    // The same request gzipped (the stream's content encoding), and a record too large for one Kafka
    // message: that one is dead-lettered, cut to fit, and the request still acknowledged.
    let mut gzipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gzipped, &body).expect("gzip");
    let mut request = firehose_request(SECRET, gzipped.finish().expect("gzip"));
    request
        .headers_mut()
        .insert("content-encoding", "gzip".parse().expect("header"));
    let (status, _) = send(receiver(Sender::Firehose, &brokers), request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(written(&brokers, 2 * sent.len()).len(), 2 * sent.len());
    let huge = base64::engine::general_purpose::STANDARD.encode(vec![b'x'; 100_000]);
    let oversize =
        serde_json::json!({"requestId": "r-huge", "timestamp": 1, "records": [{"data": huge}]});
    let (status, _) = send(
        receiver(Sender::Firehose, &brokers),
        firehose_request(SECRET, oversize.to_string().into_bytes()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let dead = read(&brokers, DLQ, 1);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].1.as_deref(), Some("too_large"));
    assert!(dead[0].0.payload.len() < 64 << 10);
    assert_eq!(written(&brokers, 2 * sent.len()).len(), 2 * sent.len());

    // Over the body limit (1 MiB here): 413, nothing read into Kafka.
    let (status, _) = send(
        receiver(Sender::Firehose, &brokers),
        firehose_request(SECRET, vec![b' '; 2 << 20]),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // Malformed: 400, nothing more written.
    let (status, _) = send(
        receiver(Sender::Firehose, &brokers),
        firehose_request(SECRET, b"{\"records\": 7}".to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(written(&brokers, 2 * sent.len()).len(), 2 * sent.len());
}

#[tokio::test]
async fn a_request_kafka_does_not_acknowledge_is_not_answered_with_success() {
    // No broker listens there: the records are never acknowledged, so Firehose must retry.
    let port = testkit::scratch::free_port();
    let (status, answer) = send(
        receiver(Sender::Firehose, &format!("127.0.0.1:{port}")),
        firehose_request(SECRET, fixture("firehose-http-endpoint-request.json")),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    assert!(answer["errorMessage"].is_string(), "{answer}");
}

#[tokio::test]
async fn pubsub_pushes_need_the_token_and_are_written_whole() {
    let broker = EmbeddedBroker::start().expect("broker");
    broker.mock().create_topic(TOPIC, 1, 1).expect("topic");
    broker.mock().create_topic(DLQ, 1, 1).expect("topic");
    let brokers = broker.bootstrap_servers();
    let entry = fixture("gcp-cloud-run-log-entry.json");
    let envelope = serde_json::json!({
        "message": {
            "data": base64::engine::general_purpose::STANDARD.encode(&entry),
            "messageId": "2070443601311540",
            "publishTime": "2021-02-26T19:13:55.749Z",
        },
        "subscription": "projects/myproject/subscriptions/medic-logs",
    })
    .to_string();
    let push = |uri: &str| {
        Request::post(uri)
            .header("content-type", "application/json")
            .body(Body::from(envelope.clone()))
            .expect("request")
    };
    for uri in ["/", "/?token=wrong", "/?tokens=s3cret-key"] {
        let (status, _) = send(receiver(Sender::PubsubPush, &brokers), push(uri)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    assert!(written(&brokers, 0).is_empty());
    // The token percent-encoded in the URL reads the same.
    let (status, _) = send(
        receiver(Sender::PubsubPush, &brokers),
        push("/?token=s3cret%2Dkey"),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let records = written(&brokers, 1);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].payload, envelope.as_bytes());
    let (decoded, refused) = ingested(&records);
    assert_eq!((decoded, refused), (1, 0));

    // Not a push envelope (an unwrapped push): dead-lettered and acknowledged, never retried for days.
    let unwrapped = Request::post(format!("/?token={SECRET}"))
        .body(Body::from(entry.clone()))
        .expect("request");
    let (status, _) = send(receiver(Sender::PubsubPush, &brokers), unwrapped).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let dead = read(&brokers, DLQ, 1);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].1.as_deref(), Some("invalid"));
    assert_eq!(
        written(&brokers, 1).len(),
        1,
        "nothing more on the source topic"
    );
}

#[test]
fn a_receiver_does_not_start_without_its_secret() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_medic"))
        .args(["receive", "firehose", "--listen", "127.0.0.1:0"])
        .env_remove(Sender::Firehose.secret_env())
        .output()
        .expect("medic runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("MEDIC_FIREHOSE_ACCESS_KEY"), "{stderr}");
}
