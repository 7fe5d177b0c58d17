//! GCP Cloud Logging `LogEntry` (as written by log sinks): exactly one of `textPayload`, `jsonPayload`,
//! `protoPayload`; `resource.type` + `resource.labels` name where it came from; `severity` is the
//! Cloud Logging enum; `logName` is `projects/P/logs/<URL-encoded log id>`.

use crate::decoded::Decoded;
use crate::reject::{Reason, Reject};
use crate::{severity, time};
use schemas::{LogSeverity, SourceFormat, Stream, Workload};
use serde_json::{Map, Value};

/// Whether a JSON object is a LogEntry.
pub(crate) fn looks_like_log_entry(obj: &Map<String, Value>) -> bool {
    obj.get("logName").is_some_and(Value::is_string)
        || (obj.get("resource").and_then(|r| r.get("type")).is_some()
            && [
                "textPayload",
                "jsonPayload",
                "protoPayload",
                "insertId",
                "severity",
            ]
            .iter()
            .any(|k| obj.contains_key(*k)))
}

fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, k| v.get(k))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Maps the Cloud Logging severity (name or number) to a normalised severity.
fn severity_of(value: Option<&Value>) -> LogSeverity {
    match value {
        Some(Value::String(name)) => match name.as_str() {
            "DEBUG" => LogSeverity::Debug,
            "INFO" => LogSeverity::Info,
            "NOTICE" => LogSeverity::Notice,
            "WARNING" => LogSeverity::Warning,
            "ERROR" => LogSeverity::Error,
            "CRITICAL" => LogSeverity::Critical,
            "ALERT" => LogSeverity::Alert,
            "EMERGENCY" => LogSeverity::Emergency,
            _ => LogSeverity::Unspecified,
        },
        Some(Value::Number(n)) => match n.as_u64().unwrap_or(0) {
            100..=199 => LogSeverity::Debug,
            200..=299 => LogSeverity::Info,
            300..=399 => LogSeverity::Notice,
            400..=499 => LogSeverity::Warning,
            500..=599 => LogSeverity::Error,
            600..=699 => LogSeverity::Critical,
            700..=799 => LogSeverity::Alert,
            800.. => LogSeverity::Emergency,
            _ => LogSeverity::Unspecified,
        },
        _ => LogSeverity::Unspecified,
    }
}

/// Decodes `%XX` escapes (log ids such as `run.googleapis.com%2Frequests`); invalid escapes stay as is.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            #[allow(clippy::cast_possible_truncation, reason = "two hex digits fit a byte")]
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The message of an entry: the text payload, a JSON payload's `message`/`msg` (else the payload as
/// JSON), an audit log's method and resource, or the HTTP request line.
fn message_of(entry: &Value) -> String {
    if let Some(text) = text(entry, &["textPayload"]) {
        return text.to_owned();
    }
    if let Some(payload) = entry.get("jsonPayload") {
        return ["message", "msg"]
            .iter()
            .find_map(|k| text(payload, &[k]))
            .map_or_else(|| payload.to_string(), str::to_owned);
    }
    if let Some(proto) = entry.get("protoPayload") {
        let method = text(proto, &["methodName"]).unwrap_or("");
        let resource = text(proto, &["resourceName"]).unwrap_or("");
        let status = text(proto, &["status", "message"]).unwrap_or("");
        return format!("{method} {resource} {status}").trim().to_owned();
    }
    if let Some(http) = entry.get("httpRequest") {
        let status = http.get("status").map(Value::to_string).unwrap_or_default();
        return format!(
            "{} {} {status} {}",
            text(http, &["requestMethod"]).unwrap_or("-"),
            text(http, &["requestUrl"]).unwrap_or("-"),
            text(http, &["latency"]).unwrap_or("")
        )
        .trim()
        .to_owned();
    }
    String::new()
}

