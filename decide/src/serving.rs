//! [`view_of`]: a workload's [`DeploymentView`] rebuilt from its records — the latest [`WorkloadState`]
//! from `medic.state` and the diagnosis — so a learned policy serves on the numbers it was trained on.
//!
//! What the records do not say comes from decide's configuration ([`ServedWorkload`]): how many requests
//! one pod serves and the workload's latency objective.

use crate::observation::{DeploymentView, Signal};
use schemas::WorkloadState;

/// Requests per second a Ready pod serves on a Ready node: `pod_rps`, or a third of it under disk
/// pressure (its I/O waits on a full disk). The twin's capacity and the serving view both count with it.
#[must_use]
pub fn pod_capacity_rps(pod_rps: f64, disk_pressure: bool) -> f64 {
    if disk_pressure {
        pod_rps / 3.0
    } else {
        pod_rps
    }
}

/// What decide is told about a workload that the cluster does not report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServedWorkload {
    /// Requests per second one pod serves at full utilisation.
    pub pod_rps: f64,
    /// The p95 latency objective, milliseconds.
    pub sla_p95_ms: f64,
    /// The failed share of requests above which the objective is violated.
    pub max_error_rate: f64,
}

/// The view of the workload `state` describes, with the diagnosis `signal` (`None`: none yet). Without
/// a metrics source, demand, latency and errors read as zero.
#[must_use]
pub fn view_of(
    state: &WorkloadState,
    signal: Option<Signal>,
    workload: &ServedWorkload,
) -> DeploymentView {
    let signals = &state.signals;
    let demand = signals.demand_rps.unwrap_or(0.0);
    let p95_ms = signals.p95_ms.unwrap_or(0.0);
    let error_rate = signals.error_ratio.unwrap_or(0.0);
    let node = |name: &str| state.nodes.iter().find(|n| n.node == name);
    let capacity_rps = state
        .pods_per_node
        .iter()
        .filter_map(|on| Some((on, node(&on.node)?)))
        .filter(|(_, n)| n.ready)
        .map(|(on, n)| f64::from(on.ready) * pod_capacity_rps(workload.pod_rps, n.disk_pressure))
        .sum();
    let troubled_node = state
        .pods_per_node
        .iter()
        .filter(|on| on.pods > 0)
        .find_map(|on| {
            let i = state.nodes.iter().position(|n| n.node == on.node)?;
            let n = &state.nodes[i];
            (!n.ready || n.disk_pressure).then_some(i)
        });
    let cluster = state.cluster_nodes;
    DeploymentView {
        deployment: 0,
        at_secs: state.observed_at_ns as f64 / 1e9,
        desired: state.pods.desired,
        serving: state.pods.ready,
        starting: state.pods.starting,
        crashing: state.pods.crash_looping,
        pending: state.pods.pending,
        min_replicas: state.bounds.min,
        max_replicas: state.bounds.max,
        pod_rps: workload.pod_rps,
        demand_rps: demand,
        served_rps: demand * (1.0 - error_rate),
        demand_rps_1m: signals.demand_rps_1m.unwrap_or(demand),
        demand_rps_5m: signals.demand_rps_5m.unwrap_or(demand),
        capacity_rps,
        cpu_utilisation: signals.cpu_utilisation.unwrap_or(0.0),
        p95_ms,
        sla_p95_ms: workload.sla_p95_ms,
        error_rate,
        violated: demand > 0.0
            && (p95_ms > workload.sla_p95_ms || error_rate > workload.max_error_rate),
        signal,
        troubled_node,
        schedulable_nodes: if cluster.total == 0 {
            1.0
        } else {
            f64::from(cluster.schedulable) / f64::from(cluster.total)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::{
        BoundsSource, ClusterNodes, FaultClass, NodeCondition, NodePods, PodCounts, ReplicaBounds,
        SCHEMA_VERSION, Target, WorkloadSignals,
    };

    fn node(name: &str, ready: bool, disk_pressure: bool) -> NodeCondition {
        NodeCondition {
            node: name.into(),
            ready,
            disk_pressure,
            unschedulable: false,
        }
    }

    #[test]
    fn a_state_becomes_the_view_a_policy_reads() {
        let on = |node: &str, pods, ready| NodePods {
            node: node.into(),
            pods,
            ready,
        };
        let state = WorkloadState {
            schema_version: SCHEMA_VERSION,
            target: Target::deployment("shop", "web"),
            observed_at_ns: 90_000_000_000,
            observer: "test@1".into(),
            pods: PodCounts {
                desired: 5,
                ready: 3,
                starting: 1,
                crash_looping: 1,
                pending: 0,
            },
            bounds: ReplicaBounds {
                min: 2,
                max: 10,
                source: BoundsSource::Hpa,
            },
            nodes_left_out: 0,
            pods_per_node: vec![on("a", 2, 2), on("b", 2, 1), on("c", 1, 0)],
            nodes: vec![
                node("a", true, false),
                node("b", true, true),
                node("c", false, false),
            ],
            cluster_nodes: ClusterNodes {
                total: 4,
                schedulable: 2,
            },
            last_rollout: None,
            signals: WorkloadSignals {
                demand_rps: Some(300.0),
                p95_ms: Some(120.0),
                error_ratio: Some(0.2),
                ..WorkloadSignals::default()
            },
        };
        let served = ServedWorkload {
            pod_rps: 90.0,
            sla_p95_ms: 250.0,
            max_error_rate: 0.05,
        };
        let signal = Signal {
            fault: FaultClass::DiskPressure,
            confidence: 0.9,
            node: None,
        };
        let view = view_of(&state, Some(signal), &served);
        assert_eq!(
            (view.desired, view.serving, view.starting, view.crashing),
            (5, 3, 1, 1)
        );
        assert!(
            (view.capacity_rps - (2.0 * 90.0 + 30.0)).abs() < 1e-9,
            "full speed on a, a third on b (disk pressure), nothing on c (not Ready): {}",
            view.capacity_rps
        );
        assert_eq!(view.troubled_node, Some(1), "b is the first troubled node");
        assert!(view.violated, "20% errors is above 5%");
        assert_eq!(
            (view.demand_rps_1m, view.demand_rps_5m),
            (300.0, 300.0),
            "no history: the trend is flat"
        );
        assert!((view.schedulable_nodes - 0.5).abs() < 1e-12);
        assert_eq!(view.signal, Some(signal));
        let quiet = WorkloadState {
            signals: WorkloadSignals::default(),
            ..state
        };
        let view = view_of(&quiet, None, &served);
        assert!(
            !view.violated && view.demand_rps == 0.0,
            "no metrics source"
        );
    }
}
