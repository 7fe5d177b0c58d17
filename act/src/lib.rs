//! # medic-act
//!
//! The last stage: decisions become signed commands on the actuation topic, and the actuator checks
//! and applies them.
//!
//! ```text
//!  medic.decisions ──► CommandIssuer ──► RemediationCommand (idempotency key = decision id, expiry,
//!                                              │               provenance, Ed25519 signature)
//!                                              │ medic.actions (keyed by target)
//!                                              ▼
//!   Actuator: undecodable / unsigned / forged / expired / replayed ──► medic.dlq (reason, counter)
//!             allowlist, rate limit, blast radius (on live state) ──► result `rejected`
//!             journal the key (fsync) ──► backend.apply ──► watch until healthy ──► `verified`
//!                                                                  └─ timeout ──► compensate, `failed`
//!                                              ▼
//!                                         ActionResult ──► medic.actions.results
//! ```
//!
//! Modes: `log` (the default: record what would be applied, no API call), `server-dry-run`
//! (`dryRun=All` on every write) and `apply`. The backends implement [`schemas::actuate::Actuate`]:
//! [`kubernetes::KubeBackend`] here, the digital twin in `decide`; the `medic` binary wires one or the
//! other, so this crate never depends on `decide`.

mod actuator;
mod cluster;
mod config;
mod issuer;
mod journal;
pub mod kubernetes;
pub mod observe;
pub mod safety;
pub mod signing;

pub use actuator::{Actuator, Handled, Refused};
pub use config::{ActConfig, ActuatorMode};
pub use issuer::{CommandIssuer, direct_command, new_command_id};
pub use journal::Journal;
pub use signing::{KeyRing, Signer};
