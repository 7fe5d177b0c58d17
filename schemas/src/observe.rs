//! The [`ReadCluster`] trait: what the observer stage reads of a cluster. It has no method that writes:
//! an implementation holds read rights only (on Kubernetes a ServiceAccount with get/list/watch), never
//! the actuator's.
//!
//! `observe` implements it for the Kubernetes API, `decide`'s lab for its digital twin, and the `medic`
//! binary wires one or the other, as it does for [`crate::actuate::Actuate`].

use crate::{NodeCondition, Rollout, Target, WorkloadSignals};
use std::fmt;

/// Reads a cluster's workloads, pods and nodes.
pub trait ReadCluster: Send {
    /// Who reads, written on every state (`kubernetes@1`, `twin@1`).
    fn observer(&self) -> &'static str;

    /// The cluster as it is now.
    ///
    /// # Errors
    /// When the cluster cannot be read (API unavailable, no permission); the observer tries again at
    /// its next interval.
    fn read(&mut self) -> Result<ClusterSnapshot, ObserveError>;
}

/// A cluster at one moment, reduced to what the observer reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterSnapshot {
    /// When it was read, ns since the epoch.
    pub at_ns: i64,
    /// The workloads.
    pub workloads: Vec<ObservedWorkload>,
    /// The pods that belong to one of them.
    pub pods: Vec<ObservedPod>,
    /// Every node.
    pub nodes: Vec<NodeCondition>,
}

/// A workload as its object (and its autoscaler, and its revisions) describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedWorkload {
    /// The workload.
    pub target: Target,
    /// Replicas it asks for.
    pub desired: u32,
    /// The bounds of the HorizontalPodAutoscaler that targets it, if one does: `(min, max)`.
    pub autoscaler: Option<(u32, u32)>,
    /// Its latest rollout.
    pub last_rollout: Option<Rollout>,
    /// Its metrics, where a source knows them.
    pub signals: WorkloadSignals,
}

/// A pod of a workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedPod {
    /// The workload that owns it (kind, namespace and name only).
    pub owner: Target,
    /// Its name.
    pub name: String,
    /// The node it is bound to.
    pub node: Option<String>,
    /// Where it is in its life.
    pub phase: ObservedPhase,
}

/// Where a pod is in its life, as the observer counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservedPhase {
    /// Not bound to a node.
    Pending,
    /// Bound, not yet Ready.
    Starting,
    /// Ready.
    Ready,
    /// A container waits in CrashLoopBackOff or cannot start (image, configuration).
    CrashLooping,
    /// Being deleted, or finished (Succeeded/Failed): not counted.
    Gone,
}

/// Why a cluster could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserveError(pub String);

impl fmt::Display for ObserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ObserveError {}
