//! [`WorkloadState`]: what the cluster says about one workload — its pods, bounds, nodes, last rollout and
//! (where a metrics source is configured) its demand, latency and errors.
//!
//! The observer stage writes one on `medic.state` per workload whenever it changes (and again every
//! resync interval), keyed like the workload's diagnoses, so decide reads both in order per workload.
//! Every field comes from the Kubernetes API or the metrics source, never from log content.

use crate::Target;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One workload as the cluster reports it, produced by the observer on `medic.state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkloadState {
    /// Version of this record's schema.
    pub schema_version: u32,
    /// The workload (Deployment, StatefulSet or DaemonSet; never a pod or node hint).
    pub target: Target,
    /// When the cluster was read, ns since the epoch (wall clock of the observer, or twin time).
    pub observed_at_ns: i64,
    /// Who observed it and how (`kubernetes@1`, `twin@1`).
    pub observer: String,
    /// Its pods by state.
    pub pods: PodCounts,
    /// Its replica bounds, and where they come from.
    pub bounds: ReplicaBounds,
    /// Its non-terminated pods per node (nodes holding none are left out), by node name.
    pub pods_per_node: Vec<NodePods>,
    /// The nodes its pods run on, with their conditions.
    pub nodes: Vec<NodeCondition>,
    /// Nodes its pods run on that `pods_per_node` and `nodes` leave out (an observer lists a bounded
    /// number, so that a state fits one message): a reader may not take a node missing from these lists
    /// for one the workload does not run on. 0 (and left out of the JSON) when they are whole.
    #[serde(default, skip_serializing_if = "super::is_zero")]
    pub nodes_left_out: u32,
    /// The cluster's nodes: how many, and how many accept new pods.
    pub cluster_nodes: ClusterNodes,
    /// The latest rollout (the newest revision of its pod template), where the API shows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rollout: Option<Rollout>,
    /// Demand, latency and errors, where a metrics source is configured and answered.
    #[serde(default, skip_serializing_if = "WorkloadSignals::is_empty")]
    pub signals: WorkloadSignals,
}

/// A workload's pods by state. A pod counts once, in the first state that applies: `crash_looping`,
/// `pending`, `starting`, `ready`; terminating pods are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PodCounts {
    /// Replicas the workload asks for (`spec.replicas`; a DaemonSet's desired number scheduled).
    pub desired: u32,
    /// Pods Ready.
    pub ready: u32,
    /// Pods bound to a node and running or starting, not yet Ready.
    pub starting: u32,
    /// Pods with a container waiting in `CrashLoopBackOff` (or failing to start: image or config
    /// errors), Ready or not.
    pub crash_looping: u32,
    /// Pods not bound to a node.
    pub pending: u32,
}

/// Where a workload's replica bounds come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BoundsSource {
    /// A HorizontalPodAutoscaler targets the workload.
    Hpa,
    /// No autoscaler: the observer's configured defaults.
    Configured,
}

/// The least and most replicas a workload may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReplicaBounds {
    /// Least replicas.
    pub min: u32,
    /// Most replicas.
    pub max: u32,
    /// Where they come from.
    pub source: BoundsSource,
}

/// How many of a workload's pods are on one node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct NodePods {
    /// Node name.
    pub node: String,
    /// Non-terminated pods of the workload bound there.
    pub pods: u32,
    /// Of those, the Ready ones.
    pub ready: u32,
}

/// A node's conditions, as its status and spec report them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct NodeCondition {
    /// Node name.
    pub node: String,
    /// Condition `Ready` is `True`.
    pub ready: bool,
    /// Condition `DiskPressure` is `True`.
    pub disk_pressure: bool,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
}

impl NodeCondition {
    /// Whether new pods may land on the node: Ready, not cordoned, no disk pressure.
    #[must_use]
    pub fn schedulable(&self) -> bool {
        self.ready && !self.unschedulable && !self.disk_pressure
    }
}

/// The cluster's nodes, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClusterNodes {
    /// Nodes in the cluster.
    pub total: u32,
    /// Nodes that are Ready, not cordoned and not under disk pressure.
    pub schedulable: u32,
}

impl ClusterNodes {
    /// Share of the nodes that do not accept new pods (0 for a cluster without nodes).
    #[must_use]
    pub fn unschedulable_share(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            f64::from(self.total - self.schedulable.min(self.total)) / f64::from(self.total)
        }
    }
}

/// A workload's latest rollout: the newest revision of its pod template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Rollout {
    /// Revision number (`deployment.kubernetes.io/revision` of its newest ReplicaSet; a StatefulSet's or
    /// DaemonSet's ControllerRevision).
    pub revision: u64,
    /// When that revision was created, ns since the epoch.
    pub at_ns: i64,
    /// Whether its container images differ from the previous revision's (absent: no previous revision
    /// is known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_changed: Option<bool>,
    /// Whether this revision reuses an older revision's object (ReplicaSet or ControllerRevision): a
    /// rollback, by anyone. Known only to a reader that saw the revision before it
    /// ([`Rollout::dated_after`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rolled_back: bool,
}

impl Rollout {
    /// This rollout, read at `read_at_ns`, dated against `previous`, the last one known of the same
    /// workload. The API dates a rollout by its object's creation, but a rollback reuses an old
    /// ReplicaSet or ControllerRevision under a new number: a newer revision on an object no younger than
    /// the previous revision's is marked `rolled_back` and dated at the read (never before the previous
    /// rollout). The same revision keeps the later of the two dates and its mark (so a reader that
    /// restarted and reads the API's date again keeps both; a workload recreated under the same name has
    /// a younger object, hence its own date).
    #[must_use]
    pub fn dated_after(&self, previous: &Rollout, read_at_ns: i64) -> Rollout {
        let (at_ns, rolled_back) = if self.revision == previous.revision {
            (
                self.at_ns.max(previous.at_ns),
                self.rolled_back || (previous.rolled_back && self.at_ns <= previous.at_ns),
            )
        } else if self.revision > previous.revision && self.at_ns <= previous.at_ns {
            (read_at_ns.max(previous.at_ns), true)
        } else {
            (self.at_ns, self.rolled_back)
        };
        Rollout {
            at_ns,
            rolled_back,
            ..self.clone()
        }
    }
}

/// Metrics of a workload from the configured metrics source; each is absent where the source has none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkloadSignals {
    /// Requests per second now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demand_rps: Option<f64>,
    /// Requests per second one minute earlier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demand_rps_1m: Option<f64>,
    /// Requests per second five minutes earlier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demand_rps_5m: Option<f64>,
    /// 95th percentile latency, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
    /// Failed share of requests, in `[0, 1]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_ratio: Option<f64>,
    /// CPU used over CPU requested by its pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_utilisation: Option<f64>,
}

