//! [`StageArbiter`]: the arbiter as the decide stage runs it — for every policy, whenever the workload's
//! state is known — with the workloads and nodes it keys by index, as in the twin.
//!
//! ```text
//!  medic.state (every workload's latest) ─► cluster view ─┐
//!  diagnosis + the workload's state ───────► view ────────┴─► Arbiter::check(action) ─► Action on a Target
//! ```
//!
//! Each workload and node gets the next index the first time a state names it; workloads and nodes no
//! state names any more are forgotten (and the arbiter's memory of them), so departed nodes neither pile
//! up nor count as schedulable. The indices and the arbiter's memory are part of decide's checkpoint;
//! its limits are the configured ones.

use crate::actions::PolicyAction;
use crate::arbiter::{Arbiter, SafetyConfig};
use crate::observation::{ClusterView, DeploymentView, Signal};
use crate::serving::{ServedWorkload, view_of};
use crate::workloads::{Workloads, object_of};
use schemas::{Action, Diagnosis, StageError, Target, WorkloadState};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The arbiter, its limits, and the indices it keys workloads and nodes by.
pub struct StageArbiter {
    safety: SafetyConfig,
    memory: Memory,
}

/// What the stage's arbiter carries from one diagnosis to the next.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Memory {
    arbiter: Arbiter,
    /// Index → workload.
    workloads: Interner<Target>,
    /// Index → node name.
    nodes: Interner<String>,
}

/// Items numbered in the order first seen; serialised as the list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "Vec<T>", into = "Vec<T>")]
struct Interner<T: Clone + Eq + std::hash::Hash> {
    items: Vec<T>,
    index: HashMap<T, usize>,
}

impl<T: Clone + Eq + std::hash::Hash> Interner<T> {
    fn index(&mut self, item: &T) -> usize {
        if let Some(i) = self.index.get(item) {
            return *i;
        }
        self.items.push(item.clone());
        self.index.insert(item.clone(), self.items.len() - 1);
        self.items.len() - 1
    }

    fn get(&self, i: usize) -> Option<&T> {
        self.items.get(i)
    }

    fn position(&self, item: &T) -> Option<usize> {
        self.index.get(item).copied()
    }

