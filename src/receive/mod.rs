//! Edge receivers: HTTP endpoints that cloud log services push to, writing what they receive to a
//! source topic and answering the sender only once Kafka has acknowledged every record — so a sender
//! that gets no success retries, and nothing it was told is delivered can be lost.
//!
//! ```text
//!  Kinesis Data Firehose (HTTP endpoint destination) ─► POST /  ─┐  access key (X-Amz-Firehose-Access-Key)
//!  Cloud Pub/Sub push subscription ─────────────────► POST /?token=…  shared token in the push URL
//!                                                                 └► records on the source topic ─► ingest
//! ```
//!
//! The receivers do not decode logs: ingest already reads what they write (each Firehose record's data,
//! gzip CloudWatch documents included; each Pub/Sub push envelope whole). The secret is checked before
//! the body is read: a wrong one gets 401 and costs nothing. At most `max_concurrent` requests are
//! served at once (503 beyond, and past `request_timeout`: both senders retry). A malformed Firehose
//! request gets 400 (Firehose retries, then backs it up to S3); what can never be written — a record over
//! `runner.max_message_bytes`, a Pub/Sub envelope that is not one — goes to the dead-letter topic (cut to
//! fit, with the reason) and is acknowledged, so a poison message is not retried for days. A record Kafka
//! does not acknowledge gets 500, and the sender retries (a retried request is written again: at least
//! once, as everywhere in medic).

pub mod firehose;
pub mod pubsub;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::post;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use runtime::kafka::delivered;
use runtime::kafka::oversize::MessageLimit;
use runtime::telemetry::metrics::StageMetrics;
use schemas::ErrorKind;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Which sender a receiver serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sender {
    /// Amazon Kinesis Data Firehose's HTTP endpoint destination.
    Firehose,
    /// A Google Cloud Pub/Sub push subscription.
    PubsubPush,
}

impl Sender {
    /// The environment variable holding the sender's secret.
    #[must_use]
    pub const fn secret_env(self) -> &'static str {
        match self {
            Sender::Firehose => "MEDIC_FIREHOSE_ACCESS_KEY",
            Sender::PubsubPush => "MEDIC_PUBSUB_PUSH_TOKEN",
        }
    }
}

/// A receiver's settings.
pub struct Receiver {
    /// Whom it serves.
    pub sender: Sender,
    /// The producer it writes with.
    pub producer: FutureProducer,
    /// The source topic it writes to.
    pub topic: String,
    /// The secret a request must carry.
    pub secret: String,
    /// Largest request body accepted (also the bound on a gzip body once inflated).
    pub max_body_bytes: usize,
    /// How long it waits for Kafka's acknowledgement before answering 500.
    pub produce_timeout: Duration,
    /// The dead-letter topic.
    pub dlq_topic: String,
    /// The size limit of one Kafka message (`runner.max_message_bytes`).
    pub limit: MessageLimit,
    /// Requests served at once; more get 503.
    pub max_concurrent: usize,
    /// Longest a request may take, body and Kafka's acknowledgement included; longer gets 503.
    pub request_timeout: Duration,
    /// Its counters (stage `receive`): records received, dead letters by kind, and the events
    /// `receive.unauthorised`, `receive.busy`, `receive.timed_out`, `receive.malformed`,
    /// `receive.not_acknowledged` and `receive.acknowledged` (requests).
    pub metrics: StageMetrics,
}

/// One record to write: its key and payload, or why it goes to the dead-letter topic instead.
pub struct Outgoing {
    key: Option<String>,
    payload: Vec<u8>,
    refused: Option<String>,
}

impl Outgoing {
    fn record(key: Option<String>, payload: Vec<u8>) -> Self {
        Self {
            key,
            payload,
            refused: None,
        }
    }
}

/// The router: `POST /` for the receiver's sender, behind the secret and the concurrency bound.
pub fn router(receiver: Receiver) -> Router {
    let limit = receiver.max_body_bytes;
    let state = Guarded {
        slots: Arc::new(Semaphore::new(receiver.max_concurrent.max(1))),
        receiver: Arc::new(receiver),
    };
    Router::new()
        .route("/", post(receive))
        .layer(DefaultBodyLimit::max(limit))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state.receiver)
}

#[derive(Clone)]
struct Guarded {
    receiver: Arc<Receiver>,
    slots: Arc<Semaphore>,
}

/// Checks the secret before the body is read, bounds concurrency and time.
async fn guard(State(state): State<Guarded>, request: Request, next: Next) -> Response {
    let receiver = &state.receiver;
    if !receiver.authorised(request.headers(), request.uri()) {
        receiver.metrics.add_event("receive.unauthorised", 1);
        tracing::warn!(sender = ?receiver.sender, "a request without the secret, refused");
        return receiver.refuse(
            request.headers(),
            StatusCode::UNAUTHORIZED,
            "bad credentials",
        );
    }
    let Ok(_slot) = state.slots.try_acquire() else {
        receiver.metrics.add_event("receive.busy", 1);
        return receiver.refuse(request.headers(), StatusCode::SERVICE_UNAVAILABLE, "busy");
    };
    let headers = request.headers().clone();
    match tokio::time::timeout(receiver.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            receiver.metrics.add_event("receive.timed_out", 1);
            receiver.refuse(&headers, StatusCode::SERVICE_UNAVAILABLE, "timed out")
        }
    }
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match receiver.sender {
        Sender::Firehose => firehose::handle(&receiver, &headers, body).await,
        Sender::PubsubPush => pubsub::handle(&receiver, body).await,
    }
}

