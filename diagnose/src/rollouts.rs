//! [`Rollouts`]: when each Deployment was last rolled out, as its own Events tell it — the evidence decide
//! needs before a rollback (a rollback undoes a change; with no change seen, it would throw away a
//! working revision).
//!
//! The deployment controller reports every ReplicaSet it scales as a Normal Event on the Deployment,
//! `ScalingReplicaSet`: "Scaled up replica set web-7d9c7f5b9d to 3". A plain scale moves one ReplicaSet;
//! a rollout scales a *new* ReplicaSet up and the old one down. So a rollout is seen when a Deployment's
//! ReplicaSet scaled up differs from the one scaled up before, or when one other than the one scaled up
//! is scaled down.

use schemas::{LogRecord, SourceFormat, Target};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What was last seen of one Deployment's ReplicaSets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Seen {
    /// The ReplicaSet last scaled up.
    scaled_up: Option<String>,
    /// Event time of the last rollout seen, ns.
    rolled_out_ns: Option<i64>,
    /// Event time of the last scaling Event, ns (the oldest entry is forgotten first).
    last_ns: i64,
}

/// The last rollout per Deployment (bounded; the entry heard from longest ago is forgotten first).
#[derive(Debug, Clone, Default)]
pub(crate) struct Rollouts {
    by_target: HashMap<Target, Seen>,
    max: usize,
}

/// One Deployment's rollout state in a checkpoint.
pub(crate) type RolloutEntry = (Target, Seen);

impl Rollouts {
    /// Tracks at most `max` Deployments.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            by_target: HashMap::new(),
            max: max.max(1),
        }
    }

    /// Takes note of `log` if it is a `ScalingReplicaSet` Event.
    pub(crate) fn observe(&mut self, log: &LogRecord) {
        if log.source_format != SourceFormat::K8sEvent
            || log.attributes.get("k8s.event.reason").map(String::as_str)
                != Some("ScalingReplicaSet")
        {
            return;
        }
        let Some((up, replica_set)) = scaled(&log.message) else {
            return;
        };
        let Some(target) = log.target().map(workload_key) else {
            return;
        };
        if self.by_target.len() >= self.max
            && !self.by_target.contains_key(&target)
            && let Some(oldest) = self
                .by_target
                .iter()
                .min_by_key(|(_, seen)| seen.last_ns)
                .map(|(t, _)| t.clone())
        {
            self.by_target.remove(&oldest);
        }
        let seen = self.by_target.entry(target).or_default();
        let at = log.event_time_ns;
        let other = seen
            .scaled_up
            .as_deref()
            .is_some_and(|known| known != replica_set);
        if other {
            seen.rolled_out_ns = Some(seen.rolled_out_ns.map_or(at, |t| t.max(at)));
        }
        if up {
            seen.scaled_up = Some(replica_set.to_owned());
        }
        seen.last_ns = seen.last_ns.max(at);
    }

    /// When `target`'s workload was last seen rolled out, ns.
    pub(crate) fn last_rollout(&self, target: &Target) -> Option<i64> {
        self.by_target
            .get(&workload_key(target.clone()))
            .and_then(|seen| seen.rolled_out_ns)
    }

    /// The state, for a checkpoint (sorted, so equal states write equal checkpoints).
    pub(crate) fn entries(&self) -> Vec<RolloutEntry> {
        let mut entries: Vec<RolloutEntry> = self
            .by_target
            .iter()
            .map(|(t, seen)| (t.clone(), seen.clone()))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries
    }

    /// Replaces the state with a checkpoint's.
    pub(crate) fn restore(&mut self, entries: Vec<RolloutEntry>) {
        self.by_target = entries.into_iter().collect();
    }
}

/// The Deployment itself: pod and node hints do not split it.
fn workload_key(target: Target) -> Target {
    Target {
        pod: None,
        node: None,
        ..target
    }
}

/// `(scaled up?, replica set)` of "Scaled up|down replica set <name> to <n>" (newer controllers add
/// "from <m>").
fn scaled(message: &str) -> Option<(bool, &str)> {
    let (up, rest) = if let Some(rest) = message.strip_prefix("Scaled up replica set ") {
        (true, rest)
    } else {
        (false, message.strip_prefix("Scaled down replica set ")?)
    };
    let name = rest.split_whitespace().next()?;
    Some((up, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::fixtures::log_record;

    fn scaling(message: &str, at_secs: i64) -> LogRecord {
        let mut log = log_record(message, at_secs * 1_000_000_000);
        log.source_format = SourceFormat::K8sEvent;
        log.resource.pod = None;
        log.attributes
            .insert("k8s.event.reason".into(), "ScalingReplicaSet".into());
        log.attributes
            .insert("k8s.event.type".into(), "Normal".into());
        log
    }

    #[test]
    fn a_new_replica_set_is_a_rollout_a_scale_is_not() {
        let mut rollouts = Rollouts::new(10);
        let web = log_record("x", 0).target().expect("web");
        rollouts.observe(&scaling("Scaled up replica set web-5f4d8c7b6a to 3", 100));
        rollouts.observe(&scaling(
            "Scaled up replica set web-5f4d8c7b6a to 5 from 3",
            200,
        ));
        rollouts.observe(&scaling(
            "Scaled down replica set web-5f4d8c7b6a to 4 from 5",
            250,
        ));
        assert_eq!(rollouts.last_rollout(&web), None, "scaling one ReplicaSet");
        rollouts.observe(&scaling("Scaled up replica set web-7d9c7f5b9d to 1", 300));
        assert_eq!(rollouts.last_rollout(&web), Some(300_000_000_000));
        rollouts.observe(&scaling("Scaled down replica set web-5f4d8c7b6a to 3", 310));
        assert_eq!(rollouts.last_rollout(&web), Some(310_000_000_000));
        // A controller that only reports the old one going down (its scale-up was missed).
        let mut late = Rollouts::new(10);
        late.observe(&scaling("Scaled up replica set web-5f4d8c7b6a to 3", 100));
        late.observe(&scaling("Scaled down replica set web-7d9c7f5b9d to 0", 400));
        assert_eq!(late.last_rollout(&web), Some(400_000_000_000));
        // Restored from a checkpoint, the same.
        let mut restored = Rollouts::new(10);
        restored.restore(rollouts.entries());
        assert_eq!(restored.last_rollout(&web), Some(310_000_000_000));
        // Other Events and other reasons are not rollouts.
        let mut quiet = Rollouts::new(10);
        quiet.observe(&scaling("Scaled up replica set web-5f4d8c7b6a to 3", 100));
        let mut pulled = scaling("Scaled up replica set web-7d9c7f5b9d to 1", 200);
        pulled
            .attributes
            .insert("k8s.event.reason".into(), "Pulled".into());
        quiet.observe(&pulled);
        assert_eq!(quiet.last_rollout(&web), None);
    }
}