/// Decodes one LogEntry.
///
/// # Errors
/// [`Reason::WrongShape`] for an entry that is not an object, [`Reason::BadTimestamp`] for an
/// unparseable timestamp.
pub(crate) fn decode(entry: &Value) -> Result<Decoded, Reject> {
    if !entry.is_object() {
        return Err(Reject::shape("LogEntry is not a JSON object"));
    }
    let mut record = Decoded::new(SourceFormat::GcpLogEntry, message_of(entry));
    let parse_time = |key: &str| -> Result<Option<i64>, Reject> {
        match text(entry, &[key]) {
            None => Ok(None),
            Some(t) => time::rfc3339_ns(t)
                .map(Some)
                .ok_or_else(|| Reject::new(Reason::BadTimestamp, format!("LogEntry {key} {t:?}"))),
        }
    };
    record.event_time_ns = parse_time("timestamp")?;
    record.observed_time_ns = parse_time("receiveTimestamp")?;
    record.severity = match severity_of(entry.get("severity")) {
        LogSeverity::Unspecified => entry
            .get("jsonPayload")
            .and_then(|p| {
                ["severity", "level"]
                    .iter()
                    .find_map(|k| p.get(*k).and_then(Value::as_str))
            })
            .and_then(severity::from_level_name)
            .unwrap_or_else(|| severity::detect_in_text(&record.message)),
        known => known,
    };

    let labels = entry.get("resource").and_then(|r| r.get("labels"));
    let label = |k: &str| labels.and_then(|l| text(l, &[k])).map(str::to_owned);
    let resource_type = text(entry, &["resource", "type"]).unwrap_or_default();
    let log_name = text(entry, &["logName"]).unwrap_or_default();
    let r = &mut record.resource;
    r.cloud = Some("gcp".to_owned());
    r.project = label("project_id").or_else(|| {
        log_name
            .strip_prefix("projects/")
            .and_then(|p| p.split('/').next())
            .map(str::to_owned)
    });
    r.region = label("location")
        .or_else(|| label("zone"))
        .or_else(|| label("region"));
    r.cluster = label("cluster_name");
    r.namespace = label("namespace_name");
    r.pod = label("pod_name");
    r.container = label("container_name");
    r.node = label("node_name").or_else(|| {
        (resource_type == "gce_instance")
            .then(|| label("instance_id"))
            .flatten()
    });
    r.workload = match resource_type {
        "cloud_run_revision" | "cloud_run_job" => label("service_name")
            .or_else(|| label("job_name"))
            .map(|name| Workload {
                kind: if resource_type == "cloud_run_job" {
                    "CloudRunJob"
                } else {
                    "CloudRunService"
                }
                .to_owned(),
                name,
            }),
        // Only the pod: the stage names its workload from the pod's name (ingest.infer_workloads).
        _ => None,
    };

    let log_id = percent_decode(log_name.split("/logs/").nth(1).unwrap_or_default());
    record.stream = match log_id.as_str() {
        "stdout" => Some(Stream::Stdout),
        "stderr" => Some(Stream::Stderr),
        _ => None,
    };
    let attributes = &mut record.attributes;
    attributes.insert("gcp.resource_type".to_owned(), resource_type.to_owned());
    if !log_id.is_empty() {
        attributes.insert("gcp.log_id".to_owned(), log_id);
    }
    for key in ["insertId", "trace", "spanId"] {
        if let Some(v) = text(entry, &[key]) {
            attributes.insert(format!("gcp.{key}"), v.to_owned());
        }
    }
    if let Some(status) = entry.get("httpRequest").and_then(|h| h.get("status")) {
        attributes.insert("http.status".to_owned(), status.to_string());
    }
    if let Some(Value::Object(entry_labels)) = entry.get("labels") {
        for (k, v) in entry_labels.iter().take(32) {
            if let Some(v) = v.as_str() {
                attributes.insert(format!("gcp.label.{k}"), v.to_owned());
            }
        }
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_by_name_and_number() {
        let cases = [
            (serde_json::json!("WARNING"), LogSeverity::Warning),
            (serde_json::json!("DEFAULT"), LogSeverity::Unspecified),
            (serde_json::json!(500), LogSeverity::Error),
            (serde_json::json!(800), LogSeverity::Emergency),
        ];
        for (value, expected) in cases {
            assert_eq!(severity_of(Some(&value)), expected, "{value}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("run.googleapis.com%2Frequests"),
            "run.googleapis.com/requests"
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%2f"), "%zz/");
    }

    #[test]
    fn text_payload_on_a_k8s_pod_with_stderr_log() {
        let entry = serde_json::json!({
            "logName": "projects/p1/logs/stderr", "textPayload": "panic: runtime error",
            "timestamp": "2024-05-05T10:32:19.440152Z", "severity": "ERROR",
            "resource": {"type": "k8s_container", "labels": {"project_id": "p1", "cluster_name": "c", "namespace_name": "shop",
                "pod_name": "web-7d9c7f5b9d-x2x7q", "container_name": "app", "location": "europe-west1"}}
        });
        let record = decode(&entry).expect("decodes");
        assert_eq!(record.message, "panic: runtime error");
        assert_eq!(record.stream, Some(Stream::Stderr));
        record.assert_workload_left_to_the_stage("web-");
        assert_eq!(record.resource.project.as_deref(), Some("p1"));
        assert_eq!(
            decode(&serde_json::json!({"timestamp": "noon", "logName": "x"}))
                .expect_err("time")
                .reason,
            Reason::BadTimestamp
        );
    }
}
