//! [`Rollouts`]: when each Deployment was last rolled out, as its own Events tell it — the evidence decide
//! needs before a rollback (a rollback undoes a change; with no change seen, it would throw away a
//! working revision).
//!
//! The deployment controller reports every ReplicaSet it scales as a Normal Event on the Deployment,
//! `ScalingReplicaSet`: "Scaled up replica set web-7d9c7f5b9d to 3". A plain scale moves one ReplicaSet;
//! a rollout scales a *new* ReplicaSet up and the old one down. So a rollout is seen when a Deployment's
//! ReplicaSet scaled up differs from the one scaled up before, or when one other than the one scaled up
//! is scaled down.

use crate::recency::evict_stalest;
use schemas::Target;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What was last seen of one Deployment's ReplicaSets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Seen {
    /// The ReplicaSet last scaled up, and when (an older Event, re-listed or late, does not replace it).
    #[serde(default)]
    scaled_up: Option<(String, i64)>,
    /// Event times of the rollouts seen, ns, ascending (the last [`ROLLOUTS_KEPT`]): a diagnosis is
    /// given the latest one at or before its window's end, whatever arrived after.
    #[serde(default)]
    rollouts_ns: Vec<i64>,
    /// Event time of the last scaling Event, ns (the oldest entry is forgotten first).
    #[serde(default)]
    last_ns: i64,
}

/// Rollout times kept per Deployment.
const ROLLOUTS_KEPT: usize = 8;

/// The prefix client-go's event aggregator puts before a message it combined from similar ones.
const COMBINED: &str = "(combined from similar events): ";

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

    /// Takes note of a Kubernetes Event with `reason` and `message` at `at` (ns) about `target`, if it is a
    /// `ScalingReplicaSet` Event.
    pub(crate) fn observe(&mut self, target: &Target, reason: &str, message: &str, at: i64) {
        if reason != "ScalingReplicaSet" {
            return;
        }
        let message = message.strip_prefix(COMBINED).unwrap_or(message);
        let Some((up, replica_set)) = scaled(message) else {
            return;
        };
        let target = workload_key(target.clone());
        if !self.by_target.contains_key(&target) {
            evict_stalest(&mut self.by_target, self.max.saturating_sub(1), |s| {
                s.last_ns
            });
        }
        let seen = self.by_target.entry(target).or_default();
        // Only what happens after the ReplicaSet last scaled up can be a change from it.
        let (other, newer) = match &seen.scaled_up {
            Some((known, known_at)) => (known != replica_set && at >= *known_at, at >= *known_at),
            None => (false, true),
        };
        if other {
            let position = seen.rollouts_ns.partition_point(|t| *t <= at);
            seen.rollouts_ns.insert(position, at);
            let excess = seen.rollouts_ns.len().saturating_sub(ROLLOUTS_KEPT);
            seen.rollouts_ns.drain(..excess);
        }
        if up && newer {
            seen.scaled_up = Some((replica_set.to_owned(), at));
        }
        seen.last_ns = seen.last_ns.max(at);
    }

    /// When `target`'s workload was last seen rolled out at or before `until_ns`.
    pub(crate) fn last_rollout(&self, target: &Target, until_ns: i64) -> Option<i64> {
        let seen = self.by_target.get(&workload_key(target.clone()))?;
        seen.rollouts_ns
            .iter()
            .rev()
            .find(|t| **t <= until_ns)
            .copied()
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

/// The Deployment itself: pod and node hints do not split it, and neither does the cluster name (cloud
/// log sources set it, an Event exporter does not).
fn workload_key(target: Target) -> Target {
    Target {
        cluster: None,
        pod: None,
        node: None,
        ..target
    }
}

/// `(scaled up?, replica set)` of "Scaled up|down replica set <name> to <n>" (newer controllers write
/// "from <m> to <n>").
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

    /// Notes a `ScalingReplicaSet` Event of web at `at_secs`.
    fn scale(rollouts: &mut Rollouts, message: &str, at_secs: i64) {
        let web = log_record("x", 0).target().expect("web");
        rollouts.observe(&web, "ScalingReplicaSet", message, at_secs * 1_000_000_000);
    }

    #[test]
    fn a_new_replica_set_is_a_rollout_a_scale_is_not() {
        let mut rollouts = Rollouts::new(10);
        let web = log_record("x", 0).target().expect("web");
        let end = i64::MAX;
        for (message, at) in [
            ("Scaled up replica set web-5f4d8c7b6a to 3", 100),
            ("Scaled up replica set web-5f4d8c7b6a from 3 to 5", 200),
            ("Scaled down replica set web-5f4d8c7b6a from 5 to 4", 250),
        ] {
            scale(&mut rollouts, message, at);
        }
        assert_eq!(
            rollouts.last_rollout(&web, end),
            None,
            "scaling one ReplicaSet"
        );
        scale(
            &mut rollouts,
            "Scaled up replica set web-7d9c7f5b9d to 1",
            300,
        );
        assert_eq!(rollouts.last_rollout(&web, end), Some(300_000_000_000));
        let combined =
            "(combined from similar events): Scaled down replica set web-5f4d8c7b6a to 3";
        scale(&mut rollouts, combined, 310);
        assert_eq!(rollouts.last_rollout(&web, end), Some(310_000_000_000));
        // A diagnosis of a window that ended before the second step gets the first, whatever arrived
        // since: the same diagnosis carries the same time however the records were batched.
        let before = rollouts.last_rollout(&web, 305_000_000_000);
        assert_eq!(before, Some(300_000_000_000));
        assert_eq!(rollouts.last_rollout(&web, 299_000_000_000), None);
        // A re-listed older Event neither replaces the newer ReplicaSet nor counts as a rollout.
        scale(
            &mut rollouts,
            "Scaled up replica set web-5f4d8c7b6a to 3",
            150,
        );
        scale(
            &mut rollouts,
            "Scaled up replica set web-7d9c7f5b9d to 3",
            320,
        );
        assert_eq!(rollouts.last_rollout(&web, end), Some(310_000_000_000));
        // A controller that only reports the old one going down (its scale-up was missed).
        let mut late = Rollouts::new(10);
        scale(&mut late, "Scaled up replica set web-5f4d8c7b6a to 3", 100);
        scale(
            &mut late,
            "Scaled down replica set web-7d9c7f5b9d to 0",
            400,
        );
        assert_eq!(late.last_rollout(&web, end), Some(400_000_000_000));
        // Restored from a checkpoint, the same; and a cluster name does not split a Deployment.
        let mut restored = Rollouts::new(10);
        restored.restore(rollouts.entries());
        let in_cluster = Target {
            cluster: Some("prod".into()),
            ..web.clone()
        };
        assert_eq!(
            restored.last_rollout(&in_cluster, end),
            Some(310_000_000_000)
        );
        // Other Events and other reasons are not rollouts.
        let mut quiet = Rollouts::new(10);
        scale(&mut quiet, "Scaled up replica set web-5f4d8c7b6a to 3", 100);
        quiet.observe(
            &web,
            "Pulled",
            "Scaled up replica set web-7d9c7f5b9d to 1",
            200,
        );
        assert_eq!(quiet.last_rollout(&web, end), None);
    }
}
