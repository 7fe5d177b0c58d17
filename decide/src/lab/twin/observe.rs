//! [`TwinObserver`]: the digital twin read as a cluster, so the observer stage writes the same
//! `WorkloadState` records from the twin (in tests; replays and `medic demo` are to follow) as it does
//! from the Kubernetes API.
//!
//! It reads the twin through [`Twin::measure`] and the twin's state, never through [`Twin::view`]: no
//! random draw and no change, so an observed run is the run it would have been unobserved.

use super::Twin;
use super::state::PodPhase;
use schemas::observe::{
    ClusterSnapshot, ObserveError, ObservedPhase, ObservedPod, ObservedWorkload, ReadCluster,
};
use schemas::{NodeCondition, Rollout, Target, WorkloadSignals};
use std::sync::{Arc, Mutex};

/// The observer name on the twin's states.
pub const OBSERVER_TWIN: &str = "twin@1";

/// Reads a shared twin; simulated second 0 is `start_unix_secs` (as in the twin's logs).
pub struct TwinObserver {
    twin: Arc<Mutex<Twin>>,
    start_unix_secs: i64,
}

impl TwinObserver {
    /// An observer of `twin`, whose simulated second 0 is `start_unix_secs`.
    #[must_use]
    pub fn new(twin: Arc<Mutex<Twin>>, start_unix_secs: i64) -> Self {
        Self {
            twin,
            start_unix_secs,
        }
    }
}

impl ReadCluster for TwinObserver {
    fn observer(&self) -> &'static str {
        OBSERVER_TWIN
    }

    fn read(&mut self) -> Result<ClusterSnapshot, ObserveError> {
        let twin = self
            .twin
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(snapshot(&twin, self.start_unix_secs))
    }
}

/// The twin now, as the API server and the metrics source would show it.
#[must_use]
pub fn snapshot(twin: &Twin, start_unix_secs: i64) -> ClusterSnapshot {
    let at_ns = |secs: f64| {
        start_unix_secs
            .saturating_mul(1_000_000_000)
            .saturating_add((secs * 1e9).round() as i64)
    };
    let spec = twin.spec();
    let node_name = |n: usize| spec.nodes[n].name.clone();
    let nodes = twin.node_states();
    let mut workloads = Vec::new();
    let mut pods = Vec::new();
    for (d, state) in twin.deployment_states().iter().enumerate() {
        let deployment = &spec.deployments[d];
        let target = Target::deployment(&deployment.namespace, &deployment.name);
        let measured = twin.measure(d);
        for pod in &state.pods {
            // As the twin's own view counts them: a pod on a NotReady node does not serve.
            let serving = pod.ready() && pod.node.is_some_and(|n| nodes[n].ready);
            let phase = match pod.phase {
                _ if serving => ObservedPhase::Ready,
                PodPhase::Starting { .. } | PodPhase::Running { .. } => ObservedPhase::Starting,
                PodPhase::BackOff { .. } => ObservedPhase::CrashLooping,
                PodPhase::Pending => ObservedPhase::Pending,
            };
            pods.push(ObservedPod {
                owner: target.clone(),
                name: pod.name.clone(),
                node: pod.node.map(node_name),
                phase,
            });
        }
        workloads.push(ObservedWorkload {
            target,
            desired: state.desired,
            autoscaler: Some((deployment.min_replicas, deployment.max_replicas)),
            last_rollout: state.rollout.map(|r| Rollout {
                revision: r.revision,
                at_ns: at_ns(r.at_secs),
                image_changed: Some(r.image_changed),
                rolled_back: r.rolled_back,
            }),
            signals: WorkloadSignals {
                demand_rps: finite(measured.demand_rps),
                demand_rps_1m: finite(measured.demand_rps_1m),
                demand_rps_5m: finite(measured.demand_rps_5m),
                p95_ms: finite(measured.p95_ms),
                error_ratio: finite(measured.error_rate),
                cpu_utilisation: finite(measured.cpu_utilisation),
            },
        });
    }
    ClusterSnapshot {
        at_ns: at_ns(twin.now()),
        workloads,
        pods,
        nodes: nodes
            .iter()
            .enumerate()
            .map(|(n, node)| NodeCondition {
                node: node_name(n),
                ready: node.ready,
                disk_pressure: node.disk_pressure,
                unschedulable: node.cordoned,
            })
            .collect(),
    }
}

/// `v`, unless it is not finite (JSON has no infinity: a saturated queue's latency is left out).
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}
