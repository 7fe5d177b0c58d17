//! Azure Monitor resource logs, as Event Hubs delivers them: `{"records": [ … ]}`. Each record has
//! `time`, `resourceId`, `category`, `operationName`, `properties`, and optional `level`/`Level` (the
//! casing varies by service), `durationMs` (often a string), `resultType`, `callerIpAddress`, ….
//! AKS control-plane records carry a klog line (or, for `kube-audit*`, an audit Event as a JSON string)
//! in `properties.log`; ContainerLogV2 rows (exported from Log Analytics) carry container logs.

use crate::decoded::Decoded;
use crate::reject::{Reason, Reject};
use crate::{klog, relaxed_json, severity, time};
use schemas::{LogSeverity, SourceFormat, Stream};
use serde_json::{Map, Value};

/// Whether a JSON object is one resource-log record (not the `{"records": …}` wrapper).
pub(crate) fn looks_like_record(obj: &Map<String, Value>) -> bool {
    is_container_log_v2(obj)
        || (obj.contains_key("time")
            && ["resourceId", "category", "operationName"]
                .iter()
                .any(|k| obj.contains_key(*k)))
}

/// Properties whose parse guessed string ends, reduced to what cannot choose a record's identity:
/// `log`, `pod` and `stream` (which name the container, its time and severity) are dropped.
pub(crate) fn message_only(mut properties: Value) -> Value {
    if let Some(p) = properties.as_object_mut() {
        for key in ["log", "pod", "stream"] {
            p.remove(key);
        }
    }
    properties
}

/// Whether a batch read from single-quoted pseudo-JSON may be used: every record an Azure Functions or
/// App Service record (`FunctionAppLogs`, `AppService…`) of one and the same `Microsoft.Web` resource,
/// so text forged into a message can add no record of another kind or resource. Its records' properties
/// are reduced by [`message_only`].
pub(crate) fn accept_relaxed_batch(batch: &mut Value) -> bool {
    let Some(records) = batch.get_mut("records").and_then(Value::as_array_mut) else {
        return false;
    };
    let resource = |r: &Value| {
        r.as_object()
            .and_then(|o| field_text(o, "resourceId"))
            .map(|id| id.to_ascii_uppercase())
    };
    let Some(first) = records.first().and_then(resource) else {
        return false;
    };
    let web_app = |r: &Value| {
        let category = r
            .as_object()
            .and_then(|o| field_text(o, "category"))
            .unwrap_or_default();
        (category == "FunctionAppLogs" || category.starts_with("AppService"))
            && resource(r).as_deref() == Some(first.as_str())
    };
    if !first.contains("/PROVIDERS/MICROSOFT.WEB/") || !records.iter().all(web_app) {
        return false;
    }
    for record in records.iter_mut() {
        if let Some(properties) = record.get_mut("properties") {
            *properties = message_only(properties.take());
        }
    }
    true
}

/// Whether a JSON object is the Event Hubs `{"records": [ … ]}` body of resource logs.
pub(crate) fn looks_like_batch(obj: &Map<String, Value>) -> bool {
    obj.get("records")
        .and_then(Value::as_array)
        .is_some_and(|records| {
            records
                .first()
                .and_then(Value::as_object)
                .is_none_or(looks_like_record)
        })
}

fn is_container_log_v2(obj: &Map<String, Value>) -> bool {
    obj.contains_key("LogMessage")
        && (obj.contains_key("PodName") || obj.contains_key("ContainerName"))
}

