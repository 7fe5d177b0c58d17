//! # medic-runtime
//!
//! What every medic stage process runs on, whatever the stage: the stage crates are pure processors over
//! batches ([`schemas::Stage`]); this crate connects one to Kafka and keeps it honest.
//!
//! ```text
//!  supervisor ── one StageRunner per stage ── consumer (group <prefix>-<stage>) ─► Stage::process_batch
//!      │              │  outputs + dead letters ─► producer ─► acks ─► commit (offsets)
//!      │              └─ stateful stage: snapshot ─► medic.checkpoints ─► then commit
//!      └─ telemetry: Prometheus metrics, health (liveness/readiness), the admin HTTP server
//! ```
//!
//! | module | what it holds |
//! |---|---|
//! | [`config`] | the runtime's pipeline sections: `[kafka]`, `[topics]`, `[runner]`, `[admin]` |
//! | [`kafka`] | the stage runner, client settings, topic creation, checkpoints, dead letters, lag |
//! | [`telemetry`] | metrics, health and the admin server |
//! | [`per_partition`] | a stateful stage kept per input partition, so its state follows the partition |
//! | [`supervisor`] | running several stages in one process, stopping them together |
//! | [`embedded`] | an in-process Kafka cluster (librdkafka's mock) for the demo, replays, benches and tests |
//!
//! The runtime never imports a stage crate: the `medic` binary builds each stage and hands it over as a
//! [`kafka::StageSpec`].

pub mod config;
pub mod embedded;
pub mod kafka;
pub mod per_partition;
pub mod supervisor;
pub mod telemetry;
