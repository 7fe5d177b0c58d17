//! AWS CloudWatch Logs subscription payloads: `{messageType, owner, logGroup, logStream,
//! subscriptionFilters, logEvents: [{id, timestamp, message, extractedFields?}]}`. The transport wrappers
//! around them (Lambda `awslogs`, Kinesis, Firehose, gzip, base64) are unwrapped in [`crate::decode`].

use crate::decoded::Decoded;
use crate::reject::{Reason, Reject};
use crate::{log_path, severity};
use schemas::SourceFormat;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Whether a JSON object is a CloudWatch Logs subscription document.
pub(crate) fn looks_like_cloudwatch(obj: &serde_json::Map<String, Value>) -> bool {
    obj.contains_key("messageType") && obj.contains_key("logEvents")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    message_type: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    log_group: String,
    #[serde(default)]
    log_stream: String,
    #[serde(default)]
    log_events: Vec<LogEvent>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogEvent {
    #[serde(default)]
    id: String,
    timestamp: i64,
    message: String,
    #[serde(default)]
    extracted_fields: BTreeMap<String, Value>,
}

/// A decoded document: its records, or `None` for a `CONTROL_MESSAGE` (a health check to drop).
pub(crate) fn decode(value: Value) -> Result<Option<Vec<Decoded>>, Reject> {
    let doc: Document =
        serde_json::from_value(value).map_err(|e| Reject::json("CloudWatch Logs payload", &e))?;
    match doc.message_type.as_str() {
        "CONTROL_MESSAGE" => return Ok(None),
        "DATA_MESSAGE" => {}
        other => {
            return Err(Reject::shape(format!(
                "CloudWatch Logs messageType {other:?} is neither DATA_MESSAGE nor CONTROL_MESSAGE"
            )));
        }
    }
    let cluster = cluster_of(&doc.log_group);
    let stream_path = doc
        .log_stream
        .replace("var.log.containers.", "/var/log/containers/");
    let pod_path = log_path::parse(&stream_path);
    let mut records = Vec::with_capacity(doc.log_events.len());
    for event in doc.log_events {
        let ns = event.timestamp.checked_mul(1_000_000).ok_or_else(|| {
            Reject::new(
                Reason::AbsurdTimestamp,
                format!("timestamp {} ms overflows", event.timestamp),
            )
        })?;
        let mut record = Decoded::new(SourceFormat::Cloudwatch, event.message);
        record.event_time_ns = Some(ns);
        record.severity = severity::detect_in_text(&record.message);
        let resource = &mut record.resource;
        resource.cloud = Some("aws".to_owned());
        resource.account = Some(doc.owner.clone()).filter(|o| !o.is_empty());
        resource.cluster.clone_from(&cluster);
        if let Some(path) = pod_path {
            resource.namespace = Some(path.namespace.to_owned());
            resource.pod = Some(path.pod.to_owned());
            resource.container = Some(path.container.to_owned());
        }
        let attributes = &mut record.attributes;
        attributes.insert("aws.log_group".to_owned(), doc.log_group.clone());
        attributes.insert("aws.log_stream".to_owned(), doc.log_stream.clone());
        if !event.id.is_empty() {
            attributes.insert("aws.event_id".to_owned(), event.id);
        }
        for (key, value) in event.extracted_fields {
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            match key.as_str() {
                "@aws.account" => record.resource.account = Some(text),
                "@aws.region" => record.resource.region = Some(text),
                _ => {
                    record.attributes.insert(format!("aws.field.{key}"), text);
                }
            }
        }
        records.push(record);
    }
    Ok(Some(records))
}

/// The EKS cluster a log group belongs to: `/aws/containerinsights/<cluster>/…` or `/aws/eks/<cluster>/…`.
fn cluster_of(log_group: &str) -> Option<String> {
    let rest = log_group
        .strip_prefix("/aws/containerinsights/")
        .or_else(|| log_group.strip_prefix("/aws/eks/"))?;
    rest.split('/')
        .next()
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_from_log_groups() {
        assert_eq!(
            cluster_of("/aws/containerinsights/prod-eu/application").as_deref(),
            Some("prod-eu")
        );
        assert_eq!(
            cluster_of("/aws/eks/prod-eu/cluster").as_deref(),
            Some("prod-eu")
        );
        assert_eq!(cluster_of("testLogGroup"), None);
    }

    #[test]
    fn container_insights_streams_name_the_pod() {
        let id = "0".repeat(64);
        let doc = serde_json::json!({
            "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/containerinsights/c1/application",
            "logStream": format!("ip-10-0-0-1.ec2.internal-application.var.log.containers.web-7d9c7f5b9d-x2x7q_shop_app-{id}.log"),
            "logEvents": [{"id": "1", "timestamp": 1_700_000_000_000_i64, "message": "ERROR boom"}]
        });
        let records = decode(doc).expect("decodes").expect("data");
        let r = &records[0].resource;
        assert_eq!(
            (
                r.cluster.as_deref(),
                r.namespace.as_deref(),
                r.pod.as_deref()
            ),
            (Some("c1"), Some("shop"), Some("web-7d9c7f5b9d-x2x7q"))
        );
        assert_eq!(records[0].severity, schemas::LogSeverity::Error);
    }

    #[test]
    fn unknown_message_types_and_wrong_types_are_rejected() {
        let bad_type = serde_json::json!({"messageType": "PING", "logEvents": []});
        assert_eq!(
            decode(bad_type).expect_err("type").reason,
            Reason::WrongShape
        );
        let bad_field = serde_json::json!({"messageType": "DATA_MESSAGE", "logEvents": [{"timestamp": "soon", "message": "x"}]});
        assert_eq!(
            decode(bad_field).expect_err("field").reason,
            Reason::WrongShape
        );
    }
}
