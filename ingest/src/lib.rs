//! # medic-ingest
//!
//! Decodes raw log envelopes into normalised [`LogRecord`](schemas::LogRecord)s.
//!
//! ```text
//!  medic.logs.<source> ──► detect format (or use the configured one) ──► decode ──► LogRecord
//!                                   │                                      │
//!                                   └── unknown shape / bad bytes ─────────┴──► dead-letter (reason)
//! ```
//!
//! Formats handled here: Kubernetes CRI container lines (with partial-line reassembly), docker json-file
//! lines, Kubernetes Event objects (core/v1 and events.k8s.io/v1), and plain JSON / text application
//! lines as the fallback. The detected format is always recorded on the record (`source_format`).

mod config;
mod cri;
mod decoded;
mod docker_json;
mod format;
mod json_line;
mod k8s_event;
mod log_path;
mod severity;
mod stage;
mod time;
mod workload;

pub use config::{IngestConfig, SourceConfig};
pub use format::{Format, UnknownFormat};
pub use stage::Ingest;
