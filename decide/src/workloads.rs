//! [`Workloads`]: the workload states decide has read from `medic.state` — a short history per workload,
//! so a diagnosis is decided on the state its workload was in at the diagnosis' time.
//!
//! The observer writes these from the Kubernetes API with read-only rights; the topic's only writer is
//! the observer's principal (`medic kafka acls`). Nothing in a log line reaches them. The observer writes
//! a workload's state when it changes (and at each resync), so the newest state observed at or before a
//! time is the workload's state at that time. The two topics are read independently — a replay or a
//! restarted stage reads states minutes ahead of the diagnoses — so the state a diagnosis is decided on
//! is looked up by time ([`Workloads::as_of`]), not taken as the newest read.

use schemas::{Rollout, Target, WorkloadState};
use std::collections::{HashMap, VecDeque};

/// The most states kept per workload (the observer writes one when the workload changes, and at each
/// resync: a workload changing at every read of a 15 s interval fills 40 in ten minutes).
pub const HISTORY: usize = 64;

/// The recent states per workload (oldest first): those observed at most `span_ns` before its newest,
/// at most [`HISTORY`], for at most `max` workloads (the workload observed least recently is
/// forgotten).
#[derive(Debug, Clone, Default)]
pub struct Workloads {
    history: HashMap<Target, History>,
    max: usize,
    span_ns: i64,
}

/// One workload's states, oldest first, their rollouts dated; and each one's rollout as it was read,
/// which the dating starts from again when a state is read out of order.
#[derive(Debug, Clone, Default)]
struct History {
    states: VecDeque<WorkloadState>,
    read: VecDeque<Option<Rollout>>,
}

impl Workloads {
    /// An empty memory of at most `max` workloads, each with its states of the last `span_ns` (decide
    /// gives its `state_max_age`: an older state says nothing of a diagnosis' time).
    #[must_use]
    pub fn new(max: usize, span_ns: i64) -> Self {
        Self {
            history: HashMap::new(),
            max,
            span_ns,
        }
    }

    /// Keeps `state` in its workload's history, in time order, unless a state of that workload observed
    /// at the same time is kept already (a re-read partition, a restarted observer) or the history
    /// does not need it: it keeps the states of the last `span_ns` before the newest, and the one in
    /// effect at the start of that span. Each state's rollout is dated against the state before it in
    /// time ([`schemas::Rollout::dated_after`]; those after one read out of order are dated again, even
    /// by a state too old to keep), so a rollback the observer dated is not undated by an observer that
    /// restarted, and the history is the same whatever order its states were read in. Returns whether
    /// it was kept.
    pub fn observe(&mut self, state: WorkloadState) -> bool {
        let key = object_of(&state.target);
        let at = state.observed_at_ns;
        let held = |states: &VecDeque<WorkloadState>| {
            states
                .binary_search_by_key(&at, |s| s.observed_at_ns)
                .is_ok()
        };
        if let Some(history) = self.history.get(&key) {
            if held(&history.states) {
                return false;
            }
        } else if self.history.len() >= self.max
            && let Some(oldest) = self
                .history
                .iter()
                .filter_map(|(k, history)| Some((newest_at(&history.states)?, k)))
                .min()
                .map(|(_, k)| k.clone())
        {
            self.history.remove(&oldest);
        }
        let span_ns = self.span_ns;
        let History { states, read } = self.history.entry(key).or_default();
        let position = states.partition_point(|s| s.observed_at_ns < at);
        read.insert(position, state.last_rollout.clone());
        states.insert(position, state);
        // It and the states after it are dated again from their rollouts as read (even if it goes
        // just below: what it says of a rollout still dates the next).
        for i in position.max(1)..states.len() {
            let (before, after) = states.make_contiguous().split_at_mut(i);
            date_after(&mut after[0], read[i].as_ref(), &before[i - 1]);
        }
        // The states of the span, and the one in effect at its start.
        let start = newest_at(states).unwrap_or(at).saturating_sub(span_ns);
        while states.len() > HISTORY
            || states
                .get(1)
                .is_some_and(|second| second.observed_at_ns <= start)
        {
            states.pop_front();
            read.pop_front();
            // The new oldest is dated against nothing from now on: what it was dated to is its read.
            if let (Some(front), Some(as_read)) = (states.front(), read.front_mut()) {
                as_read.clone_from(&front.last_rollout);
            }
        }
        held(states)
    }

