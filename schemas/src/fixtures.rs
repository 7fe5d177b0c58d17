//! Example records for tests and examples: a pod `web-7d9c7f5b9d-x2x7q` of Deployment `shop/web`.
//! Tests change the fields they care about.

use crate::{
    LogRecord, LogSeverity, ParsedRecord, Resource, SCHEMA_VERSION, SourceCoordinates,
    SourceFormat, SourceRecord, Workload,
};

/// A CRI log record of the example pod, at `event_time_ns`, read from `medic.logs.k8s` partition 0,
/// offset 0, severity `info`.
#[must_use]
pub fn log_record(message: &str, event_time_ns: i64) -> LogRecord {
    LogRecord {
        schema_version: SCHEMA_VERSION,
        event_time_ns,
        observed_time_ns: event_time_ns,
        source_format: SourceFormat::Cri,
        severity: LogSeverity::Info,
        message: message.to_owned(),
        stream: None,
        resource: Resource {
            namespace: Some("shop".to_owned()),
            workload: Some(Workload {
                kind: "Deployment".to_owned(),
                name: "web".to_owned(),
            }),
            pod: Some("web-7d9c7f5b9d-x2x7q".to_owned()),
            ..Resource::default()
        },
        attributes: std::collections::BTreeMap::new(),
        source: SourceCoordinates {
            topic: "medic.logs.k8s".to_owned(),
            partition: 0,
            offset: 0,
        },
    }
}

/// `log` as enrich publishes it, read back by the next stage: a [`ParsedRecord`] whose template is the
/// message itself (id: a stable hash of it), on `medic.logs.parsed` partition 0 at `log.source.offset`.
///
/// # Panics
/// Never: a `ParsedRecord` always serialises.
#[must_use]
pub fn parsed_source_record(log: LogRecord) -> SourceRecord {
    let offset = log.source.offset;
    let record = ParsedRecord {
        schema_version: SCHEMA_VERSION,
        template_id: format!("tpl-{:016x}", crate::id::stable_hash(&[&log.message])),
        template: log.message.clone(),
        template_version: 1,
        params: vec![],
        log,
    };
    let payload = serde_json::to_vec(&record).unwrap_or_default();
    SourceRecord::new("medic.logs.parsed", 0, offset, payload)
}
