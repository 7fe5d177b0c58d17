//! # medic-enrich
//!
//! Turns normalised [`LogRecord`](schemas::LogRecord)s into [`ParsedRecord`](schemas::ParsedRecord)s
//! (message template, template id, version, parameters) and aggregates them into event-time
//! [`WindowFeatures`](schemas::WindowFeatures).
//!
//! ```text
//!  medic.logs.normalized ──► grok fields ──► Drain miner (checkpointed) ──► medic.logs.parsed
//!                                                     │
//!                                                     └──► [[enrich.windows]]: SQL per micro-batch
//!                                                          (DataFusion), state carried and
//!                                                          checkpointed, closed by the watermark
//!                                                          ──► medic.windows
//! ```

pub mod accuracy;
mod config;
pub mod drain;
pub mod grok_rules;
pub mod log_format;
mod mask;
pub use schemas::span;
mod stage;
pub mod tokens;
pub mod windows;

pub use config::EnrichConfig;
pub use mask::{Masked, mask_message};
pub use stage::Enrich;