    /// The newest state of the workload `target` names (its pod and node hints ignored; its cluster
    /// too, since a cluster's observer and its diagnoses may name it differently or not at all).
    #[must_use]
    pub fn of(&self, target: &Target) -> Option<&WorkloadState> {
        self.history.get(&object_of(target))?.states.back()
    }

    /// The state of the workload `target` names at `at_ns`: the newest observed at or before it, else
    /// (the workload first observed after it) the oldest kept if observed at most
    /// [`FIRST_STATE_LEAD_NS`] after it. None else: a later state says nothing of that time.
    #[must_use]
    pub fn as_of(&self, target: &Target, at_ns: i64) -> Option<&WorkloadState> {
        state_at(&self.history.get(&object_of(target))?.states, at_ns)
    }

    /// Whether the newest state naming `node`, observed at or after `since_ns`, shows it healthy: Ready
    /// and (when `disk` is asked about) without disk pressure. `None` when no such state names it.
    #[must_use]
    pub fn node_health(&self, node: &str, disk: bool, since_ns: i64) -> Option<bool> {
        self.states_since(since_ns)
            .filter_map(|s| {
                let n = s.nodes.iter().find(|n| n.node == node)?;
                Some((s.observed_at_ns, n))
            })
            .max_by_key(|(at, _)| *at)
            .map(|(_, n)| n.ready && !(disk && n.disk_pressure))
    }

    /// Whether a workload's state in effect at `since_ns` (its newest before, however old: an observer
    /// writes an unchanged state only every `resync`), or one observed after, left nodes out of its
    /// lists ([`WorkloadState::nodes_left_out`]): a node no state names may be one of those.
    #[must_use]
    pub fn node_lists_cut(&self, since_ns: i64) -> bool {
        self.history.values().any(|history| {
            let states = &history.states;
            let after = states.partition_point(|s| s.observed_at_ns <= since_ns);
            states
                .iter()
                .skip(after.saturating_sub(1))
                .any(|s| s.nodes_left_out > 0)
        })
    }

    fn states_since(&self, since_ns: i64) -> impl Iterator<Item = &WorkloadState> {
        self.history
            .values()
            .flat_map(|history| &history.states)
            .filter(move |s| s.observed_at_ns >= since_ns)
    }

    /// Every workload's state at `at_ns` ([`Workloads::as_of`]), by workload.
    #[must_use]
    pub fn sorted_as_of(&self, at_ns: i64) -> Vec<&WorkloadState> {
        let mut states: Vec<(&Target, &WorkloadState)> = self
            .history
            .iter()
            .filter_map(|(k, history)| Some((k, state_at(&history.states, at_ns)?)))
            .collect();
        states.sort_by(|a, b| a.0.cmp(b.0));
        states.into_iter().map(|(_, s)| s).collect()
    }

    /// Every state kept, by workload and then time (equal memories give equal lists, for checkpoints).
    #[must_use]
    pub fn kept(&self) -> Vec<&WorkloadState> {
        let mut keys: Vec<&Target> = self.history.keys().collect();
        keys.sort();
        keys.into_iter()
            .flat_map(|k| &self.history[k].states)
            .collect()
    }

    /// Replaces the memory with `states` (from a checkpoint).
    pub fn restore(&mut self, states: Vec<WorkloadState>) {
        self.history.clear();
        for state in states {
            self.observe(state);
        }
    }
}

/// How much later than a time the oldest state may be observed, to stand for the state at that time
/// when none was observed before it (an observer that started after it: its first read).
pub const FIRST_STATE_LEAD_NS: i64 = 60 * 1_000_000_000;

