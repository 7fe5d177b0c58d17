//! Kubernetes Event objects: core/v1 (`involvedObject`, `message`, `source`) and events.k8s.io/v1
//! (`regarding`, `note`, `deprecatedSource`). `Warning` events get warning severity; the involved object
//! becomes the record's pod/node/workload.
//!
//! An Event is read in one of two ways into the same [`EventFields`], which one function decodes: an
//! input that is one Event document and nothing else is read straight into its fields
//! ([`EventDocument`], about 46 000 fewer instructions an Event under callgrind); any other (an Event in a list, a wrapper, NDJSON,
//! an unknown key) is read as a JSON value first, as every other JSON format is.

use crate::decoded::Decoded;
use crate::reject::Reject;
use crate::strict_json::{Checked, FieldNames, Object, TextFields};
use schemas::{LogSeverity, SourceFormat};
use serde::Deserialize;
use serde::de::Deserializer;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Whether a JSON object is shaped like an Event (used by format detection).
pub(crate) fn looks_like_event(obj: &Map<String, Value>) -> bool {
    obj.get("kind").and_then(Value::as_str) == Some("Event")
        || obj.contains_key("involvedObject")
        || (obj.contains_key("regarding") && obj.contains_key("reason"))
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// What medic reads of an Event, wherever it was read from: each text present and not empty, the
/// involved object `None` when the Event has neither `involvedObject` nor `regarding`.
#[derive(Debug, Default)]
struct EventFields<'a> {
    object: Option<ObjectFields<'a>>,
    message: Option<&'a str>,
    reason: Option<&'a str>,
    event_type: Option<&'a str>,
    /// `eventTime`, `lastTimestamp`, `deprecatedLastTimestamp`, `firstTimestamp`,
    /// `deprecatedFirstTimestamp`, `metadata.creationTimestamp`: the first that parses is the time.
    times: [Option<&'a str>; 6],
    namespace: Option<&'a str>,
    source_host: Option<&'a str>,
    source_component: Option<&'a str>,
    count: Option<i64>,
}

/// What medic reads of an Event's involved object.
#[derive(Debug, Default)]
struct ObjectFields<'a> {
    kind: Option<&'a str>,
    name: Option<&'a str>,
    namespace: Option<&'a str>,
    field_path: Option<&'a str>,
}

impl<'a> EventFields<'a> {
    /// The fields of an Event read as a JSON value.
    fn of_value(event: &'a Value) -> Self {
        let at = |path: &[&str]| str_at(event, path);
        Self {
            object: event
                .get("involvedObject")
                .or_else(|| event.get("regarding"))
                .map(|object| ObjectFields {
                    kind: str_at(object, &["kind"]),
                    name: str_at(object, &["name"]),
                    namespace: str_at(object, &["namespace"]),
                    field_path: str_at(object, &["fieldPath"]),
                }),
            message: at(&["message"]).or_else(|| at(&["note"])),
            reason: at(&["reason"]),
            event_type: at(&["type"]),
            times: [
                at(&["eventTime"]),
                at(&["lastTimestamp"]),
                at(&["deprecatedLastTimestamp"]),
                at(&["firstTimestamp"]),
                at(&["deprecatedFirstTimestamp"]),
                at(&["metadata", "creationTimestamp"]),
            ],
            namespace: at(&["metadata", "namespace"]),
            source_host: at(&["source", "host"]).or_else(|| at(&["deprecatedSource", "host"])),
            source_component: at(&["source", "component"])
                .or_else(|| at(&["reportingController"]))
                .or_else(|| at(&["reportingComponent"])),
            count: event
                .get("count")
                .or_else(|| event.get("deprecatedCount"))
                .and_then(Value::as_i64),
        }
    }
}

/// A text of an Event, borrowed from the input unless it holds escapes.
type Text<'a> = Cow<'a, str>;

