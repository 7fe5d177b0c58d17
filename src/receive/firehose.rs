//! Amazon Kinesis Data Firehose's HTTP endpoint delivery: `POST` with `X-Amz-Firehose-Access-Key`,
//! body `{"requestId", "timestamp", "records": [{"data": base64}]}` (gzip when the stream's content
//! encoding says so); the answer Firehose expects is `200 {"requestId", "timestamp"}`, or an error
//! status with `{"requestId", "timestamp", "errorMessage"}` (Firehose then retries).
//!
//! Each record's data is written as one Kafka record, keyed by the request id so a request's records
//! stay in order on one partition: a gzip CloudWatch Logs subscription document, or whatever a
//! direct-put producer wrote — ingest decodes both.

use super::{Outgoing, Receiver, json};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde::Deserialize;
use serde_json::json as value;

/// The header carrying the access key configured on the delivery stream.
pub const ACCESS_KEY_HEADER: &str = "x-amz-firehose-access-key";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryRequest {
    request_id: String,
    #[allow(
        dead_code,
        reason = "part of the format; the answer carries medic's own time"
    )]
    timestamp: i64,
    records: Vec<DeliveryRecord>,
}

#[derive(Deserialize)]
struct DeliveryRecord {
    data: String,
}

/// The request id Firehose sent in its header (empty when none).
pub(super) fn request_id(headers: &HeaderMap) -> &str {
    headers
        .get("x-amz-firehose-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

pub(super) async fn handle(receiver: &Receiver, headers: &HeaderMap, body: Bytes) -> Response {
    let header_id = request_id(headers).to_owned();
    let gzipped = headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let limit = receiver.max_body_bytes;
    // Inflating and parsing up to the body limit is CPU work: off the async workers.
    let parsed = tokio::task::spawn_blocking(move || {
        let request = read(&body, gzipped, limit)?;
        let records = records(&request)?;
        Ok::<_, String>((request.request_id, records))
    })
    .await
    .unwrap_or_else(|e| Err(format!("parsing failed: {e}")));
    let (request_id, records) = match parsed {
        Ok(parsed) => parsed,
        Err(reason) => {
            receiver.metrics.add_event("receive.malformed", 1);
            tracing::warn!(
                request_id = header_id,
                reason,
                "firehose: a malformed request, refused"
            );
            return answer(StatusCode::BAD_REQUEST, &header_id, Some(&reason));
        }
    };
    let count = records.len();
    match receiver.write(records).await {
        Ok(()) => {
            tracing::debug!(request_id, records = count, "firehose: delivered");
            answer(StatusCode::OK, &request_id, None)
        }
        Err(reason) => {
            tracing::warn!(request_id, reason, "firehose: not delivered");
            answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                &request_id,
                Some(&reason),
            )
        }
    }
}

/// The request, inflated when gzipped (to at most `limit` bytes).
fn read(body: &[u8], gzipped: bool, limit: usize) -> Result<DeliveryRequest, String> {
    let inflated;
    let body = if gzipped {
        // Ingest's bounded inflation: a gzip bomb is refused, never inflated.
        inflated = ingest::inflate(body, limit).map_err(|refused| match refused.reason {
            ingest::Reason::GzipTooLarge => format!("inflates beyond {limit} bytes"),
            _ => refused.detail,
        })?;
        &inflated[..]
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| format!("not a Firehose delivery request: {e}"))
}

/// Each record's data, base64-decoded, keyed by the request id.
fn records(request: &DeliveryRequest) -> Result<Vec<Outgoing>, String> {
    request
        .records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            let payload = base64::engine::general_purpose::STANDARD
                .decode(&record.data)
                .map_err(|e| format!("record {i}: data is not base64: {e}"))?;
            Ok(Outgoing::record(Some(request.request_id.clone()), payload))
        })
        .collect()
}

/// The answer Firehose reads: its request id, this time (ms), and an error message on failure.
pub(super) fn answer(status: StatusCode, request_id: &str, error: Option<&str>) -> Response {
    let timestamp = schemas::clock::wall_clock_ns() / 1_000_000;
    let body = match error {
        None => value!({"requestId": request_id, "timestamp": timestamp}),
        Some(message) => {
            value!({"requestId": request_id, "timestamp": timestamp, "errorMessage": message})
        }
    };
    json(status, &body)
}
