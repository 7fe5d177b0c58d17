//! [`workload_states`]: a cluster snapshot → one [`WorkloadState`] per workload.

use super::ObserveConfig;
use schemas::observe::{ClusterSnapshot, ObservedPhase, ObservedPod};
use schemas::{
    BoundsSource, ClusterNodes, NodeCondition, NodePods, PodCounts, ReplicaBounds, SCHEMA_VERSION,
    Target, WorkloadState,
};
use std::collections::{BTreeMap, HashMap};

/// The most nodes one state lists (in `nodes` and in `pods_per_node`): a state must fit one Kafka message
/// (1 MB by default), and a node takes up to ~650 bytes there with a name of Kubernetes' 253-character
/// limit. Only a workload with pods on more nodes than this — a DaemonSet on a large cluster, which no
/// scaling decision applies to — has its lists cut: the nodes that are not schedulable stay (they are
/// what a decision looks for), then those with the most pods.
pub const MAX_STATE_NODES: usize = 1000;

/// The state of every workload of `snapshot`, in its order, as `observer` saw it. Targets carry
/// `config.cluster`; workloads without an autoscaler get `config`'s bounds (the maximum raised to the
/// replicas a workload already asks for). Node lists are cut to [`MAX_STATE_NODES`].
#[must_use]
pub fn workload_states(
    snapshot: &ClusterSnapshot,
    config: &ObserveConfig,
    observer: &str,
) -> Vec<WorkloadState> {
    states_and_nodes_left_out(snapshot, config, observer).0
}

/// [`workload_states`], and how many nodes were left out of their lists.
pub(crate) fn states_and_nodes_left_out(
    snapshot: &ClusterSnapshot,
    config: &ObserveConfig,
    observer: &str,
) -> (Vec<WorkloadState>, u64) {
    let mut left_out = 0;
    let mut pods_of: HashMap<&Target, Vec<&ObservedPod>> = HashMap::new();
    for pod in &snapshot.pods {
        pods_of.entry(&pod.owner).or_default().push(pod);
    }
    let nodes: HashMap<&str, &NodeCondition> = snapshot
        .nodes
        .iter()
        .map(|n| (n.node.as_str(), n))
        .collect();
    let cluster_nodes = ClusterNodes {
        total: count(snapshot.nodes.len()),
        schedulable: count(snapshot.nodes.iter().filter(|n| n.schedulable()).count()),
    };
    let states = snapshot
        .workloads
        .iter()
        .map(|workload| {
            let key = Target {
                cluster: None,
                pod: None,
                node: None,
                ..workload.target.clone()
            };
            let pods = pods_of.get(&key).map_or(&[][..], Vec::as_slice);
            let mut counts = PodCounts {
                desired: workload.desired,
                ..PodCounts::default()
            };
            // Per node: (pods, of which Ready).
            let mut per_node: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
            for pod in pods {
                match pod.phase {
                    ObservedPhase::Gone => continue,
                    ObservedPhase::Pending => counts.pending += 1,
                    ObservedPhase::Starting => counts.starting += 1,
                    ObservedPhase::Ready => counts.ready += 1,
                    ObservedPhase::CrashLooping => counts.crash_looping += 1,
                }
                if let Some(node) = &pod.node {
                    let on = per_node.entry(node).or_default();
                    on.0 += 1;
                    on.1 += u32::from(pod.phase == ObservedPhase::Ready);
                }
            }
            let nodes_left_out = keep_nodes(&mut per_node, |name| {
                nodes.get(name).is_none_or(|n| !n.schedulable())
            });
            left_out += u64::from(nodes_left_out);
            let bounds = match workload.autoscaler {
                Some((min, max)) => ReplicaBounds {
                    min,
                    max,
                    source: BoundsSource::Hpa,
                },
                None => ReplicaBounds {
                    min: config.min_replicas,
                    max: config.max_replicas.max(workload.desired),
                    source: BoundsSource::Configured,
                },
            };
            WorkloadState {
                schema_version: SCHEMA_VERSION,
                target: Target {
                    cluster: config.cluster.clone(),
                    ..key
                },
                observed_at_ns: snapshot.at_ns,
                observer: observer.to_owned(),
                pods: counts,
                bounds,
                nodes: per_node
                    .keys()
                    .map(|name| {
                        nodes.get(name).map_or_else(
                            // A node the pods name but the list lacks (deleted since): not usable.
                            || NodeCondition {
                                node: (*name).to_owned(),
                                ready: false,
                                disk_pressure: false,
                                unschedulable: true,
                            },
                            |n| (*n).clone(),
                        )
                    })
                    .collect(),
                pods_per_node: per_node
                    .into_iter()
                    .map(|(node, (pods, ready))| NodePods {
                        node: node.to_owned(),
                        pods,
                        ready,
                    })
                    .collect(),
                nodes_left_out,
                cluster_nodes,
                last_rollout: workload.last_rollout.clone(),
                signals: workload.signals,
            }
        })
        .collect();
    (states, left_out)
}

