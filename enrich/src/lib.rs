//! # medic-enrich
//!
//! Turns normalised [`LogRecord`](schemas::LogRecord)s into [`ParsedRecord`](schemas::ParsedRecord)s
//! (message template, template id, parameters) and aggregates them into event-time
//! [`WindowFeatures`](schemas::WindowFeatures).
//!
//! ```text
//!  medic.logs.normalized ──► mask variables ──► template + params ──► medic.logs.parsed
//!                                                     │
//!                                                     └──► tumbling window per workload
//!                                                           (closed by the watermark) ──► medic.windows
//! ```

pub mod accuracy;
mod config;
pub mod drain;
pub mod grok_rules;
pub mod log_format;
mod mask;
mod stage;
pub mod tokens;
mod window;

pub use config::EnrichConfig;
pub use mask::{Masked, mask_message};
pub use stage::Enrich;
