//! # medic-diagnose
//!
//! Names the fault behind a workload's log evidence, with one of two models (`diagnose.model`):
//!
//! - `transformer` (default): all-MiniLM-L6-v2 with its top layers fine-tuned here ([`transformer`]).
//!   Evidence is gathered per workload in tumbling event-time windows; closed windows are classified
//!   together in one batched pass, each template embedded once (cached); a non-`normal` window becomes a
//!   diagnosis whose evidence is the lines that on their own point most at the class.
//! - `keyword_rules`: transparent keyword rules (`keyword-rules@1`), evidence accumulated per workload and
//!   class in event-time episodes, noisy-OR confidence.
//!
//! ```text
//!  medic.logs.parsed ──► window per workload ──► Classifier (batched, cached) ──► Diagnosis
//!                                          confidence < min_confidence → uncertain: decide escalates
//! ```
//!
//! Training (`transformer::train`) and the [`lab`] (corpus, baselines, scores, speed) are behind the
//! cargo feature `lab`: `medic train classifier` and `medic eval classifier` use them, the streaming
//! stage does not (`cargo build -p medic-diagnose` builds the stage alone, and CI checks it does).

mod config;
mod episode;
#[cfg(feature = "lab")]
pub mod lab;
pub mod ngram;
mod rules;
mod stage;
pub mod transformer;
mod windowed;

pub use config::{DiagnoseConfig, DiagnoseModel, default_classifier_dir};
pub use rules::{Rule, default_rules, severity_of};
pub use stage::{Diagnose, MODEL as KEYWORD_MODEL, RuleDiagnose};
pub use windowed::{WindowSettings, WindowedDiagnose};