/// Cuts `per_node` (pods, of which Ready, by node) to [`MAX_STATE_NODES`]: the nodes `troubled` names
/// first, then those with the most pods, then by name. Returns how many it left out.
fn keep_nodes(per_node: &mut BTreeMap<&str, (u32, u32)>, troubled: impl Fn(&str) -> bool) -> u32 {
    let Some(over) = per_node
        .len()
        .checked_sub(MAX_STATE_NODES)
        .filter(|n| *n > 0)
    else {
        return 0;
    };
    let mut ranked: Vec<(&str, u32)> = per_node.iter().map(|(n, (pods, _))| (*n, *pods)).collect();
    ranked.sort_by_key(|(node, pods)| (!troubled(node), std::cmp::Reverse(*pods), *node));
    for (node, _) in ranked.split_off(MAX_STATE_NODES) {
        per_node.remove(node);
    }
    count(over)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::observe::ObservedWorkload;
    use schemas::{ObjectKind, WorkloadSignals};

    fn pod(owner: &Target, name: &str, node: Option<&str>, phase: ObservedPhase) -> ObservedPod {
        ObservedPod {
            owner: owner.clone(),
            name: name.to_owned(),
            node: node.map(str::to_owned),
            phase,
        }
    }

    fn node(name: &str, ready: bool, disk_pressure: bool, unschedulable: bool) -> NodeCondition {
        NodeCondition {
            node: name.to_owned(),
            ready,
            disk_pressure,
            unschedulable,
        }
    }

    #[test]
    fn pods_are_counted_per_workload_state_and_node() {
        let web = Target::deployment("shop", "web");
        let db = Target::object(ObjectKind::StatefulSet, Some("shop"), "web");
        let snapshot = ClusterSnapshot {
            at_ns: 7,
            workloads: vec![
                ObservedWorkload {
                    target: web.clone(),
                    desired: 4,
                    autoscaler: None,
                    last_rollout: None,
                    signals: WorkloadSignals::default(),
                },
                ObservedWorkload {
                    target: db.clone(),
                    desired: 12,
                    autoscaler: Some((2, 20)),
                    last_rollout: None,
                    signals: WorkloadSignals::default(),
                },
            ],
            pods: vec![
                pod(&web, "web-1", Some("n1"), ObservedPhase::Ready),
                pod(&web, "web-2", Some("n1"), ObservedPhase::CrashLooping),
                pod(&web, "web-3", Some("n2"), ObservedPhase::Starting),
                pod(&web, "web-4", None, ObservedPhase::Pending),
                pod(&web, "web-5", Some("n2"), ObservedPhase::Gone),
                pod(&db, "web-0", Some("n3"), ObservedPhase::Ready),
            ],
            nodes: vec![
                node("n1", true, false, false),
                node("n2", true, true, false),
                node("n3", false, false, false),
                node("n4", true, false, true),
            ],
        };
        let config = ObserveConfig {
            cluster: Some("prod".to_owned()),
            ..ObserveConfig::default()
        };
        let states = workload_states(&snapshot, &config, "test@1");
        let [web_state, db_state] = states.as_slice() else {
            panic!("one state per workload: {states:?}")
        };
        assert_eq!(
            web_state.pods,
            PodCounts {
                desired: 4,
                ready: 1,
                starting: 1,
                crash_looping: 1,
                pending: 1
            },
            "a StatefulSet of the same name is another workload; terminated pods are not counted"
        );
        assert_eq!(
            (
                web_state.target.cluster.as_deref(),
                web_state.observed_at_ns
            ),
            (Some("prod"), 7)
        );
        assert_eq!(
            web_state
                .pods_per_node
                .iter()
                .map(|n| (n.node.as_str(), n.pods, n.ready))
                .collect::<Vec<_>>(),
            [("n1", 2, 1), ("n2", 1, 0)]
        );
        assert_eq!(web_state.nodes[1], node("n2", true, true, false));
        assert_eq!(
            web_state.cluster_nodes,
            ClusterNodes {
                total: 4,
                schedulable: 1
            }
        );
        assert_eq!(
            (web_state.bounds.min, web_state.bounds.max),
            (1, 10),
            "configured bounds without an autoscaler"
        );
        assert_eq!(
            db_state.bounds,
            ReplicaBounds {
                min: 2,
                max: 20,
                source: BoundsSource::Hpa
            }
        );
        assert_eq!(db_state.pods.ready, 1);
        let big = ObserveConfig {
            max_replicas: 3,
            ..ObserveConfig::default()
        };
        assert_eq!(
            workload_states(&snapshot, &big, "test@1")[0].bounds.max,
            4,
            "the maximum is never below what the workload already asks for"
        );
    }

    #[test]
    fn a_workload_on_too_many_nodes_keeps_the_troubled_ones_and_the_busiest() {
        let daemons = Target::object(ObjectKind::DaemonSet, Some("ops"), "agent");
        let total = MAX_STATE_NODES + 5;
        let name = |i: usize| format!("n{i:05}");
        let mut pods: Vec<ObservedPod> = (0..total)
            .map(|i| {
                pod(
                    &daemons,
                    &format!("agent-{i}"),
                    Some(&name(i)),
                    ObservedPhase::Ready,
                )
            })
            .collect();
        // A second pod on the last node: the busiest.
        pods.push(pod(
            &daemons,
            "agent-x",
            Some(&name(total - 1)),
            ObservedPhase::Ready,
        ));
        let nodes = (0..total)
            .map(|i| node(&name(i), i != total - 2, false, false))
            .collect();
        let snapshot = ClusterSnapshot {
            at_ns: 1,
            workloads: vec![ObservedWorkload {
                target: daemons,
                desired: u32::try_from(total).expect("small"),
                autoscaler: None,
                last_rollout: None,
                signals: WorkloadSignals::default(),
            }],
            pods,
            nodes,
        };
        let (states, left_out) =
            states_and_nodes_left_out(&snapshot, &ObserveConfig::default(), "test@1");
        let state = &states[0];
        assert_eq!((left_out, state.nodes_left_out), (5, 5));
        assert_eq!(
            state.pods.ready,
            u32::try_from(total + 1).expect("small"),
            "every pod counted"
        );
        let listed: Vec<&str> = state
            .pods_per_node
            .iter()
            .map(|n| n.node.as_str())
            .collect();
        assert_eq!(listed.len(), MAX_STATE_NODES);
        assert!(listed.is_sorted(), "still in name order");
        assert_eq!(
            state
                .nodes
                .iter()
                .map(|n| n.node.as_str())
                .collect::<Vec<_>>(),
            listed,
            "the same nodes in both lists"
        );
        assert!(
            listed.contains(&name(total - 2).as_str()),
            "the node that is not Ready stays"
        );
        assert!(
            listed.contains(&name(total - 1).as_str()),
            "the busiest node stays"
        );
        assert!(listed.contains(&name(0).as_str()));
        assert!(
            !listed.contains(&name(total - 3).as_str()),
            "the last names are cut"
        );
    }
}
