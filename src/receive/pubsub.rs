//! Google Cloud Pub/Sub push delivery: `POST` of `{"message": {"data": base64, "attributes",
//! "messageId", "publishTime"}, "subscription"}` to the subscription's push endpoint; any 2xx is an
//! acknowledgement, anything else is retried. The endpoint is authenticated by a shared token in its
//! URL (`https://…/?token=…`, as Google documents for push endpoints); the OIDC token Pub/Sub can also
//! attach is not verified here (that needs Google's signing keys).
//!
//! The envelope is written whole, keyed by its message id: ingest decodes push envelopes (and the Cloud
//! Logging `LogEntry` inside).

use super::{Outgoing, Receiver, json, secret_matches};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json as value};

pub(super) async fn handle(receiver: &Receiver, uri: &Uri, body: &[u8]) -> Response {
    let token = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="));
    if !token.is_some_and(|t| secret_matches(t.as_bytes(), receiver.secret.as_bytes())) {
        tracing::warn!("pubsub-push: a request without the token, refused");
        return json(StatusCode::UNAUTHORIZED, &value!({"error": "bad token"}));
    }
    let message_id = match message_id(body) {
        Ok(id) => id,
        Err(reason) => {
            tracing::warn!(reason, "pubsub-push: a malformed request, refused");
            return json(StatusCode::BAD_REQUEST, &value!({"error": reason}));
        }
    };
    let record = Outgoing {
        key: Some(message_id),
        payload: body.to_vec(),
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

/// The message id of a push envelope.
fn message_id(body: &[u8]) -> Result<String, String> {
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
        .unwrap_or_default()
        .to_owned())
}
