//! `medic replay`: historical incidents fed through the whole pipeline with their original event
//! times, deterministically; counterfactual scoring of policies on the digital twin; the report.

pub mod bundle;
mod command;
pub mod compare;
pub mod engine;
pub mod from_kafka;
pub mod recording;
pub mod report;
pub mod story;
pub mod summary;
pub mod svg;
pub mod timeline;

pub use bundle::{Bundle, BundleError, Input, Manifest, STATES_FILE};
pub use command::{Args, run};
pub use engine::{Pace, ReplayError, ReplayOptions, Replayed, replay, replay_config};
pub use recording::{DeadLetter, Observed, Recording};
pub use summary::ReplaySummary;