/// A field whose absence and `null` mean different things to the value path (`get(…).or_else(…)`
/// falls back only on a missing key; `contains_key` is true for a `null`).
#[derive(Debug, Default)]
enum Slot<T> {
    #[default]
    Missing,
    Null,
    Is(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Slot<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(|value| value.map_or(Slot::Null, Slot::Is))
    }
}

impl<T> Slot<T> {
    fn is_missing(&self) -> bool {
        matches!(self, Slot::Missing)
    }
}

/// An Event document with only the keys of core/v1 and events.k8s.io/v1 Events, read straight into
/// its fields. [`EventDocument::parse`] takes only what the value path would read the same way: one
/// JSON object and nothing after it, no other key at its top, no key twice in an object medic reads,
/// each value of the type medic reads, and every other value checked as the value reader checks one
/// ([`crate::strict_json`]). Anything else is `None`, and the caller reads the input as a JSON value
/// as before. So whatever it takes is an Event to format detection too (none of these keys is a
/// wrapper's or another format's but `message`, here a string, which no wrapper is), and decodes to the
/// same record or rejection. Keep the keys in step with [`EventFields::of_value`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct EventDocument<'a> {
    #[serde(default, rename = "apiVersion")]
    _api_version: Checked,
    #[serde(borrow, default)]
    kind: Option<Text<'a>>,
    #[serde(borrow, default)]
    metadata: Option<TextFields<'a, MetadataKeys>>,
    #[serde(borrow, default)]
    involved_object: Slot<TextFields<'a, ObjectKeys>>,
    #[serde(borrow, default)]
    regarding: Slot<TextFields<'a, ObjectKeys>>,
    #[serde(borrow, default)]
    reason: Slot<Text<'a>>,
    #[serde(borrow, default)]
    message: Option<Text<'a>>,
    #[serde(borrow, default)]
    note: Option<Text<'a>>,
    #[serde(borrow, default, rename = "type")]
    event_type: Option<Text<'a>>,
    #[serde(borrow, default)]
    source: Option<TextFields<'a, SourceKeys>>,
    #[serde(borrow, default)]
    deprecated_source: Option<TextFields<'a, SourceKeys>>,
    #[serde(borrow, default)]
    event_time: Option<Text<'a>>,
    #[serde(borrow, default)]
    last_timestamp: Option<Text<'a>>,
    #[serde(borrow, default)]
    deprecated_last_timestamp: Option<Text<'a>>,
    #[serde(borrow, default)]
    first_timestamp: Option<Text<'a>>,
    #[serde(borrow, default)]
    deprecated_first_timestamp: Option<Text<'a>>,
    #[serde(default)]
    count: Slot<i64>,
    #[serde(default)]
    deprecated_count: Option<i64>,
    #[serde(borrow, default)]
    reporting_controller: Option<Text<'a>>,
    #[serde(borrow, default)]
    reporting_component: Option<Text<'a>>,
    #[serde(default, rename = "reportingInstance")]
    _reporting_instance: Checked,
    #[serde(default, rename = "action")]
    _action: Checked,
    #[serde(default, rename = "related")]
    _related: Checked,
    #[serde(default, rename = "series")]
    _series: Checked,
}

/// What medic reads of an Event's `metadata`.
#[derive(Debug)]
struct MetadataKeys;
impl MetadataKeys {
    const NAMESPACE: usize = 0;
    const CREATED: usize = 1;
}
impl FieldNames for MetadataKeys {
    const NAMES: &'static [&'static str] = &["namespace", "creationTimestamp"];
}

/// What medic reads of an Event's involved object (`involvedObject`, `regarding`).
#[derive(Debug)]
struct ObjectKeys;
impl ObjectKeys {
    const KIND: usize = 0;
    const NAME: usize = 1;
    const NAMESPACE: usize = 2;
    const FIELD_PATH: usize = 3;
}
impl FieldNames for ObjectKeys {
    const NAMES: &'static [&'static str] = &["kind", "name", "namespace", "fieldPath"];
}

