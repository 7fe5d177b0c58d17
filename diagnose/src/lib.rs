//! # medic-diagnose
//!
//! Names the fault behind a workload's log evidence, with one of three models (`diagnose.model`):
//!
//! - `ngram` (default): word 1–2-grams and character 3–5-grams under linear SVMs ([`ngram`]),
//!   the model grouped cross-validation chose (`lab::cv`, with the cargo feature `lab`).
//! - `transformer`: all-MiniLM-L6-v2 with its top layers fine-tuned here ([`transformer`]).
//! - `keyword_rules`: transparent keyword rules (`keyword-rules@1`) over each window's templates, evidence
//!   accumulated per workload and class in event-time episodes, noisy-OR confidence.
//!
//! Diagnose reads the windows enrich closes (`medic.windows`, the definition `diagnose.windows` names),
//! not lines: each carries, per template, its counts by kind of line and its earliest and latest line. The
//! first two models ([`FaultModel`]) classify closed windows together in one batch; a non-`normal`
//! window becomes a diagnosis whose evidence is the lines that on their own point most at the class. A
//! Kubernetes Event of type Normal is never evidence; a line at INFO or below never decides a window
//! alone. So diagnose's work grows with windows × templates, not with lines.
//!
//! ```text
//!  medic.windows ──► WindowView (templates, counts, real lines) ──► FaultModel (batched) ──► Diagnosis
//!                                          confidence < min_confidence → uncertain: decide escalates
//! ```
//!
//! Training (`transformer::train`) and the `lab` (corpus, cross-validation, baselines, scores, speed) are
//! behind the cargo feature `lab`: `medic train classifier` and `medic eval classifier` use them, the
//! streaming stage does not (`cargo build -p medic-diagnose` builds the stage alone, and CI checks it does).

mod config;
mod episode;
#[cfg(feature = "lab")]
pub mod lab;
mod model;
pub mod ngram;
mod novelty;
mod recency;
mod rollouts;
mod rules;
mod stage;
pub mod transformer;
mod view;
mod windowed;

pub use config::{
    DiagnoseConfig, DiagnoseModel, NGRAM_DIR, default_classifier_dir, default_model_dir,
};
pub use model::FaultModel;
pub use rules::{Rule, default_rules, severity_of};
pub use stage::{Diagnose, MODEL as KEYWORD_MODEL, RuleDiagnose};
pub use windowed::{WindowSettings, WindowedDiagnose};