/// Looks a key up case-insensitively (`level` / `Level`, `time` / `Time`).
fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn field_text(obj: &Map<String, Value>, key: &str) -> Option<String> {
    match field(obj, key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn level(name: &str) -> LogSeverity {
    match name.to_ascii_lowercase().as_str() {
        "informational" | "information" => LogSeverity::Info,
        "verbose" => LogSeverity::Debug,
        other => severity::from_level_name(other).unwrap_or(LogSeverity::Unspecified),
    }
}

/// Subscription, resource group and (for AKS) cluster from an upper-cased ARM resource id.
fn apply_resource_id(record: &mut Decoded, resource_id: &str) {
    let parts: Vec<&str> = resource_id.split('/').filter(|p| !p.is_empty()).collect();
    let after = |name: &str| {
        parts
            .iter()
            .position(|p| p.eq_ignore_ascii_case(name))
            .and_then(|i| parts.get(i + 1))
            .map(|v| v.to_ascii_lowercase())
    };
    record.resource.account = after("subscriptions");
    record.resource.project = after("resourcegroups");
    record.resource.cluster = after("managedclusters");
    record
        .attributes
        .insert("azure.resource_id".to_owned(), resource_id.to_owned());
}

fn time_of(obj: &Map<String, Value>, key: &str) -> Result<Option<i64>, Reject> {
    match field(obj, key).and_then(Value::as_str) {
        None => Ok(None),
        Some(t) => time::rfc3339_ns(t)
            .or_else(|| time::us_datetime_ns(t))
            .map(Some)
            .ok_or_else(|| Reject::new(Reason::BadTimestamp, format!("Azure record {key} {t:?}"))),
    }
}

/// Decodes one resource-log record (or ContainerLogV2 row).
///
/// # Errors
/// [`Reason::WrongShape`] for a record that is not an object or whose embedded audit Event is not JSON;
/// [`Reason::BadTimestamp`] for an unparseable time.
pub(crate) fn decode(value: &Value) -> Result<Decoded, Reject> {
    let obj = value
        .as_object()
        .ok_or_else(|| Reject::shape("Azure resource-log record is not a JSON object"))?;
    if is_container_log_v2(obj) {
        return container_log_v2(obj);
    }
    // Azure Functions and App Service write `properties` as a string of single-quoted pseudo-JSON,
    // whose string ends are guessed: a message can forge keys, so only its text is read from it.
    let parsed_properties = match field(obj, "properties") {
        Some(Value::String(text)) if text.trim_start().starts_with('{') => {
            relaxed_json::parse(text).map(message_only)
        }
        _ => None,
    };
    let properties = parsed_properties
        .as_ref()
        .or_else(|| field(obj, "properties"))
        .and_then(Value::as_object);
    let category = field_text(obj, "category").unwrap_or_default();
    let mut record = Decoded::new(SourceFormat::AzureResourceLog, String::new());
    record.event_time_ns = time_of(obj, "time")?;
    record.resource.cloud = Some("azure".to_owned());
    record.resource.region = field_text(obj, "location");
    if let Some(id) = field_text(obj, "resourceId") {
        apply_resource_id(&mut record, &id);
    }
    record.severity = field_text(obj, "level").map_or(LogSeverity::Unspecified, |l| level(&l));
    for (key, name) in [
        ("category", "azure.category"),
        ("operationName", "azure.operation"),
        ("resultType", "azure.result_type"),
        ("resultSignature", "azure.result_signature"),
        ("durationMs", "azure.duration_ms"),
        ("callerIpAddress", "azure.caller_ip"),
        ("correlationId", "azure.correlation_id"),
    ] {
        if let Some(v) = field_text(obj, key) {
            record.attributes.insert(name.to_owned(), v);
        }
    }
    let log = properties
        .and_then(|p| p.get("log"))
        .and_then(Value::as_str);
    if let Some(p) = properties {
        record.resource.pod = p.get("pod").and_then(Value::as_str).map(str::to_owned);
        record.stream = match p.get("stream").and_then(Value::as_str) {
            Some("stdout") => Some(Stream::Stdout),
            Some("stderr") => Some(Stream::Stderr),
            _ => None,
        };
    }
    match log {
        Some(log) if category.starts_with("kube-audit") => audit_event(&mut record, log)?,
        Some(log) => klog_line(&mut record, log.trim_end()),
        None => {
            record.message = properties
                .and_then(|p| {
                    ["message", "Message", "msg"]
                        .iter()
                        .find_map(|k| p.get(*k).and_then(Value::as_str))
                })
                .map(str::to_owned)
                .or_else(|| field_text(obj, "resultDescription"))
                .or_else(|| field_text(obj, "operationName"))
                .unwrap_or_default();
            if record.severity == LogSeverity::Unspecified {
                record.severity = severity::detect_in_text(&record.message);
            }
        }
    }
    // Without an owner, the stage names the workload from the pod's name (ingest.infer_workloads).
    Ok(record)
}

fn klog_line(record: &mut Decoded, log: &str) {
    match klog::parse(log) {
        Some(line) => {
            record.severity = line.severity;
            if let Some(ns) = record
                .event_time_ns
                .and_then(|reference| line.time_ns(reference))
            {
                record.event_time_ns = Some(ns);
            }
            if !line.pid.is_empty() {
                record
                    .attributes
                    .insert("klog.pid".to_owned(), line.pid.to_owned());
            }
            record
                .attributes
                .insert("klog.source".to_owned(), line.source.to_owned());
            record.message = line.message.to_owned();
        }
        None => {
            record.message = log.to_owned();
            if record.severity == LogSeverity::Unspecified {
                record.severity = severity::detect_in_text(log);
            }
        }
    }
}

/// An audit.k8s.io Event inside `properties.log`.
fn audit_event(record: &mut Decoded, log: &str) -> Result<(), Reject> {
    let audit: Value =
        serde_json::from_str(log).map_err(|e| Reject::json("kube-audit properties.log", &e))?;
    let get = |path: &[&str]| {
        path.iter()
            .try_fold(&audit, |v, k| v.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let code = audit
        .get("responseStatus")
        .and_then(|s| s.get("code"))
        .and_then(Value::as_i64);
    record.message = format!(
        "{} {} {} by {}",
        get(&["verb"]),
        get(&["requestURI"]),
        code.map(|c| c.to_string()).unwrap_or_default(),
        get(&["user", "username"])
    );
    if let Some(t) = time::rfc3339_ns(get(&["stageTimestamp"])) {
        record.event_time_ns = Some(t);
    }
    record.severity = match code {
        Some(c) if c >= 500 => LogSeverity::Error,
        Some(c) if c >= 400 => LogSeverity::Warning,
        _ => LogSeverity::Info,
    };
    if let Some(ns) = Some(get(&["objectRef", "namespace"])).filter(|n| !n.is_empty()) {
        record.resource.namespace = Some(ns.to_owned());
    }
    for (key, path) in [
        ("audit.verb", &["verb"][..]),
        ("audit.user", &["user", "username"]),
        ("audit.resource", &["objectRef", "resource"]),
        ("audit.name", &["objectRef", "name"]),
        ("audit.id", &["auditID"]),
    ] {
        let v = get(path);
        if !v.is_empty() {
            record.attributes.insert(key.to_owned(), v.to_owned());
        }
    }
    if let Some(code) = code {
        record
            .attributes
            .insert("audit.code".to_owned(), code.to_string());
    }
    // The pod that wrote the record is the API server, not the object audited.
    record.resource.workload = None;
    Ok(())
}

/// A ContainerLogV2 row (Log Analytics table exported to Event Hubs).
fn container_log_v2(obj: &Map<String, Value>) -> Result<Decoded, Reject> {
    let message = match field(obj, "LogMessage") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let mut record = Decoded::new(SourceFormat::AzureResourceLog, message);
    record.event_time_ns = time_of(obj, "TimeGenerated")?;
    record.resource.cloud = Some("azure".to_owned());
    record.resource.pod = field_text(obj, "PodName");
    record.resource.namespace = field_text(obj, "PodNamespace");
    record.resource.container = field_text(obj, "ContainerName");
    record.resource.node = field_text(obj, "Computer");
    if let Some(id) = field_text(obj, "_ResourceId") {
        apply_resource_id(&mut record, &id);
    }
    record.stream = match field_text(obj, "LogSource").as_deref() {
        Some("stdout") => Some(Stream::Stdout),
        Some("stderr") => Some(Stream::Stderr),
        _ => None,
    };
    record.severity = field_text(obj, "LogLevel")
        .and_then(|l| severity::from_level_name(&l))
        .unwrap_or_else(|| severity::detect_in_text(&record.message));
    record
        .attributes
        .insert("azure.table".to_owned(), "ContainerLogV2".to_owned());
    if let Some(id) = field_text(obj, "ContainerId") {
        record.attributes.insert("container.id".to_owned(), id);
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_log_v2_rows() {
        let row = serde_json::json!({
            "TimeGenerated": "2025-01-01T10:00:00Z", "Computer": "aks-nodepool1-1-vmss000000",
            "ContainerId": "abc", "ContainerName": "app", "PodName": "web-7d9c7f5b9d-x2x7q", "PodNamespace": "shop",
            "LogMessage": {"level": "error", "msg": "db down"}, "LogSource": "stderr", "LogLevel": "ERROR",
            "_ResourceId": "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/aks1"
        });
        let record = decode(&row).expect("decodes");
        assert_eq!(record.severity, LogSeverity::Error);
        assert_eq!(record.resource.cluster.as_deref(), Some("aks1"));
        assert_eq!(
            record.resource.node.as_deref(),
            Some("aks-nodepool1-1-vmss000000")
        );
        record.assert_workload_left_to_the_stage("web-");
        assert!(record.message.contains("db down"));
    }

    #[test]
    fn level_casing_and_string_duration() {
        let record = decode(&serde_json::json!({"time": "2022-11-11T04:48:27Z", "category": "x", "Level": "Warning", "durationMs": "12"})).expect("ok");
        assert_eq!(record.severity, LogSeverity::Warning);
        assert_eq!(
            record
                .attributes
                .get("azure.duration_ms")
                .map(String::as_str),
            Some("12")
        );
        let bad =
            decode(&serde_json::json!({"time": "yesterday", "category": "x"})).expect_err("time");
        assert_eq!(bad.reason, Reason::BadTimestamp);
        let audit = serde_json::json!({"time": "2022-11-11T04:48:27Z", "category": "kube-audit", "properties": {"log": "{not json"}});
        assert_eq!(
            decode(&audit).expect_err("audit").reason,
            Reason::MalformedJson
        );
    }
}
