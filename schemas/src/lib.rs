//! # medic-schemas
//!
//! The small crate every other medic crate depends on. It holds the records that cross Kafka topics, the
//! [`Stage`] trait each stage implements, the error kinds the runner routes to the dead-letter topic, and the
//! metric names shared by every process.
//!
//! ## Crate map
//!
//! ```text
//!                  ┌──────────── medic (binary: CLI, Kafka stage runner, admin server, demo) ───────────┐
//!                  │                                                                                  │
//!   ingest ──► enrich ──► diagnose ──► decide ──► act          (stage crates: pure processors, no Kafka)
//!      │          │           │           │         │
//!      └──────────┴───────────┴─────┬─────┴─────────┘
//!                                   ▼
//!                                schemas                         (records, Stage trait, errors, metric names)
//! ```
//!
//! ## Records and the topics they travel on (defaults)
//!
//! | record | topic | produced by |
//! |---|---|---|
//! | raw envelopes | `medic.logs.<source>` | your log shippers |
//! | [`LogRecord`] | `medic.logs.normalized` | ingest |
//! | [`ParsedRecord`] | `medic.logs.parsed` | enrich |
//! | [`WindowFeatures`] | `medic.windows` | enrich |
//! | [`Diagnosis`] | `medic.diagnoses` | diagnose |
//! | [`Decision`] | `medic.decisions` | decide |
//! | [`RemediationCommand`] | `medic.actions` | act (issuer) |
//! | [`ActionResult`] | `medic.actions.results` | act (actuator) |
//! | [`WorkloadState`] | `medic.state` | observe (the Kubernetes API, read-only) |
//! | rejected input | `medic.dlq` | every stage, via the runner |
//!
//! Every record carries a `schema_version`; JSON Schema files for each are published under `schemas/json/`
//! and a test fails when they drift from these types.

pub mod actuate;
pub mod byte_set;
mod bytes;
pub mod clock;
pub mod compact;
pub mod config;
mod error;
mod fault;
pub mod fixtures;
pub mod frame;
pub mod id;
pub mod metrics;
pub mod models;
pub mod observe;
mod records;
pub mod rng;
pub mod span;
mod stage;
mod wire;

pub use error::{ErrorDomain, ErrorKind, StageError};
pub use fault::{FaultClass, FaultSeverity};
pub use records::*;
pub use stage::{
    Collected, Emitted, Emitter, InputPartition, PartitionedState, Rejection, SourceRecord, Stage,
    StageState,
};
pub use wire::{RecordKind, SCHEMA_VERSION, WireRecord, decode_record, encode_json, encode_record};