    /// Keeps only the items in `live` (in their order, then the new ones of `live` in its order) and
    /// returns, per old index, the new one (`None`: forgotten).
    fn keep_only(&mut self, live: &[T]) -> Vec<Option<usize>> {
        let live_set: std::collections::HashSet<&T> = live.iter().collect();
        let old = std::mem::take(&mut self.items);
        self.index.clear();
        let renumbered = old
            .iter()
            .map(|item| live_set.contains(item).then(|| self.index(item)))
            .collect();
        for item in live {
            self.index(item);
        }
        renumbered
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

impl<T: Clone + Eq + std::hash::Hash> From<Vec<T>> for Interner<T> {
    fn from(items: Vec<T>) -> Self {
        let index = items
            .iter()
            .enumerate()
            .map(|(i, item)| (item.clone(), i))
            .collect();
        Self { items, index }
    }
}

impl<T: Clone + Eq + std::hash::Hash> From<Interner<T>> for Vec<T> {
    fn from(interner: Interner<T>) -> Self {
        interner.items
    }
}

impl StageArbiter {
    /// An arbiter with no history, under `safety`.
    #[must_use]
    pub fn new(safety: SafetyConfig) -> Self {
        Self {
            memory: Memory {
                arbiter: Arbiter::new(safety.clone()),
                workloads: Interner::from(Vec::new()),
                nodes: Interner::from(Vec::new()),
            },
            safety,
        }
    }

    /// Its memory, serialised for the stage's checkpoint.
    ///
    /// # Errors
    /// When it cannot be serialised (an internal error).
    pub fn snapshot(&self) -> Result<serde_json::Value, StageError> {
        serde_json::to_value(&self.memory)
            .map_err(|e| StageError::internal(format!("arbiter snapshot: {e}")))
    }

    /// Restores what [`StageArbiter::snapshot`] took, under the configured limits (not those of the
    /// process that wrote the checkpoint).
    ///
    /// # Errors
    /// When `snapshot` is not one.
    pub fn restore(&mut self, snapshot: serde_json::Value) -> Result<(), StageError> {
        let mut memory: Memory = serde_json::from_value(snapshot)
            .map_err(|e| StageError::schema(format!("arbiter checkpoint: {e}")))?;
        memory.arbiter = memory.arbiter.with_config(self.safety.clone());
        self.memory = memory;
        Ok(())
    }

    /// The view of the diagnosed workload (its `state`, the diagnosis as its signal, at `at_ns`) and of
    /// the cluster (every state of `states`), numbered as the arbiter keys them.
    pub fn views(
        &mut self,
        diagnosis: &Diagnosis,
        state: &WorkloadState,
        states: &Workloads,
        served: &ServedWorkload,
        at_ns: i64,
    ) -> (DeploymentView, ClusterView) {
        // First: it numbers the workloads and nodes the cluster has now.
        let cluster = self.cluster_view(states, at_ns);
        // The evidence's node, if the cluster shows the workload's pods there.
        let node = diagnosis
            .target
            .node
            .as_deref()
            .filter(|n| state.nodes.iter().any(|known| known.node == *n))
            .map(|n| self.node_index(n));
        let signal = Signal {
            fault: diagnosis.fault,
            confidence: diagnosis.confidence,
            node,
        };
        let mut view = view_of(state, Some(signal), served);
        view.deployment = self.workload_index(&object_of(&diagnosis.target));
        view.at_secs = at_ns as f64 / 1e9;
        view.troubled_node = view
            .troubled_node
            .map(|i| self.node_index(&state.nodes[i].node));
        (view, cluster)
    }

    /// The action to take instead of `proposed` (often the same), and a note per rule that changed it.
    pub fn check(
        &mut self,
        proposed: PolicyAction,
        view: &DeploymentView,
        cluster: &ClusterView,
    ) -> (PolicyAction, Vec<String>) {
        self.memory.arbiter.check(proposed, view, cluster)
    }

    /// The arbiter itself: its [`Arbiter::assess`] answers as [`StageArbiter::check`] does, remembering
    /// nothing (a shadow policy's review: its memory is fed the actions applied instead,
    /// [`StageArbiter::record_applied`]).
    #[must_use]
    pub fn arbiter(&self) -> &Arbiter {
        &self.memory.arbiter
    }

    /// Remembers the decision `action` on `target`, applied on the workload `view` shows (one the
    /// arbiter reviews; others are not remembered).
    pub fn record_applied(&mut self, action: Action, target: &Target, view: &DeploymentView) {
        if let Some(applied) = self.policy_action(action, target) {
            self.memory.arbiter.record(applied, view);
        }
    }

    /// `action` on `target` (a decision's) as the arbiter's action, if it is one it reviews: node
    /// actions on a node a state names, the others on the workload.
    #[must_use]
    pub fn policy_action(&self, action: Action, target: &Target) -> Option<PolicyAction> {
        PolicyAction::of_record(action, || self.memory.nodes.position(&target.name))
    }

    /// `action` as a record action on its target: node actions on the node they name, a pod restart on
    /// the pod the evidence names (escalated when it names none); the reason says what it changed.
    pub fn on_target(
        &self,
        action: PolicyAction,
        diagnosed: &Target,
        reason: &mut String,
    ) -> (Action, Target) {
        let workload = diagnosed.clone().with_node(None);
        match action {
            PolicyAction::Cordon(n) | PolicyAction::CordonDrain(n) => {
                match self.memory.nodes.get(n) {
                    Some(node) => (
                        action.action(),
                        Target {
                            cluster: diagnosed.cluster.clone(),
                            ..Target::node(node).with_node(Some(node))
                        },
                    ),
                    None => {
                        reason.push_str("; a node the cluster's states do not name: nothing to do");
                        (Action::Noop, workload)
                    }
                }
            }
            PolicyAction::RestartPod if diagnosed.pod.is_none() => {
                reason.push_str("; no pod named by the evidence: a human must pick it");
                (Action::Escalate, workload)
            }
            other => (
                other.action(),
                workload.clone().with_pod(match other {
                    PolicyAction::RestartPod => diagnosed.pod.as_deref(),
                    _ => None,
                }),
            ),
        }
    }

    /// The nodes as the arbiter sees them at `at_ns`, from every workload's state then
    /// ([`Workloads::sorted_as_of`]): per node a state
    /// names, its conditions (as the newest such state says); per workload, its pods there. Nodes no state
    /// names are counted from the newest state's cluster totals, as unnamed entries after the named ones.
    ///
    /// It first renumbers: workloads and nodes no state names any more are forgotten (the arbiter's
    /// memory of them too), so departed nodes neither pile up nor count as schedulable.
    pub fn cluster_view(&mut self, states: &Workloads, at_ns: i64) -> ClusterView {
        let all = states.sorted_as_of(at_ns);
        let live_workloads: Vec<Target> = all.iter().map(|s| object_of(&s.target)).collect();
        let live_nodes: Vec<String> = all
            .iter()
            .flat_map(|s| {
                s.nodes
                    .iter()
                    .map(|n| n.node.clone())
                    .chain(s.pods_per_node.iter().map(|on| on.node.clone()))
            })
            .collect();
        let workloads = self.memory.workloads.keep_only(&live_workloads);
        let nodes = self.memory.nodes.keep_only(&live_nodes);
        self.memory
            .arbiter
            .renumber(&|old| workloads.get(old).copied().flatten(), &|old| {
                nodes.get(old).copied().flatten()
            });
        let named = self.memory.nodes.len();
        let mut schedulable = vec![true; named];
        let mut ready = vec![true; named];
        let mut seen_at = vec![i64::MIN; named];
        let mut pods_on_node = vec![vec![0; named]; self.memory.workloads.len()];
        for state in &all {
            for node in &state.nodes {
                let n = self.node_index(&node.node);
                if state.observed_at_ns >= seen_at[n] {
                    seen_at[n] = state.observed_at_ns;
                    schedulable[n] = node.schedulable();
                    ready[n] = node.ready;
                }
            }
            let d = self.workload_index(&object_of(&state.target));
            for on in &state.pods_per_node {
                let n = self.node_index(&on.node);
                pods_on_node[d][n] = on.pods;
            }
        }
        // The nodes no state names, counted from the newest state's cluster totals: schedulable as far
        // as those totals leave room after the named ones.
        if let Some(newest) = all.iter().max_by_key(|s| s.observed_at_ns) {
            let totals = newest.cluster_nodes;
            let unnamed = (totals.total as usize).saturating_sub(named);
            let named_usable = schedulable.iter().filter(|s| **s).count();
            let unnamed_usable = (totals.schedulable as usize).saturating_sub(named_usable);
            for i in 0..unnamed {
                schedulable.push(i < unnamed_usable);
                ready.push(true);
            }
        }
        for row in &mut pods_on_node {
            row.resize(schedulable.len(), 0);
        }
        ClusterView {
            schedulable,
            ready,
            pods_on_node,
        }
    }

    fn workload_index(&mut self, target: &Target) -> usize {
        self.memory.workloads.index(target)
    }

    fn node_index(&mut self, node: &str) -> usize {
        self.memory.nodes.index(&node.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::{
        BoundsSource, ClusterNodes, NodeCondition, NodePods, PodCounts, ReplicaBounds,
        SCHEMA_VERSION, WorkloadSignals,
    };

    fn policy() -> StageArbiter {
        StageArbiter::new(SafetyConfig::default())
    }

    fn state(nodes: &[&str], total: u32, schedulable: u32) -> WorkloadState {
        WorkloadState {
            schema_version: SCHEMA_VERSION,
            target: Target::deployment("shop", "web"),
            observed_at_ns: 1,
            observer: "test@1".into(),
            pods: PodCounts {
                desired: 2,
                ready: 2,
                ..PodCounts::default()
            },
            bounds: ReplicaBounds {
                min: 1,
                max: 10,
                source: BoundsSource::Configured,
            },
            nodes_left_out: 0,
            pods_per_node: nodes
                .iter()
                .map(|n| NodePods {
                    node: (*n).into(),
                    pods: 1,
                    ready: 1,
                })
                .collect(),
            nodes: nodes
                .iter()
                .map(|n| NodeCondition {
                    node: (*n).into(),
                    ready: true,
                    disk_pressure: false,
                    unschedulable: *n == "c",
                })
                .collect(),
            cluster_nodes: ClusterNodes { total, schedulable },
            last_rollout: None,
            signals: WorkloadSignals::default(),
        }
    }

    #[test]
    fn the_arbiters_cluster_is_the_one_the_states_show_now() {
        let mut served = policy();
        let mut states = Workloads::new(10, i64::MAX);
        states.observe(state(&["a", "b", "c", "d"], 6, 4));
        let view = served.cluster_view(&states, i64::MAX);
        assert_eq!(
            view.schedulable,
            [true, true, false, true, true, false],
            "c is cordoned; of the 2 nodes no state names, the totals leave 1 schedulable"
        );
        assert_eq!(view.pods_on_node, [vec![1, 1, 1, 1, 0, 0]]);
        // Three nodes leave the cluster: forgotten, not counted as schedulable.
        let mut later = state(&["a"], 2, 1);
        later.observed_at_ns = 2;
        states.observe(later);
        let view = served.cluster_view(&states, i64::MAX);
        assert_eq!(view.schedulable, [true, false]);
        assert_eq!(served.memory.nodes.len(), 1);
    }

    #[test]
    fn actions_land_on_their_targets() {
        let mut served = policy();
        let mut states = Workloads::new(10, i64::MAX);
        states.observe(state(&["a", "b"], 2, 2));
        served.cluster_view(&states, i64::MAX);
        let diagnosed = Target {
            cluster: Some("prod".into()),
            ..Target::deployment("shop", "web")
        };
        let mut reason = String::new();
        let (action, target) = served.on_target(PolicyAction::RestartPod, &diagnosed, &mut reason);
        assert_eq!(action, Action::Escalate, "no pod named: {reason}");
        let with_pod = diagnosed.clone().with_pod(Some("web-1"));
        let (action, target_pod) =
            served.on_target(PolicyAction::RestartPod, &with_pod, &mut reason);
        assert_eq!(
            (action, target_pod.pod.as_deref()),
            (Action::RestartPod, Some("web-1"))
        );
        let (action, node) = served.on_target(PolicyAction::CordonDrain(1), &with_pod, &mut reason);
        assert_eq!(action, Action::DrainNode);
        assert_eq!(
            (
                node.kind,
                node.name.as_str(),
                node.cluster.as_deref(),
                node.namespace
            ),
            (schemas::ObjectKind::Node, "b", Some("prod"), None)
        );
        let (action, _) = served.on_target(PolicyAction::CordonDrain(7), &with_pod, &mut reason);
        assert_eq!(action, Action::Noop, "an unnamed node is never a target");
        assert_eq!(target.pod, None);
    }

    #[test]
    fn a_restored_memory_keeps_the_configured_limits() {
        let served = policy();
        let snapshot = served.snapshot().expect("snapshot");
        assert!(
            !snapshot.to_string().contains("max_actions_per_hour"),
            "limits are configuration, not memory: {snapshot}"
        );
        let mut strict = StageArbiter::new(SafetyConfig {
            max_actions_per_hour: 1,
            ..SafetyConfig::default()
        });
        strict.restore(snapshot).expect("restores");
        assert_eq!(strict.memory.arbiter.config().max_actions_per_hour, 1);
    }
}
