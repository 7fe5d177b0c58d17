//! # medic
//!
//! The `medic` binary's library: the command line, the pipeline file, and the wiring of the stage crates
//! to the runtime. Stage logic lives in the stage crates; running them against Kafka lives in
//! `medic-runtime`; this crate decides which stage runs with which configuration.
//!
//! ```text
//!  medic.logs.<source> ─► ingest ─► medic.logs.normalized ─► enrich ─► medic.windows ─► diagnose
//!        ─► medic.diagnoses ─► decide ─► medic.decisions ─► act ─► medic.actions ─► actuator
//!        ─► medic.actions.results                 (rejected input of any stage ─► medic.dlq)
//!  (enrich also writes every parsed line to medic.logs.parsed, for other consumers)
//! ```
//!
//! | crate | role |
//! |---|---|
//! | `medic-schemas` | records, the `Stage` trait, error kinds, metric names |
//! | `medic-ingest` | envelopes → `LogRecord` |
//! | `medic-enrich` | templates and event-time windows |
//! | `medic-diagnose` | fault classification (training and baselines behind its feature `lab`) |
//! | `medic-decide` | remediation policy (the digital-twin and RL lab behind its feature `lab`) |
//! | `medic-act` | commands and the actuator |
//! | `medic-runtime` | the Kafka stage runner, its config sections, telemetry, supervisor, embedded broker |
//! | `medic-testkit` | process harness, scraped metrics, test services, real-format inputs (tests, bench) |
//! | `medic` (this) | the CLI ([`cli`], one module per command in [`cmd`]), the pipeline file ([`config`]), which stage is built how ([`stages`], [`app`]) |
//!
//! Arrows only point down: stages never import each other or the runtime; the runtime never imports a
//! stage; only this crate knows them all.

pub mod app;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod kafka_acls;
pub mod pass_through;
pub mod progress;
pub mod receive;
pub mod stages;
pub mod topic_reader;
