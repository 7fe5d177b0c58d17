//! # medic-act
//!
//! The last stage: decisions become signed-off commands on the actuation topic, and the actuator applies
//! them. Two processors live here:
//!
//! ```text
//!  medic.decisions ──► CommandIssuer ──► RemediationCommand (idempotency key = decision id, expiry)
//!                                              │ medic.actions
//!                                              ▼
//!                           Actuator: expired? ──► dead-letter      seen key? ──► result "duplicate"
//!                                              │
//!                                              ▼ mode `log`: record what would be applied, change nothing
//!                                         ActionResult ──► medic.actions.results
//! ```
//!
//! This foundation ships the `log` mode only (the default, and safe anywhere). The Kubernetes backend
//! (server-side dry-run and apply via kube-rs), signatures and verification come with the act issue.

mod actuator;
mod config;
mod dedup;
mod issuer;

pub use actuator::Actuator;
pub use config::{ActConfig, ActuatorMode};
pub use issuer::CommandIssuer;
