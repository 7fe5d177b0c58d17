//! The pipeline file: what runs, where it reads and writes, and how each stage is configured.
//!
//! Sources are layered in this order, each overriding the one before:
//! 1. the embedded default, `pipelines/default.toml` (compiled into the binary);
//! 2. the file given with `--pipeline`;
//! 3. environment variables `MEDIC__<SECTION>__<KEY>=value` (e.g. `MEDIC__KAFKA__BROKERS=kafka:9092`;
//!    values are read as TOML scalars where they parse, as strings otherwise).
//!
//! Durations carry their unit (`cooldown = "5m"`, `batch_linger = "50ms"`), sizes are in bytes
//! (`*_bytes`); keys from before that convention are still read, with a warning (see `deprecated`).

mod deprecated;
mod load;
mod locate;
mod pipeline;

pub use load::{ConfigError, Loaded, load_pipeline};
pub use pipeline::PipelineConfig;
pub use schemas::config::Problem;

/// The embedded default pipeline.
pub const DEFAULT_PIPELINE: &str = include_str!("../../pipelines/default.toml");
