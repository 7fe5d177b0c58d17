//! [`Decoded`]: what a decoder extracts from one envelope, before the stage completes the record.

use schemas::{
    LogRecord, LogSeverity, Resource, SCHEMA_VERSION, SourceCoordinates, SourceFormat, Stream,
};
use std::collections::BTreeMap;

/// A decoded log record, before the stage completes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decoded {
    pub format: SourceFormat,
    pub event_time_ns: Option<i64>,
    /// When the envelope says the record was received (else the Kafka timestamp is used).
    pub observed_time_ns: Option<i64>,
    pub severity: LogSeverity,
    pub message: String,
    pub stream: Option<Stream>,
    pub resource: Resource,
    pub attributes: BTreeMap<String, String>,
    pub source: SourceCoordinates,
    /// Pod coordinates the record's own content claims (flat top-level keys), which never become its
    /// identity: the stage only checks them against it.
    pub claims: Claims,
    /// The pod's owner `(kind, name)` as the node agent's metadata gives it; the stage makes it the
    /// workload only when it is a kind that owns pods and the pod is named after it.
    pub owner: Option<(String, String)>,
    /// How a decoder guessed `resource.workload` from a name (`pod_name`, `replica_set_name`), when it
    /// did: the stage keeps the guess only with `ingest.infer_workloads`, and marks it.
    pub inferred_workload: Option<&'static str>,
}

/// Pod coordinates claimed by content that an application may write (see [`Decoded::claims`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Claims {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub container: Option<String>,
    pub node: Option<String>,
    /// `<kind>/<name>` of the pod's owner.
    pub owner: Option<String>,
}

#[cfg(test)]
impl Decoded {
    /// Asserts that the decoder named the pod (starting with `pod_prefix`) and left its workload to the
    /// stage, which names it by `ingest.infer_workloads`.
    pub(crate) fn assert_workload_left_to_the_stage(&self, pod_prefix: &str) {
        let pod = self.resource.pod.as_deref();
        assert!(pod.is_some_and(|p| p.starts_with(pod_prefix)), "{pod:?}");
        assert_eq!(self.resource.workload, None);
    }
}

impl Decoded {
    /// A record of `format` with `message` and nothing else known yet.
    pub(crate) fn new(format: SourceFormat, message: String) -> Self {
        Self {
            format,
            event_time_ns: None,
            observed_time_ns: None,
            severity: LogSeverity::Unspecified,
            message,
            stream: None,
            resource: Resource::default(),
            attributes: BTreeMap::new(),
            source: SourceCoordinates::default(),
            claims: Claims::default(),
            owner: None,
            inferred_workload: None,
        }
    }

    /// Completes the record: the observed time is the envelope's, else `fallback_observed_ns`; the event
    /// time falls back to the observed time.
    pub(crate) fn into_record(self, fallback_observed_ns: i64) -> LogRecord {
        let observed_time_ns = self.observed_time_ns.unwrap_or(fallback_observed_ns);
        LogRecord {
            schema_version: SCHEMA_VERSION,
            event_time_ns: self.event_time_ns.unwrap_or(observed_time_ns),
            observed_time_ns,
            source_format: self.format,
            severity: self.severity,
            message: self.message,
            stream: self.stream,
            resource: self.resource,
            attributes: self.attributes,
            source: self.source,
        }
    }
}