impl WorkloadSignals {
    /// Whether no signal is known.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether `other` knows the same signals and each is within `tolerance` of this one, relative to
    /// the larger of the two, or within `tolerance` of the signal's scale (1 request/s, 100 ms, an
    /// error ratio of 0.1, 0.1 of the CPU requested), so that values near zero do not count every
    /// jitter as a change. A tolerance of 0: equal.
    #[must_use]
    pub fn within(&self, other: &Self, tolerance: f64) -> bool {
        let pairs = [
            (self.demand_rps, other.demand_rps, 1.0),
            (self.demand_rps_1m, other.demand_rps_1m, 1.0),
            (self.demand_rps_5m, other.demand_rps_5m, 1.0),
            (self.p95_ms, other.p95_ms, 100.0),
            (self.error_ratio, other.error_ratio, 0.1),
            (self.cpu_utilisation, other.cpu_utilisation, 0.1),
        ];
        pairs.iter().all(|&(a, b, scale)| match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => (a - b).abs() <= tolerance * a.abs().max(b.abs()).max(scale),
            _ => false,
        })
    }
}

impl WorkloadState {
    /// Whether `other` says the same about the workload, whenever it was observed, its signals each
    /// within `signal_tolerance` (relative) of these (the observer writes a record only when this
    /// changes, or when its resync interval has passed).
    #[must_use]
    pub fn same_as(&self, other: &Self, signal_tolerance: f64) -> bool {
        self.signals.within(&other.signals, signal_tolerance)
            && Self {
                observed_at_ns: other.observed_at_ns,
                signals: other.signals,
                ..self.clone()
            } == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_are_within_a_share_of_their_value_or_of_their_scale() {
        let errors = |ratio: f64| WorkloadSignals {
            error_ratio: Some(ratio),
            demand_rps: Some(200.0),
            ..WorkloadSignals::default()
        };
        assert!(
            errors(0.0).within(&errors(0.004), 0.05),
            "near zero: against the scale"
        );
        assert!(!errors(0.0).within(&errors(0.02), 0.05));
        assert!(errors(0.5).within(&errors(0.52), 0.05));
        assert!(!errors(0.0).within(&errors(0.0004), 0.0), "0: equal only");
        let mut without = errors(0.0);
        without.demand_rps = None;
        assert!(!errors(0.0).within(&without, 0.5), "a signal gone");
    }

    fn rollout(revision: u64, at_ns: i64) -> Rollout {
        Rollout {
            revision,
            at_ns,
            image_changed: Some(true),
            rolled_back: false,
        }
    }

    #[test]
    fn a_rollback_is_marked_dated_at_its_read_and_keeps_both() {
        let rolled_out = rollout(2, 100);
        let rolled_back = rollout(3, 50).dated_after(&rolled_out, 2_000);
        assert_eq!(
            (rolled_back.at_ns, rolled_back.rolled_back),
            (2_000, true),
            "revision 1's object, reused"
        );
        assert_eq!(
            rollout(3, 50).dated_after(&rolled_out, 90).at_ns,
            100,
            "a clock behind: never before the rollout it replaced"
        );
        // (revision, its object's creation, read at) after the rollback → its date, and whether it is
        // a rollback.
        let cases = [
            (
                (3, 50, 3_000),
                (2_000, true),
                "read again (or by a restarted reader)",
            ),
            (
                (4, 2_500, 4_000),
                (2_500, false),
                "a new object: its own time",
            ),
            (
                (3, 5_000, 5_000),
                (5_000, false),
                "recreated under the same name: its own date",
            ),
            (
                (1, 6_000, 6_000),
                (6_000, false),
                "numbers that restart: the API's time",
            ),
        ];
        for ((revision, created, read_at), dated, why) in cases {
            let rollout = rollout(revision, created).dated_after(&rolled_back, read_at);
            assert_eq!((rollout.at_ns, rollout.rolled_back), dated, "{why}");
        }
    }
}
