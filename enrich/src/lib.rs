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

mod config;
mod mask;
mod stage;
mod window;

pub use config::EnrichConfig;
pub use mask::{Masked, mask_message};
pub use stage::Enrich;