impl Receiver {
    /// Whether the request carries the sender's secret (the header, or the URL's `token`).
    fn authorised(&self, headers: &HeaderMap, uri: &Uri) -> bool {
        let secret = self.secret.as_bytes();
        match self.sender {
            Sender::Firehose => headers
                .get(firehose::ACCESS_KEY_HEADER)
                .is_some_and(|k| secret_matches(k.as_bytes(), secret)),
            Sender::PubsubPush => {
                pubsub::token(uri).is_some_and(|t| secret_matches(t.as_bytes(), secret))
            }
        }
    }

    /// The sender's error answer.
    fn refuse(&self, headers: &HeaderMap, status: StatusCode, message: &str) -> Response {
        match self.sender {
            Sender::Firehose => {
                firehose::answer(status, firehose::request_id(headers), Some(message))
            }
            Sender::PubsubPush => json(status, &serde_json::json!({ "error": message })),
        }
    }

    /// Writes `records` — those that can never be written to the dead-letter topic instead — and
    /// waits until Kafka acknowledged every one. A full producer queue waits for earlier deliveries.
    ///
    /// # Errors
    /// The first record Kafka refused or did not acknowledge in time.
    async fn write(&self, records: Vec<Outgoing>) -> Result<(), String> {
        self.metrics.records_in.inc_by(records.len() as u64);
        let written = self.deliver(&records).await;
        self.metrics.add_event(
            if written.is_ok() {
                "receive.acknowledged"
            } else {
                "receive.not_acknowledged"
            },
            1,
        );
        written
    }

    async fn deliver(&self, records: &[Outgoing]) -> Result<(), String> {
        let mut deliveries: VecDeque<DeliveryFuture> = VecDeque::with_capacity(records.len());
        for record in records {
            let key = record.key.as_deref().map(str::as_bytes);
            let size = key.map_or(0, <[u8]>::len) + record.payload.len();
            let (topic, key, payload, headers) = match &record.refused {
                None if self.limit.fits(key, &record.payload) => {
                    (&self.topic, key, &record.payload[..], None)
                }
                None => {
                    self.metrics.add_dlq(ErrorKind::TooLarge, 1);
                    (
                        &self.dlq_topic,
                        self.limit.key(key),
                        self.limit.cut(key, &record.payload),
                        Some(self.limit.output_headers(STAGE, &self.topic, size)),
                    )
                }
                Some(reason) => {
                    self.metrics.add_dlq(ErrorKind::Invalid, 1);
                    (
                        &self.dlq_topic,
                        self.limit.key(key),
                        self.limit.cut(key, &record.payload),
                        Some(refused_headers(reason)),
                    )
                }
            };
            loop {
                let mut message = FutureRecord::to(topic).payload(payload);
                if let Some(key) = key {
                    message = message.key(key);
                }
                if let Some(headers) = &headers {
                    message = message.headers(headers.clone());
                }
                match self.producer.send_result(message) {
                    Ok(delivery) => {
                        deliveries.push_back(delivery);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        match deliveries.pop_front() {
                            Some(delivery) => self.acknowledged(delivery).await?,
                            None => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                    Err((error, _)) => return Err(error.to_string()),
                }
            }
        }
        for delivery in deliveries {
            self.acknowledged(delivery).await?;
        }
        Ok(())
    }

    async fn acknowledged(&self, delivery: DeliveryFuture) -> Result<(), String> {
        match tokio::time::timeout(self.produce_timeout, delivery).await {
            Ok(outcome) => delivered(outcome).map_err(|error| error.to_string()),
            Err(_) => Err("Kafka did not acknowledge in time".to_owned()),
        }
    }
}

/// The stage name of the receivers' dead letters and counters.
pub const STAGE: &str = "receive";

/// The headers of a dead letter for a received record that is not what the sender promised.
fn refused_headers(reason: &str) -> OwnedHeaders {
    let reason = runtime::kafka::clip(reason, runtime::kafka::MAX_REASON_BYTES);
    [
        ("medic.stage", STAGE),
        ("medic.error.kind", ErrorKind::Invalid.as_str()),
        ("medic.error.reason", &*reason),
    ]
    .into_iter()
    .fold(
        OwnedHeaders::new_with_capacity(3),
        |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(value.as_bytes()),
            })
        },
    )
}

/// Whether `given` equals `secret`, in time independent of where they differ.
fn secret_matches(given: &[u8], secret: &[u8]) -> bool {
    given.len() == secret.len()
        && given
            .iter()
            .zip(secret)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// A response with `status` and a JSON body.
fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string().into())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_whole() {
        assert!(secret_matches(b"k3y", b"k3y"));
        assert!(!secret_matches(b"k3", b"k3y"));
        assert!(!secret_matches(b"k3z", b"k3y"));
        assert!(!secret_matches(b"", b"k3y"));
    }
}
