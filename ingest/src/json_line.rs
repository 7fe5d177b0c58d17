//! JSON application log lines (the fallback for JSON that is no known envelope): common message, level and
//! time fields are recognised; other scalar fields become attributes (bounded).

use crate::decoded::{Claims, Decoded};
use schemas::{SourceFormat, Stream};
use serde_json::{Map, Value};

const MESSAGE_KEYS: [&str; 5] = ["message", "msg", "log", "MESSAGE", "textPayload"];
const LEVEL_KEYS: [&str; 5] = ["level", "severity", "lvl", "levelname", "log.level"];
const TIME_KEYS: [&str; 5] = ["time", "timestamp", "ts", "@timestamp", "Timestamp"];
/// At most this many extra fields become attributes.
const MAX_ATTRIBUTES: usize = 32;

/// Decodes one JSON application line (any JSON value; objects get their fields recognised).
#[must_use]
pub(crate) fn decode(value: &Value) -> Decoded {
    let Some(obj) = value.as_object() else {
        let mut decoded = Decoded::new(SourceFormat::JsonLine, value.to_string());
        decoded.severity = crate::severity::detect_in_text(&decoded.message);
        return decoded;
    };
    let message_key = MESSAGE_KEYS
        .iter()
        .find(|k| obj.get(**k).is_some_and(Value::is_string));
    let message = match message_key {
        Some(key) => obj[*key]
            .as_str()
            .unwrap_or_default()
            .trim_end_matches(['\n', '\r'])
            .to_owned(),
        None => value.to_string(),
    };
    let mut decoded = Decoded::new(SourceFormat::JsonLine, message);
    decoded.severity = LEVEL_KEYS
        .iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_str))
        .and_then(crate::severity::from_level_name)
        .unwrap_or_else(|| crate::severity::detect_in_text(&decoded.message));
    decoded.event_time_ns = TIME_KEYS.iter().find_map(|k| obj.get(*k).and_then(time_ns));
    decoded.stream = match obj.get("stream").and_then(Value::as_str) {
        Some("stdout") => Some(Stream::Stdout),
        Some("stderr") => Some(Stream::Stderr),
        _ => None,
    };
    apply_agent_metadata(obj, &mut decoded);
    for (key, value) in obj
        .iter()
        .filter(|(k, _)| Some(&k.as_str()) != message_key)
        .take(MAX_ATTRIBUTES)
    {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => continue,
        };
        decoded.attributes.insert(key.clone(), text);
    }
    decoded
}

/// Pod coordinates added by node agents, in their `kubernetes` object (Fluent Bit's `pod_name`,
/// `namespace_name`, `container_name`, `host`, `ownerReferences`; Vector's `pod_name`, `pod_namespace`,
/// `container_name`, `pod_node_name`, `pod_owner`), or a kubelet log path in `file`; the workload from
/// the controlling owner reference, the owner, or the pod-name convention.
///
/// Flat top-level keys (`kubernetes.pod_namespace`, …) are where shippers that merge the application's
/// JSON into the record root (Fluent Bit `Merge_Log`, Vector `parse_json` + merge) put the application's
/// own keys: they are only claims ([`Claims`]), never the record's identity.
fn apply_agent_metadata(obj: &Map<String, Value>, decoded: &mut Decoded) {
    let text = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let nested = obj.get("kubernetes").and_then(Value::as_object);
    let agent = |names: &[&str]| text(nested.and_then(|k| names.iter().find_map(|n| k.get(*n))));
    let flat = |name: &str| text(obj.get(&format!("kubernetes.{name}")));
    decoded.claims = Claims {
        namespace: flat("pod_namespace"),
        pod: flat("pod_name"),
        container: flat("container_name"),
        node: flat("pod_node_name"),
        owner: flat("pod_owner"),
    };
    let resource = &mut decoded.resource;
    resource.pod = agent(&["pod_name"]);
    resource.namespace = agent(&["namespace_name", "pod_namespace"]);
    resource.container = agent(&["container_name"]);
    resource.node = agent(&["host", "pod_node_name"]);
    if resource.pod.is_none()
        && let Some(path) = obj
            .get("file")
            .and_then(Value::as_str)
            .and_then(crate::log_path::parse)
    {
        resource.namespace = Some(path.namespace.to_owned());
        resource.pod = Some(path.pod.to_owned());
        resource.container = Some(path.container.to_owned());
    }
    // The controlling owner reference (Fluent Bit with `Owner_References On`) names the workload exactly.
    let controller = nested
        .and_then(|k| k.get("ownerReferences"))
        .and_then(Value::as_array)
        .and_then(|refs| {
            refs.iter()
                .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
                .or_else(|| refs.first())
        })
        .and_then(|r| Some((r.get("kind")?.as_str()?, r.get("name")?.as_str()?)));
    // The stage decides whether the owner becomes the workload (see `complete_resource`).
    let owner = agent(&["pod_owner"]);
    decoded.owner = controller
        .or_else(|| owner.as_deref().and_then(|o| o.split_once('/')))
        .map(|(kind, name)| (kind.to_owned(), name.to_owned()));
}

/// An RFC 3339 string, or epoch seconds / milliseconds / nanoseconds as a number.
fn time_ns(value: &Value) -> Option<i64> {
    match value {
        Value::String(s) => crate::time::rfc3339_ns(s),
        Value::Number(n) => {
            let v = n.as_f64()?;
            #[allow(
                clippy::cast_possible_truncation,
                reason = "epoch values fit i64 ns until 2262"
            )]
            let ns = if v > 1e17 {
                v as i64
            } else if v > 1e11 {
                (v * 1e6) as i64
            } else {
                (v * 1e9) as i64
            };
            Some(ns)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::LogSeverity;

    #[test]
    fn recognises_common_fields() {
        let value = serde_json::json!({"ts": 1_700_000_000.5, "level": "error", "msg": "db timeout", "retries": 3});
        let decoded = decode(&value);
        assert_eq!(decoded.message, "db timeout");
        assert_eq!(decoded.severity, LogSeverity::Error);
        assert_eq!(decoded.event_time_ns, Some(1_700_000_000_500_000_000));
        assert_eq!(
            decoded.attributes.get("retries").map(String::as_str),
            Some("3")
        );
        assert!(!decoded.attributes.contains_key("msg"));
    }

    #[test]
    fn keeps_the_whole_document_without_a_message_field() {
        assert_eq!(decode(&serde_json::json!({"a": 1})).message, r#"{"a":1}"#);
        assert_eq!(decode(&serde_json::json!([1, 2])).message, "[1,2]");
    }
}
