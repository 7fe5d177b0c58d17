//! # medic-diagnose
//!
//! Names the fault behind a workload's log evidence. This crate's first model is a transparent keyword
//! rule set (`keyword-rules@1`); the fine-tuned transformer of the diagnose issue replaces it behind the
//! same [`Stage`](schemas::Stage).
//!
//! ```text
//!  medic.logs.parsed ──► match rules per record ──► episode per (workload, fault class)
//!                                                        │  noisy-OR of rule weights = confidence
//!                                                        ▼
//!                            confidence ≥ min_confidence → Diagnosis (certain)
//!                            max_evidence records, still below → Diagnosis (uncertain: escalate)
//! ```
//!
//! Episodes are driven by event time only, so replaying the same records gives the same diagnoses with
//! the same ids, whatever the batch boundaries.

mod config;
mod episode;
mod rules;
mod stage;

pub use config::DiagnoseConfig;
pub use rules::{Rule, default_rules, severity_of};
pub use stage::Diagnose;