/// The newest of `states` (oldest first) observed at or before `at_ns`, else the oldest if observed at
/// most [`FIRST_STATE_LEAD_NS`] after it.
fn state_at(states: &VecDeque<WorkloadState>, at_ns: i64) -> Option<&WorkloadState> {
    match states.partition_point(|s| s.observed_at_ns <= at_ns) {
        0 => states
            .front()
            .filter(|first| first.observed_at_ns.saturating_sub(at_ns) <= FIRST_STATE_LEAD_NS),
        after => states.get(after - 1),
    }
}

/// Dates `state`'s rollout, `read` as it was read, against `before`'s, the state before it in time (of
/// the same cluster only: another cluster's workload of the same name has revisions of its own).
fn date_after(state: &mut WorkloadState, read: Option<&Rollout>, before: &WorkloadState) {
    state.last_rollout = match (read, &before.last_rollout) {
        (Some(rollout), Some(previous)) if before.target.cluster == state.target.cluster => {
            Some(rollout.dated_after(previous, state.observed_at_ns))
        }
        _ => read.cloned(),
    };
}

fn newest_at(states: &VecDeque<WorkloadState>) -> Option<i64> {
    states.back().map(|s| s.observed_at_ns)
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
            nodes_left_out: 0,
            pods_per_node: Vec::new(),
            nodes: Vec::new(),
            cluster_nodes: ClusterNodes::default(),
            last_rollout: None,
            signals: WorkloadSignals::default(),
        }
    }

    /// A state of `web` at `at` whose last rollout is `revision`, its object created at `created`.
    fn rolled(at: i64, revision: u64, created: i64, rolled_back: bool) -> WorkloadState {
        let mut s = state("web", at, 3);
        s.last_rollout = Some(schemas::Rollout {
            revision,
            at_ns: created,
            image_changed: Some(true),
            rolled_back,
        });
        s
    }

    /// Each kept state's time and its rollout's date and mark.
    fn dates(memory: &Workloads) -> Vec<(i64, i64, bool)> {
        memory
            .kept()
            .iter()
            .map(|s| {
                let r = s.last_rollout.as_ref().expect("a rollout");
                (s.observed_at_ns, r.at_ns, r.rolled_back)
            })
            .collect()
    }

    #[test]
    fn keeps_a_short_history_of_at_most_max_workloads() {
        let mut memory = Workloads::new(2, 1_000);
        assert!(memory.observe(state("web", 10, 3)));
        assert!(
            memory.observe(state("web", 5, 1)),
            "older: kept, in time order"
        );
        assert!(
            !memory.observe(state("web", 10, 2)),
            "the same time again: not kept"
        );
        let hinted = Target::deployment("shop", "web").with_pod(Some("web-1"));
        assert_eq!(memory.of(&hinted).map(|s| s.pods.ready), Some(3));
        memory.observe(state("db", 20, 1));
        memory.observe(state("cache", 30, 1));
        assert!(
            memory.of(&hinted).is_none(),
            "the least recently observed goes"
        );
        let kept: Vec<WorkloadState> = memory.kept().into_iter().cloned().collect();
        let mut restored = Workloads::new(2, 1_000);
        restored.restore(kept.clone());
        assert_eq!(restored.kept(), kept.iter().collect::<Vec<_>>());
    }

    #[test]
    fn a_state_is_looked_up_as_of_a_time() {
        let web = Target::deployment("shop", "web");
        let mut memory = Workloads::new(10, 10_000);
        // Read out of order, as a replay or a restarted stage reads them.
        for (at, ready) in [(300, 3), (100, 1), (200, 2)] {
            memory.observe(state("web", at, ready));
        }
        let ready_at = |at: i64| memory.as_of(&web, at).map(|s| s.pods.ready);
        assert_eq!(ready_at(250), Some(2), "the newest at or before the time");
        assert_eq!(ready_at(300), Some(3));
        assert_eq!(ready_at(1_000), Some(3));
        assert_eq!(ready_at(50), Some(1), "before every state: the oldest");
        memory.observe(state("db", 150, 1));
        let at_120: Vec<(&str, i64)> = memory
            .sorted_as_of(120)
            .iter()
            .map(|s| (s.target.name.as_str(), s.observed_at_ns))
            .collect();
        assert_eq!(at_120, [("db", 150), ("web", 100)]);
        let newest: Vec<i64> = memory
            .sorted_as_of(i64::MAX)
            .iter()
            .map(|s| s.observed_at_ns)
            .collect();
        assert_eq!(newest, [150, 300]);
        // At most HISTORY states: the oldest goes, and one older still is not kept.
        for i in 0..HISTORY as i64 {
            memory.observe(state("web", 400 + i, 3));
        }
        assert_eq!(memory.as_of(&web, 350).map(|s| s.observed_at_ns), Some(400));
        assert!(!memory.observe(state("web", 350, 3)));
        assert_eq!(memory.kept().len(), 1 + HISTORY);
        // The span before the newest, and the state in effect at its start.
        let mut spanned = Workloads::new(10, 100);
        for at in [0, 50, 120, 200] {
            spanned.observe(state("web", at, 3));
        }
        let kept = |memory: &Workloads| -> Vec<i64> {
            memory.kept().iter().map(|s| s.observed_at_ns).collect()
        };
        assert_eq!(kept(&spanned), [50, 120, 200]);
        assert!(
            !spanned.observe(state("web", 40, 3)),
            "superseded at the span's start"
        );
        assert!(
            spanned.observe(state("web", 90, 3)),
            "in effect at the span's start"
        );
        assert_eq!(kept(&spanned), [90, 120, 200]);
        // A later state stands for an earlier time only within the first state's lead.
        assert_eq!(
            spanned
                .as_of(&web, 90 - FIRST_STATE_LEAD_NS)
                .map(|s| s.observed_at_ns),
            Some(90)
        );
        assert!(spanned.as_of(&web, 89 - FIRST_STATE_LEAD_NS).is_none());
    }

    #[test]
    fn the_history_is_the_same_whatever_order_its_states_are_read_in() {
        let rolled = |at: i64, revision: u64, created: i64| rolled(at, revision, created, false);
        // Revision 2 reuses an object older than revision 1's: a rollback, seen at 300 and still at 1000.
        let states = [rolled(0, 1, 10), rolled(300, 2, 5), rolled(1_000, 2, 5)];
        let history = |order: &[usize]| {
            let mut memory = Workloads::new(10, 600);
            for &i in order {
                memory.observe(states[i].clone());
            }
            dates(&memory)
        };
        let in_order = history(&[0, 1, 2]);
        assert_eq!(in_order, [(300, 300, true), (1_000, 300, true)]);
        for order in [[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
            assert_eq!(history(&order), in_order, "read as {order:?}");
        }
    }

    #[test]
    fn a_rollback_dated_by_a_state_since_forgotten_keeps_its_date_when_an_old_state_is_read_again()
    {
        let rolled = |at: i64, revision: u64, created: i64| rolled(at, revision, created, false);
        let mut memory = Workloads::new(10, 600);
        for s in [
            rolled(0, 1, 10),
            rolled(300, 2, 5),
            rolled(350, 2, 5),
            rolled(1_000, 2, 5),
        ] {
            memory.observe(s);
        }
        let before = dates(&memory);
        assert_eq!(before, [(350, 300, true), (1_000, 300, true)]);
        assert!(!memory.observe(rolled(300, 2, 5)), "too old to keep");
        assert_eq!(dates(&memory), before, "and it undates nothing");
    }

    #[test]
    fn a_rollback_keeps_its_date_and_mark_when_a_restarted_observer_reads_the_api_again() {
        let web = Target::deployment("shop", "web");
        let rollout_of = |memory: &Workloads| {
            memory
                .of(&web)
                .and_then(|s| s.last_rollout.as_ref())
                .map(|r| (r.revision, r.at_ns, r.rolled_back))
        };
        let mut memory = Workloads::new(10, 10_000);
        memory.observe(rolled(1_000, 2, 100, false));
        memory.observe(rolled(2_000, 3, 2_000, true));
        memory.observe(rolled(3_000, 3, 50, false));
        assert_eq!(
            rollout_of(&memory),
            Some((3, 2_000, true)),
            "the observer's date and mark, not the reused object's time"
        );
        let mut down = Workloads::new(10, 10_000);
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
