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
//! gzip CloudWatch documents included; each Pub/Sub push envelope whole). A wrong secret gets 401 and
//! writes nothing; a malformed request gets 400; a record Kafka does not acknowledge gets 500, and the
//! sender retries (a retried request is written again: at least once, as everywhere in medic).

pub mod firehose;
pub mod pubsub;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::post;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::sync::Arc;
use std::time::Duration;

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
}

/// One record to write: its key and payload.
pub struct Outgoing {
    key: Option<String>,
    payload: Vec<u8>,
}

/// The router: `POST /` for the receiver's sender.
pub fn router(receiver: Receiver) -> Router {
    let limit = receiver.max_body_bytes;
    Router::new()
        .route("/", post(receive))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(Arc::new(receiver))
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match receiver.sender {
        Sender::Firehose => firehose::handle(&receiver, &headers, &body).await,
        Sender::PubsubPush => pubsub::handle(&receiver, &uri, &body).await,
    }
}

impl Receiver {
    /// Writes `records` and waits until Kafka acknowledged every one.
    ///
    /// # Errors
    /// The first record Kafka refused or did not acknowledge in time.
    async fn write(&self, records: Vec<Outgoing>) -> Result<(), String> {
        let mut deliveries = Vec::with_capacity(records.len());
        for record in &records {
            let mut message = FutureRecord::to(&self.topic).payload(&record.payload);
            if let Some(key) = &record.key {
                message = message.key(key);
            }
            deliveries.push(
                self.producer
                    .send_result(message)
                    .map_err(|(error, _)| error.to_string())?,
            );
        }
        for delivery in deliveries {
            match tokio::time::timeout(self.produce_timeout, delivery).await {
                Ok(Ok(Ok(_))) => {}
                Ok(Ok(Err((error, _)))) => return Err(error.to_string()),
                Ok(Err(_)) => return Err("the producer went away".to_owned()),
                Err(_) => return Err("Kafka did not acknowledge in time".to_owned()),
            }
        }
        Ok(())
    }
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
