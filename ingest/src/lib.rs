//! # medic-ingest
//!
//! Decodes raw log envelopes into normalised [`LogRecord`](schemas::LogRecord)s.
//!
//! ```text
//!  medic.logs.<source> ─► size limit ─► gzip (bounded) ─► UTF-8 (lossy, flagged)
//!        ─► transport wrappers: Lambda awslogs · Kinesis · Firehose · Pub/Sub push (base64, recursive)
//!        ─► format: configured, or detected by shape (recorded on every record)
//!             CloudWatch Logs · GCP LogEntry · Azure resource logs (AKS klog / kube-audit, ContainerLogV2)
//!             CRI lines (partial-line reassembly) · docker json-file · Kubernetes Events · JSON / text lines
//!        ─► sanity (event-time range, records per input) ─► pod/workload from key and names
//!        ─► redaction (credentials, personal data; counted per rule) ─► LogRecord
//!  any failure ─► dead-letter with a reason code, counted per reason (`rejected.<reason>`)
//! ```

mod azure;
mod cloudwatch;
mod config;
pub mod corpus;
mod cri;
mod decode;
mod decoded;
mod docker_json;
mod format;
mod gcp;
mod gzip;
mod json_line;
mod k8s_event;
mod klog;
mod log_path;
mod redact;
mod reject;
mod relaxed_json;
mod severity;
mod stage;
mod strict_json;
mod time;
mod workload;

pub use config::{IngestConfig, SourceConfig};
pub use format::{Format, UnknownFormat};
pub use gzip::inflate;
pub use redact::{REDACTED, RedactionConfig, RedactionRule, Redactor};
pub use reject::{Reason, Reject};
pub use stage::{Ingest, WORKLOAD_INFERRED_ATTRIBUTE};
