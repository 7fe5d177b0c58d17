//! # medic-decide
//!
//! Turns [`Diagnosis`](schemas::Diagnosis) records into [`Decision`](schemas::Decision)s.
//!
//! ```text
//!  stage        the streaming stage: medic.diagnoses ──► policy ──► cooldown / confidence checks ──► medic.decisions
//!  policy       the remedy table the stage serves (rules@1)
//!  config       the [decide] section
//!  lab/         (feature `lab`) the twin, the RL trainers, baselines, the arbiter and evaluation
//! ```
//!
//! The streaming stage's first policy (`rules@1`) maps each fault class to its textbook remedy,
//! escalates what it is unsure of, and enforces a per-target cooldown in event time. It needs nothing from
//! [`lab`]: `cargo build -p medic-decide` builds the stage alone (no candle), and CI checks it does.

pub mod actions;
pub mod arbiter;
mod config;
pub mod features;
#[cfg(feature = "lab")]
pub mod lab;
mod learned;
mod net;
pub mod observation;
mod policy;
pub mod policy_config;
mod served_policy;
pub mod serving;
mod stage;
mod stage_arbiter;
mod workloads;

pub use config::{DecideConfig, DecideMode, NodeActions, ServingConfig, WorkloadServing};
pub use learned::{Algo, PolicyNet, PolicySpec};
pub use net::PlainMlp;
pub use policy::remedy_for;
pub use stage::{Decide, POLICY};
