//! JSON application log lines (the fallback for JSON that is no known envelope): common message, level and
//! time fields are recognised; other scalar fields become attributes (bounded).

use crate::decoded::Decoded;
use schemas::{SourceFormat, StageError};
use serde_json::{Map, Value};

const MESSAGE_KEYS: [&str; 5] = ["message", "msg", "log", "MESSAGE", "textPayload"];
const LEVEL_KEYS: [&str; 5] = ["level", "severity", "lvl", "levelname", "log.level"];
const TIME_KEYS: [&str; 5] = ["time", "timestamp", "ts", "@timestamp", "Timestamp"];
/// At most this many extra fields become attributes.
const MAX_ATTRIBUTES: usize = 32;

/// Decodes one JSON application line.
///
/// # Errors
/// [`schemas::ErrorKind::Decode`] when the text is not a JSON object.
pub(crate) fn decode(text: &str) -> Result<Decoded, StageError> {
    let obj: Map<String, Value> = serde_json::from_str(text)
        .map_err(|e| StageError::decode(format!("JSON log line is not a JSON object: {e}")))?;
    let message_key = MESSAGE_KEYS
        .iter()
        .find(|k| obj.get(**k).is_some_and(Value::is_string));
    let message = match message_key {
        Some(key) => obj[*key].as_str().unwrap_or_default().to_owned(),
        None => text.trim().to_owned(),
    };
    let mut decoded = Decoded::new(SourceFormat::JsonLine, message);
    decoded.severity = LEVEL_KEYS
        .iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_str))
        .and_then(crate::severity::from_level_name)
        .unwrap_or_else(|| crate::severity::detect_in_text(&decoded.message));
    decoded.event_time_ns = TIME_KEYS.iter().find_map(|k| obj.get(*k).and_then(time_ns));
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
    Ok(decoded)
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
        let decoded =
            decode(r#"{"ts":1700000000.5,"level":"error","msg":"db timeout","retries":3}"#)
                .expect("decodes");
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
    fn keeps_whole_line_without_a_message_field() {
        let decoded = decode(r#"{"a":1}"#).expect("decodes");
        assert_eq!(decoded.message, r#"{"a":1}"#);
        assert!(decode("[1,2]").is_err());
    }
}
