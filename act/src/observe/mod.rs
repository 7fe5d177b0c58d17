//! The observer stage: reads the cluster through the read-only [`schemas::observe::ReadCluster`] trait
//! and writes one [`schemas::WorkloadState`] per workload on `medic.state` whenever what it says changes
//! (and again every resync interval), keyed like the workload's diagnoses.
//!
//! ```text
//!  Kubernetes API ── watch (get/list/watch rights only) ─► KubeReader ─┐
//!  decide's twin (tests) ───────────────────────────────► its reader ──┤ ReadCluster
//!                                                                      ▼
//!                   Observe (on each tick past `interval`): snapshot ─► workload_states ─► medic.state
//!                                                                      ▲
//!  Prometheus HTTP API ── instant queries (optional) ──► Prometheus ───┘ signals
//! ```
//!
//! The observer reads no topic: it is a source stage, driven by the runner's ticks. It lives beside the
//! actuator because both talk to the cluster, but it never writes to it: the trait it reads through has
//! no method that could, and its ServiceAccount (deploy/rbac/observer.yaml) may only get, list and watch.

mod config;
mod kubernetes;
mod prometheus;
mod resolve;
mod rollouts;
mod stage;
mod states;
mod watched;

pub use config::{ObserveConfig, ObserveSource};
pub use kubernetes::{KubeReader, classify_pod};
pub use prometheus::{Prometheus, PrometheusConfig, SignalQueries, SignalsRead};
pub use stage::{OBSERVER_KUBERNETES, Observe};
pub use states::{MAX_STATE_NODES, workload_states};
