//! Decoding one input: transport wrappers (gzip, base64, Lambda `awslogs`, Kinesis, Firehose, Pub/Sub
//! push), then the envelope format (configured, or detected by shape and recorded), then limits and
//! sanity checks. Container lines (CRI, docker json-file) go through the partial-line [`Assembler`].

use crate::cri::{self, Assembler};
use crate::decoded::Decoded;
use crate::reject::{Reason, Reject};
use crate::{
    Format, azure, cloudwatch, docker_json, gcp, gzip, json_line, k8s_event, relaxed_json, severity,
};
use base64::Engine as _;
use schemas::SourceFormat;
use serde_json::{Map, Value};
use smallvec::SmallVec;

/// Bounds applied to every input.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub max_record_bytes: usize,
    pub max_decompressed_bytes: usize,
    pub max_records_per_input: usize,
    pub min_event_time_ns: i64,
    pub max_future_skew_ns: i64,
}

/// Envelopes nested deeper than this are refused (gzip in base64 in Kinesis in gzip …).
const MAX_DEPTH: u8 = 6;

/// What one input decoded into.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pub records: Vec<Decoded>,
    /// CloudWatch `CONTROL_MESSAGE`s seen (health checks, dropped).
    pub control_messages: u64,
    /// Whether invalid UTF-8 was replaced (the records are flagged `medic.lossy_utf8`).
    pub lossy_utf8: bool,
    /// Bytes decompressed so far, all gzip members of the input together.
    pub inflated_bytes: usize,
}

/// The decoder for one input.
pub(crate) struct Decoder<'a> {
    pub limits: &'a Limits,
    pub configured: Format,
    pub assembler: &'a mut Assembler,
    /// The log-stream identity for partial-line reassembly (message key, else topic/partition).
    pub stream_key: &'a str,
    /// The input's coordinates, which a reassembled message keeps from its first chunk.
    pub source: &'a schemas::SourceCoordinates,
    /// Whether the input is keyed by a kubelet log path: a container's own output, whose JSON is the
    /// application's and is never read as a Kubernetes Event or a cloud envelope.
    pub container_stream: bool,
    pub now_ns: i64,
    pub output: Output,
}

