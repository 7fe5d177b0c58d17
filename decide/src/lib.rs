//! # medic-decide
//!
//! Turns [`Diagnosis`](schemas::Diagnosis) records into [`Decision`](schemas::Decision)s, and holds what
//! the policies are trained and measured on.
//!
//! ```text
//!  twin/        digital twin: nodes, deployments, scheduler, kubelet, faults from scenarios, M/M/1
//!               latency, SLA; emits real-format CRI logs and Kubernetes Events (twin::logs)
//!  control/     the Controller trait and the episode loop (twin ⇄ controller ⇄ arbiter)
//!  baselines/   Kubernetes HPA (+ kubelet back-off, taint eviction), calibrated threshold rules, manual
//!  rl/          PPO and distributed double DQN in candle; LearnedPolicy loads what they saved
//!  arbitration  the safety layer every non-Kubernetes policy passes through, with explanations
//!  evaluate     seeds, 95 % intervals, policy loading;  training: `medic train policy`
//!  stage        the streaming stage: medic.diagnoses ──► policy ──► arbiter-style checks ──► medic.decisions
//! ```
//!
//! The streaming stage's first policy (`rules@1`) maps each fault class to its textbook remedy,
//! escalates what it is unsure of, and enforces a per-target cooldown in event time.

pub mod arbitration;
pub mod baselines;
mod config;
pub mod control;
pub mod evaluate;
pub mod objective;
mod policy;
pub mod rl;
pub mod speed;
mod stage;
pub mod training;
pub mod twin;

pub use config::DecideConfig;
pub use policy::remedy_for;
pub use stage::{Decide, POLICY};
