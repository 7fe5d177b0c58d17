//! # medic
//!
//! The `medic` binary's library: the CLI, the generic Kafka stage runner, the pipeline file, the admin
//! server and the demo. Stage logic lives in the stage crates; this crate wires them to Kafka.
//!
//! ```text
//!  medic.logs.<source> ─► ingest ─► medic.logs.normalized ─► enrich ─► medic.logs.parsed ─► diagnose
//!        ─► medic.diagnoses ─► decide ─► medic.decisions ─► act ─► medic.actions ─► actuator
//!        ─► medic.actions.results                 (rejected input of any stage ─► medic.dlq)
//! ```
//!
//! | crate | role |
//! |---|---|
//! | `medic-schemas` | records, the `Stage` trait, error kinds, metric names |
//! | `medic-ingest` | envelopes → `LogRecord` |
//! | `medic-enrich` | templates and event-time windows |
//! | `medic-diagnose` | fault classification |
//! | `medic-decide` | remediation policy |
//! | `medic-act` | commands and the actuator |
//! | `medic` (this) | CLI, Kafka runner, admin server, demo |

pub mod act_cmd;
pub mod admin;
pub mod app;
pub mod bench;
pub mod bench_e2e;
pub mod classify_cmd;
pub mod cli;
pub mod config;
pub mod decode_cmd;
pub mod demo;
pub mod explain;
pub mod health;
pub mod kafka;
pub mod metrics;
pub mod parse_cmd;
pub mod policy_cmd;
pub mod progress;
pub mod replay;
pub mod replay_cmd;
pub mod stages;