/// A transport wrapper around the real payload.
enum Wrapper<'v> {
    /// `{"awslogs": {"data": base64(gzip(CloudWatch JSON))}}`
    AwsLogs(&'v Value),
    /// Kinesis `{"Records": [{"kinesis": {"data": base64}}]}`
    Kinesis(&'v [Value]),
    /// Firehose transformation `{"records": [{"recordId", "data": base64}]}`, or Firehose's HTTP
    /// endpoint delivery request `{"requestId", "timestamp", "records": [{"data": base64}]}`
    Firehose(&'v [Value]),
    /// Pub/Sub push `{"message": {"data": base64, "attributes": {…}}, "subscription": …}`
    PubSub(&'v Value),
}

fn wrapper(obj: &Map<String, Value>) -> Option<Wrapper<'_>> {
    if let Some(data) = obj.get("awslogs").and_then(|a| a.get("data")) {
        return Some(Wrapper::AwsLogs(data));
    }
    let array = |key: &str| obj.get(key).and_then(Value::as_array).map(Vec::as_slice);
    if let Some(records) =
        array("Records").filter(|r| r.first().is_some_and(|f| f.get("kinesis").is_some()))
    {
        return Some(Wrapper::Kinesis(records));
    }
    if let Some(records) = array("records").filter(|r| {
        r.first()
            .is_some_and(|f| f.get("data").is_some() && f.get("recordId").is_some())
            || is_delivery_request(obj, r)
    }) {
        return Some(Wrapper::Firehose(records));
    }
    obj.get("message")
        .filter(|m| {
            m.get("data").is_some()
                && (obj.contains_key("subscription") || m.get("messageId").is_some())
        })
        .map(Wrapper::PubSub)
}

/// Whether a document is a Kubernetes list of objects: `EventList`, or `kubectl get … -o json`'s
/// `List`, with an `apiVersion` and `items` that are all objects with a `kind` (an application's own
/// `{"kind": "ShoppingList", "items": […]}` is none).
fn is_list(obj: &Map<String, Value>) -> bool {
    matches!(
        obj.get("kind").and_then(Value::as_str),
        Some("EventList" | "List")
    ) && obj.get("apiVersion").is_some_and(Value::is_string)
        && obj
            .get("items")
            .and_then(Value::as_array)
            .is_some_and(|items| items.iter().all(|i| i.get("kind").is_some()))
}

/// Whether a document is Firehose's HTTP endpoint delivery request, exactly: `requestId` (string),
/// `timestamp` (number) and `records`, each `{"data": base64 string}` — not an application's log line
/// that happens to carry a `requestId` and `records`.
fn is_delivery_request(obj: &Map<String, Value>, records: &[Value]) -> bool {
    obj.len() == 3
        && obj.get("requestId").is_some_and(Value::is_string)
        && obj.get("timestamp").is_some_and(Value::is_number)
        && !records.is_empty()
        && records.iter().all(|r| {
            r.as_object()
                .is_some_and(|r| r.len() == 1 && r.get("data").is_some_and(Value::is_string))
        })
}

/// The format of one JSON document, by its shape.
fn shape_of(obj: &Map<String, Value>) -> SourceFormat {
    if cloudwatch::looks_like_cloudwatch(obj) {
        SourceFormat::Cloudwatch
    } else if azure::looks_like_batch(obj) || azure::looks_like_record(obj) {
        SourceFormat::AzureResourceLog
    } else if gcp::looks_like_log_entry(obj) {
        SourceFormat::GcpLogEntry
    } else if obj.contains_key("log")
        && (obj.contains_key("stream") || obj.contains_key("time"))
        && !obj.contains_key("kubernetes")
    {
        SourceFormat::DockerJson
    } else if k8s_event::looks_like_event(obj) {
        SourceFormat::K8sEvent
    } else {
        SourceFormat::JsonLine
    }
}

fn configured_format(format: Format) -> Option<SourceFormat> {
    Some(match format {
        Format::Auto => return None,
        Format::Cri => SourceFormat::Cri,
        Format::DockerJson => SourceFormat::DockerJson,
        Format::K8sEvent => SourceFormat::K8sEvent,
        Format::JsonLine => SourceFormat::JsonLine,
        Format::PlainText => SourceFormat::PlainText,
        Format::Cloudwatch => SourceFormat::Cloudwatch,
        Format::GcpLogEntry => SourceFormat::GcpLogEntry,
        Format::AzureResourceLogs => SourceFormat::AzureResourceLog,
    })
}

fn base64_field(value: &Value, what: &str) -> Result<Vec<u8>, Reject> {
    let text = value
        .as_str()
        .ok_or_else(|| Reject::shape(format!("{what} is not a string")))?;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| Reject::new(Reason::InvalidBase64, format!("{what}: {e}")))
}

impl Decoder<'_> {
    /// Decodes raw bytes (the Kafka payload, or a wrapper's decoded data).
    pub(crate) fn bytes(&mut self, bytes: &[u8], depth: u8) -> Result<(), Reject> {
        if depth > MAX_DEPTH {
            return Err(Reject::new(
                Reason::TooDeep,
                format!("envelopes nested more than {MAX_DEPTH} deep"),
            ));
        }
        if gzip::is_gzip(bytes) {
            let limit = self.limits.max_decompressed_bytes;
            let inflated = gzip::inflate(bytes, limit.saturating_sub(self.output.inflated_bytes))
                .map_err(|reject| match reject.reason {
                Reason::GzipTooLarge => Reject::new(
                    Reason::GzipTooLarge,
                    format!(
                        "the input's gzip data expands beyond max_decompressed_bytes ({limit} \
                             bytes, all members together)"
                    ),
                ),
                _ => reject,
            })?;
            self.output.inflated_bytes += inflated.len();
            return self.bytes(&inflated, depth + 1);
        }
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => {
                self.output.lossy_utf8 = true;
                String::from_utf8_lossy(bytes)
            }
        };
        self.text(&text, depth)
    }

    fn text(&mut self, text: &str, depth: u8) -> Result<(), Reject> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(Reject::new(Reason::EmptyPayload, "empty payload"));
        }
        let configured = configured_format(self.configured);
        match configured {
            Some(SourceFormat::PlainText) => return self.plain_text(text),
            Some(SourceFormat::Cri | SourceFormat::DockerJson) => {
                return self.container_lines(text, configured);
            }
            _ => {}
        }
        if !trimmed.starts_with(['{', '[']) {
            return match configured {
                None if cri::looks_like_cri(trimmed.lines().next().unwrap_or_default()) => {
                    self.container_lines(text, Some(SourceFormat::Cri))
                }
                None => self.plain_text(text),
                Some(format) => Err(Reject::shape(format!(
                    "configured format {format:?} expects JSON, got text"
                ))),
            };
        }
        // An Event, common JSON input, is read straight into its fields when it is nothing but
        // an Event (see `EventDocument`): what `json_documents` would decode it to, without building a
        // JSON value.
        if trimmed.starts_with('{')
            && !self.container_stream
            && configured.is_none_or(|f| f == SourceFormat::K8sEvent)
            && let Some(event) = k8s_event::EventDocument::parse(trimmed)
            && event.looks_like_event()
        {
            return self.push(k8s_event::decode_document(&event)?);
        }
        self.json_documents(text, depth)
    }

    /// Decodes `text`, JSON, as one or more JSON values.
    fn json_documents(&mut self, text: &str, depth: u8) -> Result<(), Reject> {
        let trimmed = text.trim();
        let configured = configured_format(self.configured);
        // One or more JSON documents (Firehose concatenates CloudWatch documents; NDJSON is common).
        let mut documents = serde_json::Deserializer::from_str(trimmed).into_iter::<Value>();
        let first = documents.next();
        if configured.is_none()
            && let Some(Ok(Value::Object(obj))) = &first
            && shape_of(obj) == SourceFormat::DockerJson
        {
            return self.container_lines(text, Some(SourceFormat::DockerJson));
        }
        let (records, controls) = (self.output.records.len(), self.output.control_messages);
        if matches!(first, Some(Err(_)))
            && let Some(batch) = self.single_quoted_azure_batch(trimmed)
        {
            return self.value(batch, depth);
        }
        for (i, document) in first.into_iter().chain(documents).enumerate() {
            let document = document
                .map_err(|e| Reject::json("JSON document", &e).at(format!("document {}", i + 1)))?;
            self.value(document, depth)?;
        }
        // JSON that holds no entry at all (`[]`, `{"records":[]}`) must not vanish: it is refused.
        if self.output.records.len() == records && self.output.control_messages == controls {
            return Err(Reject::new(
                Reason::EmptyPayload,
                "the JSON holds no log entry (an empty array or batch)",
            ));
        }
        Ok(())
    }

    /// A text that is not JSON read as an Azure resource-log batch in single-quoted pseudo-JSON (as
    /// Azure Functions and App Service write `properties`), when it is one of their batches
    /// ([`azure::accept_relaxed_batch`]) and the source may carry Azure logs; `None` otherwise (the text
    /// is refused as before).
    fn single_quoted_azure_batch(&self, text: &str) -> Option<Value> {
        let configured = configured_format(self.configured);
        if self.container_stream || !configured.is_none_or(|f| f == SourceFormat::AzureResourceLog)
        {
            return None;
        }
        let mut batch: Value = serde_json::from_str(&relaxed_json::repair(text)?).ok()?;
        azure::accept_relaxed_batch(&mut batch).then_some(batch)
    }

    /// Decodes one JSON document: unwraps transport wrappers, then decodes by format.
    fn value(&mut self, value: Value, depth: u8) -> Result<(), Reject> {
        if depth > MAX_DEPTH {
            return Err(Reject::new(
                Reason::TooDeep,
                format!("envelopes nested more than {MAX_DEPTH} deep"),
            ));
        }
        let mut obj = match value {
            // Fluent Bit's forward/out_file record: `[epoch.frac, {record}]`.
            Value::Array(items) if is_fluent_bit_pair(&items) => {
                let mut items = items.into_iter();
                let time = items.next().and_then(|t| t.as_f64());
                let Some(Value::Object(record)) = items.next() else {
                    return Ok(());
                };
                let mut decoded = json_line::decode(&Value::Object(record));
                #[allow(
                    clippy::cast_possible_truncation,
                    reason = "epoch seconds as ns fit i64 until 2262"
                )]
                let ns = time.map(|t| (t * 1e9) as i64);
                decoded.event_time_ns = decoded.event_time_ns.or(ns);
                return self.push(decoded);
            }
            Value::Array(items) => {
                for item in items {
                    self.value(item, depth + 1)?;
                }
                return Ok(());
            }
            Value::Object(obj) => obj,
            other => {
                return Err(Reject::shape(format!(
                    "expected a JSON object, got {}",
                    json_type(&other)
                )));
            }
        };
        if self.container_stream {
            return self.push(json_line::decode(&Value::Object(obj)));
        }
        if configured_format(self.configured).is_none_or(|f| f == SourceFormat::K8sEvent)
            && is_list(&obj)
            && let Some(Value::Array(items)) = obj.remove("items")
        {
            for (i, item) in items.into_iter().enumerate() {
                self.value(item, depth + 1)
                    .map_err(|e| e.at(format!("items[{i}]")))?;
            }
            return Ok(());
        }
        if let Some(wrapper) = wrapper(&obj) {
            return self.unwrap(wrapper, depth);
        }
        let shape = shape_of(&obj);
        let format = match configured_format(self.configured) {
            None => shape,
            // JSON lines accept any object; other formats must match their shape.
            Some(SourceFormat::JsonLine) => SourceFormat::JsonLine,
            Some(configured) if configured == shape => configured,
            Some(configured) => {
                return Err(Reject::shape(format!(
                    "configured format {configured:?} but the document is shaped like {shape:?}"
                )));
            }
        };
        let value = Value::Object(obj);
        match format {
            SourceFormat::Cloudwatch => match cloudwatch::decode(value)? {
                None => self.output.control_messages += 1,
                Some(records) => {
                    for record in records {
                        self.push(record)?;
                    }
                }
            },
            SourceFormat::AzureResourceLog => {
                match value.get("records").and_then(Value::as_array) {
                    Some(records) => {
                        for (i, record) in records.iter().enumerate() {
                            self.push(
                                azure::decode(record).map_err(|e| e.at(format!("records[{i}]")))?,
                            )?;
                        }
                    }
                    None => self.push(azure::decode(&value)?)?,
                }
            }
            SourceFormat::GcpLogEntry => self.push(gcp::decode(&value)?)?,
            SourceFormat::K8sEvent => self.push(k8s_event::decode(&value)?)?,
            _ => self.push(json_line::decode(&value))?,
        }
        Ok(())
    }

    fn unwrap(&mut self, wrapper: Wrapper<'_>, depth: u8) -> Result<(), Reject> {
        match wrapper {
            Wrapper::AwsLogs(data) => {
                let bytes = base64_field(data, "awslogs.data")?;
                self.bytes(&bytes, depth + 1)
            }
            Wrapper::Kinesis(records) => {
                for (i, record) in records.iter().enumerate() {
                    let data = record
                        .get("kinesis")
                        .and_then(|k| k.get("data"))
                        .unwrap_or(&Value::Null);
                    let bytes = base64_field(data, &format!("Records[{i}].kinesis.data"))?;
                    self.bytes(&bytes, depth + 1)
                        .map_err(|e| e.at(format!("Records[{i}]")))?;
                }
                Ok(())
            }
            Wrapper::Firehose(records) => {
                for (i, record) in records.iter().enumerate() {
                    let bytes = base64_field(
                        record.get("data").unwrap_or(&Value::Null),
                        &format!("records[{i}].data"),
                    )?;
                    self.bytes(&bytes, depth + 1)
                        .map_err(|e| e.at(format!("records[{i}]")))?;
                }
                Ok(())
            }
            Wrapper::PubSub(message) => {
                let bytes =
                    base64_field(message.get("data").unwrap_or(&Value::Null), "message.data")?;
                self.bytes(&bytes, depth + 1)
            }
        }
    }

    fn plain_text(&mut self, text: &str) -> Result<(), Reject> {
        let message = text.trim_end_matches(['\n', '\r']).to_owned();
        let mut record = Decoded::new(SourceFormat::PlainText, message);
        record.severity = severity::detect_in_text(&record.message);
        self.push(record)
    }

    /// CRI and docker lines: one payload may hold several lines; each is a chunk of its log stream.
    /// Every line is checked before any is used, so a bad line rejects the whole input.
    fn container_lines(&mut self, text: &str, format: Option<SourceFormat>) -> Result<(), Reject> {
        // Most payloads are one line (a log shipper's message per line): held in place, not allocated.
        let mut chunks: SmallVec<[(Decoded, bool); 1]> = SmallVec::new();
        for (number, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let chunk = if format == Some(SourceFormat::Cri) {
                cri::parse_line(line).map(|parsed| {
                    let mut chunk = Decoded::new(SourceFormat::Cri, parsed.message.to_owned());
                    chunk.event_time_ns = Some(parsed.time_ns);
                    chunk.stream = Some(parsed.stream);
                    (chunk, parsed.partial)
                })
            } else {
                docker_json::decode(line)
            };
            let (mut chunk, partial) = chunk.map_err(|e| e.at(format!("line {}", number + 1)))?;
            chunk.source = self.source.clone();
            chunk.severity = severity::detect_in_text(&chunk.message);
            self.check_time(&chunk)?;
            chunks.push((chunk, partial));
        }
        for (chunk, partial) in chunks {
            if let Some(complete) =
                self.assembler
                    .push(self.stream_key, chunk, partial, self.now_ns)
            {
                self.push(complete)?;
            }
        }
        Ok(())
    }

    fn check_time(&self, record: &Decoded) -> Result<(), Reject> {
        let Some(t) = record.event_time_ns else {
            return Ok(());
        };
        let latest = self.now_ns.saturating_add(self.limits.max_future_skew_ns);
        if t < self.limits.min_event_time_ns || t > latest {
            return Err(Reject::new(
                Reason::AbsurdTimestamp,
                format!(
                    "event time {} is outside the accepted range [{}, now + {}s]",
                    chrono::DateTime::from_timestamp_nanos(t).to_rfc3339(),
                    chrono::DateTime::from_timestamp_nanos(self.limits.min_event_time_ns)
                        .to_rfc3339(),
                    self.limits.max_future_skew_ns / 1_000_000_000
                ),
            ));
        }
        Ok(())
    }

    fn push(&mut self, record: Decoded) -> Result<(), Reject> {
        self.check_time(&record)?;
        if self.output.records.len() >= self.limits.max_records_per_input {
            return Err(Reject::new(
                Reason::TooManyRecords,
                format!(
                    "more than max_records_per_input ({})",
                    self.limits.max_records_per_input
                ),
            ));
        }
        self.output.records.push(record);
        Ok(())
    }
}

