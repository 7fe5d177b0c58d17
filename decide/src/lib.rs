//! # medic-decide
//!
//! Turns [`Diagnosis`](schemas::Diagnosis) records into [`Decision`](schemas::Decision)s. This crate's
//! first policy (`rules@1`) maps each fault class to its textbook remedy, escalates what it is unsure of,
//! and enforces a per-target cooldown in event time. The RL policies and the arbitration layer of the
//! decide issue replace it behind the same [`Stage`](schemas::Stage).
//!
//! ```text
//!  medic.diagnoses ──► uncertain / below min_confidence? ── yes ──► escalate
//!                             │ no
//!                             ▼
//!                      remedy for the class ──► same target acted on within cooldown? ── yes ──► noop
//!                                                         │ no
//!                                                         ▼
//!                                                     Decision ──► medic.decisions
//! ```

mod config;
mod policy;
mod stage;

pub use config::DecideConfig;
pub use policy::remedy_for;
pub use stage::{Decide, POLICY};
