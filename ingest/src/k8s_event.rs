//! Kubernetes Event objects: core/v1 (`involvedObject`, `message`, `source`) and events.k8s.io/v1
//! (`regarding`, `note`, `deprecatedSource`). `Warning` events get warning severity; the involved object
//! becomes the record's pod/node/workload.

use crate::decoded::Decoded;
use crate::reject::Reject;
use schemas::{LogSeverity, SourceFormat};
use serde_json::{Map, Value};

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

/// Decodes one Event object.
///
/// # Errors
/// [`crate::reject::Reason::WrongShape`] for an object without an involved object or without reason
/// and message.
pub(crate) fn decode(event: &Value) -> Result<Decoded, Reject> {
    let object = event
        .get("involvedObject")
        .or_else(|| event.get("regarding"))
        .ok_or_else(|| Reject::shape("Kubernetes Event without involvedObject/regarding"))?;
    let message = str_at(event, &["message"]).or_else(|| str_at(event, &["note"]));
    let reason = str_at(event, &["reason"]);
    if message.is_none() && reason.is_none() {
        return Err(Reject::shape("Kubernetes Event without reason or message"));
    }
    let mut decoded = Decoded::new(
        SourceFormat::K8sEvent,
        message.or(reason).unwrap_or_default().to_owned(),
    );
    decoded.severity = match str_at(event, &["type"]) {
        Some("Warning") => LogSeverity::Warning,
        Some("Normal") => LogSeverity::Info,
        _ => LogSeverity::Unspecified,
    };
    decoded.event_time_ns = [
        &["eventTime"][..],
        &["lastTimestamp"],
        &["deprecatedLastTimestamp"],
        &["firstTimestamp"],
        &["deprecatedFirstTimestamp"],
        &["metadata", "creationTimestamp"],
    ]
    .iter()
    .find_map(|path| str_at(event, path).and_then(crate::time::rfc3339_ns));

    let kind = str_at(object, &["kind"]).unwrap_or_default();
    let name = str_at(object, &["name"]).unwrap_or_default();
    let resource = &mut decoded.resource;
    let event_namespace = str_at(event, &["metadata", "namespace"]);
    // Nodes are cluster-scoped, and the kubelet and the node controller write their Events in
    // `default` (or, as events.k8s.io, in no namespace). An Event about a Node written in any other
    // namespace comes from whoever may create Events there: it is kept as that namespace's record, its
    // node only a claim.
    let about_node = kind == "Node" && matches!(event_namespace, None | Some("" | "default"));
    // The namespace is the Event's own (where the API server let its author write it); an involved
    // object in another namespace is only a claim: not every Event API checks that they agree.
    let object_namespace = str_at(object, &["namespace"]).filter(|ns| !ns.is_empty());
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
    if let Some(field) = str_at(object, &["fieldPath"])
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
    put(
        "k8s.event.source_host",
        str_at(event, &["source", "host"]).or_else(|| str_at(event, &["deprecatedSource", "host"])),
    );
    put("k8s.event.type", str_at(event, &["type"]));
    put("k8s.object.kind", Some(kind).filter(|k| !k.is_empty()));
    put("k8s.object.name", Some(name).filter(|n| !n.is_empty()));
    put(
        "k8s.event.source",
        str_at(event, &["source", "component"])
            .or_else(|| str_at(event, &["reportingController"]))
            .or_else(|| str_at(event, &["reportingComponent"])),
    );
    let count = event
        .get("count")
        .or_else(|| event.get("deprecatedCount"))
        .and_then(Value::as_i64);
    put("k8s.event.count", count.map(|c| c.to_string()).as_deref());
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