fn is_fluent_bit_pair(items: &[Value]) -> bool {
    items.len() == 2 && items[0].is_number() && items[1].is_object()
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `read` makes of a decoder for one input of a source of `configured` format (a container's
    /// stream or not), and its records.
    fn decoded<R>(
        configured: Format,
        container_stream: bool,
        read: impl FnOnce(&mut Decoder<'_>) -> R,
    ) -> (R, Vec<Decoded>) {
        let limits = Limits {
            max_record_bytes: 1 << 20,
            max_decompressed_bytes: 1 << 20,
            max_records_per_input: 100,
            min_event_time_ns: 0,
            max_future_skew_ns: i64::MAX / 4,
        };
        let mut assembler = Assembler::new(1 << 20, 1 << 20, 1_000_000_000);
        let source = schemas::SourceCoordinates::default();
        let mut decoder = Decoder {
            limits: &limits,
            configured,
            assembler: &mut assembler,
            stream_key: "events",
            source: &source,
            container_stream,
            now_ns: 1_900_000_000_000_000_000,
            output: Output::default(),
        };
        let result = read(&mut decoder);
        (result, decoder.output.records)
    }

    /// Variants of an Event: each key (and each key medic reads in its nested objects) missing, `null`,
    /// a number, a float, a huge number, an empty string, an object, an array or deeply nested; unknown,
    /// duplicate and badly escaped keys at the top and nested; the Event as an array; escapes;
    /// documents after it.
    fn variants(event: &str) -> Vec<String> {
        let value: Value = serde_json::from_str(event).expect("fixture is JSON");
        let mut out = vec![event.to_owned()];
        let deep = format!("{}{}", "[".repeat(130), "]".repeat(130));
        let replacements: Vec<Option<Value>> = [
            "null",
            "7",
            "-7",
            "2.5",
            "1e20",
            r#""""#,
            "{}",
            r#"["Pod","evil","kube-system","spec.containers{app}"]"#,
            r#""Warning""#,
            r#"{"kind":"Pod","name":"evil","namespace":"kube-system"}"#,
        ]
        .iter()
        .map(|json| Some(serde_json::from_str(json).expect("JSON")))
        .chain([None])
        .collect();
        let mut vary = |path: &[&str]| {
            for replacement in &replacements {
                let mut changed = value.clone();
                let Some(parent) = path[..path.len() - 1]
                    .iter()
                    .try_fold(&mut changed, |v, key| v.get_mut(*key))
                    .and_then(Value::as_object_mut)
                else {
                    continue;
                };
                let key = path[path.len() - 1].to_owned();
                match replacement {
                    None => parent.remove(&key),
                    Some(new) => parent.insert(key, new.clone()),
                };
                out.push(changed.to_string());
            }
            // What a JSON value cannot hold: written into the text in place of the key's value.
            let mut marked = value.clone();
            if let Some(parent) = path[..path.len() - 1]
                .iter()
                .try_fold(&mut marked, |v, key| v.get_mut(*key))
                .and_then(Value::as_object_mut)
            {
                parent.insert(path[path.len() - 1].to_owned(), Value::from("@@"));
                let marked = marked.to_string();
                for raw in [deep.as_str(), "1e400", r#""\ud800""#, r#"{"a":1,"a":2}"#] {
                    out.push(marked.replacen(r#""@@""#, raw, 1));
                }
            }
        };
        let keys: Vec<String> = value
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        for key in &keys {
            vary(&[key]);
        }
        for nested in ["involvedObject", "metadata", "source", "regarding"] {
            for key in [
                "kind",
                "name",
                "namespace",
                "fieldPath",
                "host",
                "component",
                "creationTimestamp",
                "uid",
            ] {
                vary(&[nested, key]);
            }
        }
        for key in [
            "regarding",
            "note",
            "count",
            "deprecatedCount",
            "reportingController",
            "series",
        ] {
            vary(&[key]);
        }
        let mut renamed = value.clone();
        if let Some(object) = renamed.as_object_mut()
            && let Some(involved) = object.remove("involvedObject")
        {
            object.insert("regarding".to_owned(), involved);
            out.push(renamed.to_string());
            let mut both = renamed.clone();
            both["involvedObject"] = Value::Null;
            out.push(both.to_string());
        }
        // The Event as an array, in the order of `EventDocument`'s fields (a derived struct reads one).
        let in_field_order: Vec<&Value> = [
            "apiVersion",
            "kind",
            "metadata",
            "involvedObject",
            "regarding",
            "reason",
            "message",
        ]
        .iter()
        .map(|key| value.get(key).unwrap_or(&Value::Null))
        .collect();
        out.push(serde_json::to_string(&in_field_order).expect("JSON"));
        let text = value.to_string();
        for (from, to) in [
            ("{", r#"{"cluster":"a","#),
            ("{", r#"{"reason":"Dup","#),
            ("{", r#"{"awslogs":{"data":"x"},"#),
            ("{", r#"{"count":null,"deprecatedCount":3,"#),
            ("{", r#"{"\ud800":1,"#),
            (r#""message":""#, r#""message":"\u0041\"q\" "#),
            (r#""kind":""#, r#""\u006bind":""#),
            (r#""name":""#, r#""name":"x","name":""#),
            (r#""name":""#, r#""name":5,"name":""#),
            (r#""namespace":""#, r#""\ud800x":1,"namespace":""#),
        ] {
            out.push(text.replacen(from, to, 1));
        }
        out.push(format!("{text}{text}"));
        out.push(format!("{text} 1"));
        out.push(format!("[{text}]"));
        out
    }

    #[test]
    fn an_event_read_into_its_fields_decodes_as_read_into_a_json_value() {
        let fixtures = [
            include_str!("../tests/fixtures/core-v1-events.jsonl"),
            include_str!("../../incidents/checkout-oom-crashloop/events.jsonl"),
        ];
        // Every recorded core/v1 and events.k8s.io Event, and every eighth of the demo's (alike).
        let events: Vec<&str> = fixtures
            .iter()
            .enumerate()
            .flat_map(|(i, f)| {
                let step = if i == 0 { 1 } else { 8 };
                f.lines().filter(|l| !l.trim().is_empty()).step_by(step)
            })
            .collect();
        let sources = [
            (Format::Auto, false),
            (Format::K8sEvent, false),
            (Format::JsonLine, false),
            (Format::Auto, true),
        ];
        let (mut fast, mut compared) = (0, 0);
        for event in &events {
            assert!(
                k8s_event::EventDocument::parse(event).is_some_and(|e| e.looks_like_event()),
                "a recorded Event is read into its fields: {event}"
            );
            for text in variants(event) {
                compared += 1;
                // Any other input goes to `json_documents` from `text` whatever the source.
                if !k8s_event::EventDocument::parse(&text).is_some_and(|e| e.looks_like_event()) {
                    continue;
                }
                fast += 1;
                for (format, container_stream) in sources {
                    // `text` takes the fast path where it may; `json_documents` is the path before it.
                    let by_fields = decoded(format, container_stream, |d| d.text(&text, 0));
                    let by_value =
                        decoded(format, container_stream, |d| d.json_documents(&text, 0));
                    assert_eq!(by_fields, by_value, "{format:?} {container_stream} {text}");
                }
            }
        }
        assert!(fast > compared / 3, "{fast} of {compared} read into fields");
        assert!(fast < compared, "{fast} of {compared} read into fields");
    }
}
