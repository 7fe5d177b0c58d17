//! Google Cloud Pub/Sub push delivery: `POST` of `{"message": {"data": base64, "attributes",
//! "messageId", "publishTime"}, "subscription"}` to the subscription's push endpoint; any 2xx is an
//! acknowledgement, anything else is retried. The endpoint is authenticated by a shared token in its
//! URL (`https://…/?token=…`, as Google documents for push endpoints); the OIDC token Pub/Sub can also
//! attach is not verified here (that needs Google's signing keys).
//!
//! The envelope is written whole, keyed by its message id: ingest decodes push envelopes (and the Cloud
//! Logging `LogEntry` inside). Keep the subscription's payload wrapper on (an unwrapped push is not an
//! envelope, and is dead-lettered), and give it an acknowledgement deadline of at least the pipeline's
//! `runner.produce_timeout` (30 s by default; Pub/Sub's default is 10 s), or Pub/Sub redelivers while
//! a write is still pending. The token travels in the URL: keep it out of ingress access logs.

use super::{Outgoing, Receiver, json};
use axum::body::Bytes;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json as value};

/// The `token` query parameter of a push request's URL, percent-decoded.
pub(super) fn token(uri: &Uri) -> Option<String> {
    let raw = uri
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))?;
    percent_decoded(raw)
}

/// `text` with `%XX` escapes decoded (`+` kept: a token is not form data); `None` when malformed.
fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub(super) async fn handle(receiver: &Receiver, body: Bytes) -> Response {
    // What is not a push envelope will never be one: dead-lettered and acknowledged, not retried for
    // days.
    let record = match message_id(&body) {
        Ok(id) => Outgoing::record(id, body.to_vec()),
        Err(reason) => {
            tracing::warn!(reason, "pubsub-push: not a push envelope, dead-lettered");
            Outgoing {
                key: None,
                payload: body.to_vec(),
                refused: Some(reason),
            }
        }
    };
    match receiver.write(vec![record]).await {
        Ok(()) => Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(axum::body::Body::empty())
            .unwrap_or_default(),
        Err(reason) => {
            tracing::warn!(reason, "pubsub-push: not delivered");
            json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &value!({"error": reason}),
            )
        }
    }
}

/// The message id of a push envelope (`None` when it has none).
fn message_id(body: &[u8]) -> Result<Option<String>, String> {
    let envelope: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let message = envelope
        .get("message")
        .filter(|m| m.is_object())
        .ok_or("not a Pub/Sub push envelope: no message")?;
    if !envelope.get("subscription").is_some_and(Value::is_string) {
        return Err("not a Pub/Sub push envelope: no subscription".to_owned());
    }
    Ok(message
        .get("messageId")
        .or_else(|| message.get("message_id"))
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned))
}