/// What medic reads of an Event's `source` and `deprecatedSource`.
#[derive(Debug)]
struct SourceKeys;
impl SourceKeys {
    const HOST: usize = 0;
    const COMPONENT: usize = 1;
}
impl FieldNames for SourceKeys {
    const NAMES: &'static [&'static str] = &["host", "component"];
}

/// A text present and not empty, as [`str_at`] reads one.
fn non_empty<'a>(value: Option<&'a Text<'_>>) -> Option<&'a str> {
    value.map(AsRef::as_ref).filter(|s: &&str| !s.is_empty())
}

/// The text of `fields` under its key `index`, present and not empty.
fn field<'s, K: FieldNames>(
    fields: Option<&'s TextFields<'_, K>>,
    index: usize,
) -> Option<&'s str> {
    fields.and_then(|f| non_empty(f.get(index)))
}

impl<'a> EventDocument<'a> {
    /// Reads `json` as an Event document; `None` when it is not one (see [`EventDocument`]).
    pub(crate) fn parse(json: &'a str) -> Option<Self> {
        serde_json::from_str::<Object<Self>>(json)
            .ok()
            .map(|Object(event)| event)
    }

    /// Whether format detection takes the document for an Event: [`looks_like_event`], where a key
    /// holding `null` is there.
    pub(crate) fn looks_like_event(&self) -> bool {
        self.kind.as_deref() == Some("Event")
            || !self.involved_object.is_missing()
            || (!self.regarding.is_missing() && !self.reason.is_missing())
    }

    fn fields(&self) -> EventFields<'_> {
        let object = match (&self.involved_object, &self.regarding) {
            (Slot::Missing, Slot::Missing) => None,
            (Slot::Is(object), _) | (Slot::Missing, Slot::Is(object)) => Some(ObjectFields {
                kind: field(Some(object), ObjectKeys::KIND),
                name: field(Some(object), ObjectKeys::NAME),
                namespace: field(Some(object), ObjectKeys::NAMESPACE),
                field_path: field(Some(object), ObjectKeys::FIELD_PATH),
            }),
            (Slot::Null, _) | (Slot::Missing, Slot::Null) => Some(ObjectFields::default()),
        };
        let metadata = |index| field(self.metadata.as_ref(), index);
        EventFields {
            object,
            message: non_empty(self.message.as_ref()).or_else(|| non_empty(self.note.as_ref())),
            reason: match &self.reason {
                Slot::Is(reason) => non_empty(Some(reason)),
                Slot::Missing | Slot::Null => None,
            },
            event_type: non_empty(self.event_type.as_ref()),
            times: [
                non_empty(self.event_time.as_ref()),
                non_empty(self.last_timestamp.as_ref()),
                non_empty(self.deprecated_last_timestamp.as_ref()),
                non_empty(self.first_timestamp.as_ref()),
                non_empty(self.deprecated_first_timestamp.as_ref()),
                metadata(MetadataKeys::CREATED),
            ],
            namespace: metadata(MetadataKeys::NAMESPACE),
            source_host: field(self.source.as_ref(), SourceKeys::HOST)
                .or_else(|| field(self.deprecated_source.as_ref(), SourceKeys::HOST)),
            source_component: field(self.source.as_ref(), SourceKeys::COMPONENT)
                .or_else(|| non_empty(self.reporting_controller.as_ref()))
                .or_else(|| non_empty(self.reporting_component.as_ref())),
            count: match self.count {
                Slot::Missing => self.deprecated_count,
                Slot::Null => None,
                Slot::Is(count) => Some(count),
            },
        }
    }
}

/// Decodes one Event object.
///
/// # Errors
/// [`crate::reject::Reason::WrongShape`] for an object without an involved object or without reason
/// and message.
pub(crate) fn decode(event: &Value) -> Result<Decoded, Reject> {
    decode_fields(&EventFields::of_value(event))
}

