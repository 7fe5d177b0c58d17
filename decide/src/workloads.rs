//! [`Workloads`]: the latest [`WorkloadState`] decide has read from `medic.state` for each workload.
//!
//! The observer writes these from the Kubernetes API with read-only rights; the topic's only writer is
//! the observer's principal (`medic kafka acls`). Nothing in a log line reaches them.

use schemas::{Target, WorkloadState};
use std::collections::HashMap;

/// The latest state per workload, at most `max` workloads (the least recently observed is forgotten).
#[derive(Debug, Clone, Default)]
pub struct Workloads {
    latest: HashMap<Target, WorkloadState>,
    max: usize,
}

impl Workloads {
    /// An empty memory of at most `max` workloads.
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            latest: HashMap::new(),
            max,
        }
    }

    /// Keeps `state` unless an equally recent or newer one of its workload is kept already (states
    /// from a re-read partition, or a restarted observer's, arrive out of order). Its rollout is dated
    /// against the kept one's ([`schemas::Rollout::dated_after`]), so a rollback the observer dated is not
    /// undated by an observer that restarted. Returns whether it was kept.
    pub fn observe(&mut self, mut state: WorkloadState) -> bool {
        let key = object_of(&state.target);
        let kept = self.latest.get(&key);
        if kept.is_some_and(|kept| kept.observed_at_ns >= state.observed_at_ns) {
            return false;
        }
        // Only against the same cluster's state: another cluster's workload of the same name has
        // revisions of its own.
        let previous = kept
            .filter(|kept| kept.target.cluster == state.target.cluster)
            .and_then(|kept| kept.last_rollout.as_ref());
        if let (Some(rollout), Some(previous)) = (state.last_rollout.as_mut(), previous) {
            *rollout = rollout.dated_after(previous, state.observed_at_ns);
        }
        if self.latest.len() >= self.max
            && !self.latest.contains_key(&key)
            && let Some(oldest) = self
                .latest
                .iter()
                .min_by(|a, b| (a.1.observed_at_ns, a.0).cmp(&(b.1.observed_at_ns, b.0)))
                .map(|(k, _)| k.clone())
        {
            self.latest.remove(&oldest);
        }
        self.latest.insert(key, state);
        true
    }

    /// The latest state of the workload `target` names (its pod and node hints ignored; its cluster
    /// too, since a cluster's observer and its diagnoses may name it differently or not at all).
    #[must_use]
    pub fn of(&self, target: &Target) -> Option<&WorkloadState> {
        self.latest.get(&object_of(target))
    }

    /// Whether the newest state naming `node`, observed at or after `since_ns`, shows it healthy: Ready
    /// and (when `disk` is asked about) without disk pressure. `false` when no such state names it.
    #[must_use]
    pub fn node_seen_healthy(&self, node: &str, disk: bool, since_ns: i64) -> bool {
        self.latest
            .values()
            .filter(|s| s.observed_at_ns >= since_ns)
            .filter_map(|s| {
                let n = s.nodes.iter().find(|n| n.node == node)?;
                Some((s.observed_at_ns, n))
            })
            .max_by_key(|(at, _)| *at)
            .is_some_and(|(_, n)| n.ready && !(disk && n.disk_pressure))
    }

    /// Every state kept, by workload (equal memories give equal lists, for checkpoints).
    #[must_use]
    pub fn sorted(&self) -> Vec<&WorkloadState> {
        let mut states: Vec<(&Target, &WorkloadState)> = self.latest.iter().collect();
        states.sort_by(|a, b| a.0.cmp(b.0));
        states.into_iter().map(|(_, s)| s).collect()
    }

    /// Replaces the memory with `states` (from a checkpoint).
    pub fn restore(&mut self, states: Vec<WorkloadState>) {
        self.latest.clear();
        for state in states {
            self.observe(state);
        }
    }
}

/// A workload's key: its kind, namespace and name (no cluster, pod or node).
pub(crate) fn object_of(target: &Target) -> Target {
    Target::object(target.kind, target.namespace.as_deref(), &target.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::{
        BoundsSource, ClusterNodes, PodCounts, ReplicaBounds, SCHEMA_VERSION, WorkloadSignals,
    };

    fn state(name: &str, at: i64, ready: u32) -> WorkloadState {
        WorkloadState {
            schema_version: SCHEMA_VERSION,
            target: Target::deployment("shop", name),
            observed_at_ns: at,
            observer: "test@1".into(),
            pods: PodCounts {
                desired: 3,
                ready,
                ..PodCounts::default()
            },
            bounds: ReplicaBounds {
                min: 1,
                max: 10,
                source: BoundsSource::Configured,
            },
            pods_per_node: Vec::new(),
            nodes: Vec::new(),
            cluster_nodes: ClusterNodes::default(),
            last_rollout: None,
            signals: WorkloadSignals::default(),
        }
    }

    #[test]
    fn keeps_the_newest_state_of_at_most_max_workloads() {
        let mut memory = Workloads::new(2);
        assert!(memory.observe(state("web", 10, 3)));
        assert!(!memory.observe(state("web", 5, 1)), "older: ignored");
        let hinted = Target::deployment("shop", "web").with_pod(Some("web-1"));
        assert_eq!(memory.of(&hinted).map(|s| s.pods.ready), Some(3));
        memory.observe(state("db", 20, 1));
        memory.observe(state("cache", 30, 1));
        assert!(
            memory.of(&hinted).is_none(),
            "the least recently observed goes"
        );
        let kept: Vec<WorkloadState> = memory.sorted().into_iter().cloned().collect();
        let mut restored = Workloads::new(2);
        restored.restore(kept.clone());
        assert_eq!(restored.sorted(), kept.iter().collect::<Vec<_>>());
    }

    #[test]
    fn a_rollback_keeps_its_date_and_mark_when_a_restarted_observer_reads_the_api_again() {
        let rolled = |at: i64, revision: u64, created: i64, rolled_back: bool| {
            let mut s = state("web", at, 3);
            s.last_rollout = Some(schemas::Rollout {
                revision,
                at_ns: created,
                image_changed: Some(true),
                rolled_back,
            });
            s
        };
        let web = Target::deployment("shop", "web");
        let rollout_of = |memory: &Workloads| {
            memory
                .of(&web)
                .and_then(|s| s.last_rollout.as_ref())
                .map(|r| (r.revision, r.at_ns, r.rolled_back))
        };
        let mut memory = Workloads::new(10);
        memory.observe(rolled(1_000, 2, 100, false));
        memory.observe(rolled(2_000, 3, 2_000, true));
        memory.observe(rolled(3_000, 3, 50, false));
        assert_eq!(
            rollout_of(&memory),
            Some((3, 2_000, true)),
            "the observer's date and mark, not the reused object's time"
        );
        let mut down = Workloads::new(10);
        down.observe(rolled(1_000, 2, 100, false));
        down.observe(rolled(5_000, 3, 50, false));
        assert_eq!(
            rollout_of(&down),
            Some((3, 5_000, true)),
            "a rollback while the observer was down: marked, dated at the state that first shows it"
        );
        let mut other = rolled(6_000, 4, 50, false);
        other.target.cluster = Some("eu".into());
        down.observe(other);
        assert_eq!(
            rollout_of(&down),
            Some((4, 50, false)),
            "another cluster's workload of the same name is not dated against this one"
        );
    }
}
