//! [`RolloutDates`]: when a rollback happened, which the API does not say.
//!
//! A rollback (`kubectl rollout undo`, or a template set back by hand) reuses the old template's
//! ReplicaSet or ControllerRevision under a new revision number, so the object's creation time — all the
//! API gives — is the old rollout's. The observer remembers each workload's newest rollout and dates the
//! next one against it ([`Rollout::dated_after`]): a rollback is marked `rolled_back` and dated at the
//! read that first saw it (at most one interval late), both kept while the revision stays. After a
//! restart the first read knows no previous revision and writes the API's time; decide, which keeps its
//! states in its checkpoint, dates states against its own the same way, so it keeps the corrected date.

use schemas::{Rollout, Target, WorkloadState};
use std::collections::HashMap;

/// The newest rollout seen per workload, as dated.
#[derive(Debug, Default)]
pub(crate) struct RolloutDates {
    seen: HashMap<Target, Rollout>,
}

impl RolloutDates {
    /// Dates each state's rollout (see the module docs), read at `read_at_ns`; forgets workloads no
    /// longer in `states`.
    pub(crate) fn date(&mut self, states: &mut [WorkloadState], read_at_ns: i64) {
        let mut seen = HashMap::with_capacity(states.len());
        for state in states {
            let Some(rollout) = state.last_rollout.as_mut() else {
                continue;
            };
            if let Some(known) = self.seen.get(&state.target) {
                *rollout = rollout.dated_after(known, read_at_ns);
            }
            seen.insert(state.target.clone(), rollout.clone());
        }
        self.seen = seen;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(revision: u64, at_ns: i64) -> WorkloadState {
        let mut state: WorkloadState = serde_json::from_value(serde_json::json!({
            "schema_version": schemas::SCHEMA_VERSION,
            "target": { "kind": "Deployment", "namespace": "shop", "name": "web" },
            "observed_at_ns": 0, "observer": "test@1",
            "pods": { "desired": 2, "ready": 2, "starting": 0, "crash_looping": 0, "pending": 0 },
            "bounds": { "min": 1, "max": 10, "source": "configured" },
            "pods_per_node": [], "nodes": [], "cluster_nodes": { "total": 1, "schedulable": 1 }
        }))
        .expect("a state");
        state.last_rollout = Some(Rollout {
            revision,
            at_ns,
            image_changed: Some(true),
            rolled_back: false,
        });
        state
    }

    fn dated(dates: &mut RolloutDates, revision: u64, created: i64, read_at: i64) -> i64 {
        let mut states = [state(revision, created)];
        dates.date(&mut states, read_at);
        states[0].last_rollout.as_ref().expect("a rollout").at_ns
    }

    #[test]
    fn a_rollback_is_dated_when_first_seen_and_a_new_rollout_by_its_object() {
        let mut dates = RolloutDates::default();
        // (revision, its object's creation, read at) in turn → the date the observer writes.
        let reads = [
            ((2, 100, 1_000), 100, "first read: the API's time"),
            ((3, 50, 2_000), 2_000, "revision 1's object, reused"),
            ((3, 50, 3_000), 2_000, "and it keeps that date"),
            ((4, 2_500, 4_000), 2_500, "a new object: its time"),
        ];
        for ((revision, created, read_at), date, why) in reads {
            assert_eq!(dated(&mut dates, revision, created, read_at), date, "{why}");
        }
        dates.date(&mut [], 5_000);
        assert_eq!(dated(&mut dates, 5, 50, 6_000), 50, "forgotten once gone");
    }
}