/// Decodes one Event document read by [`EventDocument::parse`]: the same record, or the same
/// rejection, as [`decode`] of the same input read as a JSON value.
///
/// # Errors
/// As [`decode`].
pub(crate) fn decode_document(event: &EventDocument<'_>) -> Result<Decoded, Reject> {
    decode_fields(&event.fields())
}

fn decode_fields(event: &EventFields<'_>) -> Result<Decoded, Reject> {
    let object = event
        .object
        .as_ref()
        .ok_or_else(|| Reject::shape("Kubernetes Event without involvedObject/regarding"))?;
    let (message, reason) = (event.message, event.reason);
    if message.is_none() && reason.is_none() {
        return Err(Reject::shape("Kubernetes Event without reason or message"));
    }
    let mut decoded = Decoded::new(
        SourceFormat::K8sEvent,
        message.or(reason).unwrap_or_default().to_owned(),
    );
    decoded.severity = match event.event_type {
        Some("Warning") => LogSeverity::Warning,
        Some("Normal") => LogSeverity::Info,
        _ => LogSeverity::Unspecified,
    };
    decoded.event_time_ns = event
        .times
        .iter()
        .find_map(|time| time.and_then(crate::time::rfc3339_ns));

    let kind = object.kind.unwrap_or_default();
    let name = object.name.unwrap_or_default();
    let resource = &mut decoded.resource;
    let event_namespace = event.namespace;
    // Nodes are cluster-scoped, and the kubelet and the node controller write their Events in
    // `default` (or, as events.k8s.io, in no namespace). An Event about a Node written in any other
    // namespace comes from whoever may create Events there: it is kept as that namespace's record, its
    // node only a claim.
    let about_node = kind == "Node" && matches!(event_namespace, None | Some("" | "default"));
    // The namespace is the Event's own (where the API server let its author write it); an involved
    // object in another namespace is only a claim: not every Event API checks that they agree.
    let object_namespace = object.namespace;
    resource.namespace = if about_node {
        None
    } else {
        event_namespace
            .filter(|ns| !ns.is_empty())
            .or(object_namespace)
            .map(str::to_owned)
    };
    if let (Some(own), Some(claimed)) = (resource.namespace.as_deref(), object_namespace)
        && own != claimed
    {
        decoded
            .attributes
            .insert("medic.claimed.namespace".to_owned(), claimed.to_owned());
    }
    match kind {
        "Pod" => resource.pod = Some(name.to_owned()),
        "Node" if about_node => resource.node = Some(name.to_owned()),
        "Node" => {
            decoded
                .attributes
                .insert("medic.claimed.node".to_owned(), name.to_owned());
        }
        _ => {}
    }
    let resource = &mut decoded.resource;
    resource.workload = if kind == "Node" && !about_node {
        None
    } else {
        crate::workload::from_object(kind, name)
    };
    // A Pod's or a hashed ReplicaSet's workload is read from its name (a Deployment named directly is
    // the Event's own claim about its namespace).
    decoded.inferred_workload = match kind {
        "Pod" => Some("pod_name"),
        "ReplicaSet" if crate::workload::from_replica_set_name(name).is_some() => {
            Some("replica_set_name")
        }
        _ => None,
    }
    .filter(|_| resource.workload.is_some());
    if let Some(field) = object.field_path
        && let Some(container) = field
            .strip_prefix("spec.containers{")
            .and_then(|f| f.strip_suffix('}'))
    {
        resource.container = Some(container.to_owned());
    }

    let attributes = &mut decoded.attributes;
    let mut put = |key: &str, value: Option<&str>| {
        if let Some(value) = value {
            attributes.insert(key.to_owned(), value.to_owned());
        }
    };
    put("k8s.event.reason", reason);
    // Where the reporting component ran: free text any Event writer sets, so never the record's node.
    put("k8s.event.source_host", event.source_host);
    put("k8s.event.type", event.event_type);
    put("k8s.object.kind", Some(kind).filter(|k| !k.is_empty()));
    put("k8s.object.name", Some(name).filter(|n| !n.is_empty()));
    put("k8s.event.source", event.source_component);
    put(
        "k8s.event.count",
        event.count.map(|c| c.to_string()).as_deref(),
    );
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        serde_json::from_str(text).expect("valid JSON")
    }

    #[test]
    fn decodes_every_recorded_core_v1_event() {
        let fixture = include_str!("../tests/fixtures/core-v1-events.jsonl");
        let decoded: Vec<_> = fixture
            .lines()
            .map(|l| decode(&json(l)).expect("fixture event decodes"))
            .collect();
        assert_eq!(decoded.len(), 19);
        let first = &decoded[0];
        assert_eq!(first.message, "Scaled up replica set px-5d567cc74c to 1");
        assert_eq!(first.severity, LogSeverity::Info);
        assert_eq!(first.resource.namespace.as_deref(), Some("default"));
        assert_eq!(
            first.resource.workload.as_ref().map(|w| w.name.as_str()),
            Some("px")
        );
        assert_eq!(
            first.attributes.get("k8s.event.reason").map(String::as_str),
            Some("ScalingReplicaSet")
        );
        assert!(first.event_time_ns.is_some());
        // Pod events point at the pod and its Deployment.
        let pod_event = decoded
            .iter()
            .find(|d| d.resource.pod.is_some())
            .expect("a pod event");
        assert_eq!(
            pod_event
                .resource
                .workload
                .as_ref()
                .map(|w| w.kind.as_str()),
            Some("Deployment")
        );
    }

    #[test]
    fn decodes_events_k8s_io_v1_warning() {
        let event = r#"{"apiVersion":"events.k8s.io/v1","kind":"Event","eventTime":"2024-03-01T10:00:00.000000Z",
            "reason":"BackOff","note":"Back-off restarting failed container app in pod web-7d9c7f5b9d-x2x7q",
            "type":"Warning","regarding":{"kind":"Pod","namespace":"shop","name":"web-7d9c7f5b9d-x2x7q",
            "fieldPath":"spec.containers{app}"},"reportingController":"kubelet","deprecatedCount":7}"#;
        let decoded = decode(&json(event)).expect("v1 event decodes");
        assert_eq!(decoded.severity, LogSeverity::Warning);
        assert!(decoded.message.starts_with("Back-off restarting"));
        assert_eq!(decoded.resource.container.as_deref(), Some("app"));
        assert_eq!(
            decoded.resource.workload.as_ref().map(|w| w.name.as_str()),
            Some("web")
        );
        assert_eq!(
            decoded
                .attributes
                .get("k8s.event.count")
                .map(String::as_str),
            Some("7")
        );
        assert_eq!(
            decoded
                .attributes
                .get("k8s.event.source")
                .map(String::as_str),
            Some("kubelet")
        );
    }

    #[test]
    fn node_events_have_no_namespace() {
        let event = r#"{"kind":"Event","reason":"NodeNotReady","message":"Node node-3 status is now: NodeNotReady",
            "type":"Normal","involvedObject":{"kind":"Node","name":"node-3"},"metadata":{"namespace":"default"}}"#;
        let decoded = decode(&json(event)).expect("node event");
        assert_eq!(decoded.resource.namespace, None);
        assert_eq!(decoded.resource.node.as_deref(), Some("node-3"));
    }

    #[test]
    fn rejects_non_events() {
        for bad in [
            r#"{"kind":"Event","reason":"x"}"#,
            r#"{"involvedObject":{"kind":"Pod"}}"#,
        ] {
            assert_eq!(
                decode(&json(bad)).expect_err(bad).reason,
                crate::reject::Reason::WrongShape
            );
        }
    }
}
