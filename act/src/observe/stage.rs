//! [`Observe`]: the observer stage — reads the cluster on its ticks and writes what changed.

use super::rollouts::RolloutDates;
use super::states::states_and_nodes_left_out;
use super::{ObserveConfig, Prometheus};
use schemas::observe::ReadCluster;
use schemas::{Emitter, SourceRecord, Stage, Target, WorkloadState};
use std::collections::HashMap;

/// The observer name [`super::KubeReader`] writes on its states.
pub const OBSERVER_KUBERNETES: &str = "kubernetes@1";

/// Reads the cluster every `interval` (on the runner's ticks) and emits each workload's
/// [`WorkloadState`] when it differs from the last one written, or when `resync` has passed since.
/// Built by [`ObserveConfig::build`] or [`ObserveConfig::build_on`].
///
/// Stateless for the runner: after a restart every workload is written again at the first read, which
/// a reader takes as an unchanged state.
pub struct Observe {
    config: ObserveConfig,
    reader: Box<dyn ReadCluster>,
    /// Where the workloads' signals come from, if configured.
    metrics: Option<Prometheus>,
    /// Wall clock of the next read, ns (0: at the first tick).
    next_read_ns: i64,
    /// Per workload: the last state written, and when (wall clock, ns).
    written: HashMap<Target, (WorkloadState, i64)>,
    /// When each workload's rollout happened, rollbacks included.
    rollouts: RolloutDates,
}

impl Observe {
    pub(crate) fn new(
        config: &ObserveConfig,
        reader: Box<dyn ReadCluster>,
        metrics: Option<Prometheus>,
    ) -> Self {
        Self {
            config: config.clone(),
            reader,
            metrics,
            next_read_ns: 0,
            written: HashMap::new(),
            rollouts: RolloutDates::default(),
        }
    }

    /// Reads the cluster now and emits what changed (what [`Stage::on_tick`] does once `interval` has
    /// passed). Returns how many states it emitted.
    pub fn observe(&mut self, now_ns: i64, out: &mut Emitter) -> usize {
        let mut snapshot = match self.reader.read() {
            Ok(snapshot) => snapshot,
            Err(error) => {
                tracing::warn!(error = %error, "cannot read the cluster; trying again next interval");
                out.count("observe.read_errors", 1);
                return 0;
            }
        };
        if let Some(metrics) = &self.metrics {
            let read = metrics.fill(&mut snapshot, self.config.metrics_budget());
            out.count("observe.metrics_failed", read.failed);
            out.count("observe.signals_filled", read.filled);
            out.count("observe.signals_rejected", read.rejected);
        }
        let (mut states, left_out) =
            states_and_nodes_left_out(&snapshot, &self.config, self.reader.observer());
        out.count("observe.nodes_left_out", left_out);
        self.rollouts.date(&mut states, snapshot.at_ns);
        let resync_ns = self.config.resync.as_nanos();
        let mut emitted = 0;
        let mut seen = HashMap::with_capacity(states.len());
        for state in states {
            let key = state.target.clone();
            let last = self.written.remove(&key);
            let fresh = last.as_ref().is_some_and(|(previous, at)| {
                previous.same_as(&state, self.config.signal_tolerance)
                    && now_ns.saturating_sub(*at) < resync_ns
            });
            if fresh {
                out.count("observe.unchanged", 1);
                seen.insert(key, last.expect("fresh implies a last state"));
                continue;
            }
            match out.emit(&state) {
                Ok(()) => {
                    emitted += 1;
                    seen.insert(key, (state, now_ns));
                }
                Err(error) => {
                    tracing::error!(error = %error, target = %key, "cannot encode a workload state");
                    out.count("observe.encode_errors", 1);
                }
            }
        }
        out.count("observe.states_written", emitted as u64);
        // Workloads gone from the cluster are forgotten: written again if they come back.
        self.written = seen;
        emitted
    }
}

impl Stage for Observe {
    /// The observer subscribes to no topic; should a record reach it anyway, it is dropped and counted.
    fn process_batch(&mut self, batch: &[SourceRecord], out: &mut Emitter) {
        for _ in batch {
            out.drop_record();
        }
        out.count("observe.unexpected_input", batch.len() as u64);
    }

    fn on_tick(&mut self, now_ns: i64, out: &mut Emitter) {
        if now_ns < self.next_read_ns {
            return;
        }
        self.next_read_ns = now_ns.saturating_add(self.config.interval.as_nanos());
        self.observe(now_ns, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::observe::{ClusterSnapshot, ObserveError, ObservedWorkload};
    use schemas::span::Span;
    use schemas::{NodeCondition, WorkloadSignals};
    use std::sync::{Arc, Mutex};

    /// A cluster a test changes between reads (the twin's and the API server's readers are tested
    /// with their clusters).
    struct Scripted(Arc<Mutex<Result<ClusterSnapshot, ObserveError>>>);

    impl ReadCluster for Scripted {
        fn observer(&self) -> &'static str {
            "scripted@1"
        }
        fn read(&mut self) -> Result<ClusterSnapshot, ObserveError> {
            self.0.lock().expect("lock").clone()
        }
    }

    fn cluster(desired: &[(&str, u32)], ready_nodes: bool) -> ClusterSnapshot {
        ClusterSnapshot {
            at_ns: 1,
            workloads: desired
                .iter()
                .map(|(name, desired)| ObservedWorkload {
                    target: Target::deployment("shop", name),
                    desired: *desired,
                    autoscaler: None,
                    last_rollout: None,
                    signals: WorkloadSignals::default(),
                })
                .collect(),
            pods: Vec::new(),
            nodes: vec![NodeCondition {
                node: "n1".to_owned(),
                ready: ready_nodes,
                disk_pressure: false,
                unschedulable: false,
            }],
        }
    }

    fn written(out: &mut Emitter) -> Vec<(String, u32)> {
        let states = out.decode_all::<WorkloadState>().expect("decodes");
        out.take();
        states
            .into_iter()
            .map(|s| (s.target.name, s.pods.desired))
            .collect()
    }

    #[test]
    fn writes_changes_resyncs_and_survives_read_errors() {
        let world = Arc::new(Mutex::new(Ok(cluster(&[("web", 2), ("db", 1)], true))));
        let config = ObserveConfig {
            interval: Span::secs(10),
            resync: Span::secs(60),
            ..ObserveConfig::default()
        };
        let mut stage = config.build_on(Box::new(Scripted(Arc::clone(&world))));
        let mut out = Emitter::new();
        let s = 1_000_000_000_i64;
        stage.on_tick(100 * s, &mut out);
        assert_eq!(written(&mut out), [("web".into(), 2), ("db".into(), 1)]);
        stage.on_tick(105 * s, &mut out);
        assert!(
            written(&mut out).is_empty(),
            "not read again within the interval"
        );
        *world.lock().expect("lock") = Ok(cluster(&[("web", 3), ("db", 1)], true));
        stage.on_tick(110 * s, &mut out);
        assert_eq!(written(&mut out), [("web".into(), 3)], "only what changed");
        *world.lock().expect("lock") = Ok(cluster(&[("web", 3), ("db", 1)], false));
        stage.on_tick(120 * s, &mut out);
        assert_eq!(
            written(&mut out).len(),
            2,
            "a node's condition is part of every state"
        );
        *world.lock().expect("lock") = Err(ObserveError("API down".into()));
        stage.on_tick(130 * s, &mut out);
        assert_eq!(out.events().get("observe.read_errors"), Some(&1));
        assert!(written(&mut out).is_empty());
        *world.lock().expect("lock") = Ok(cluster(&[("web", 3)], false));
        stage.on_tick(140 * s, &mut out);
        assert!(written(&mut out).is_empty(), "nothing changed for web");
        stage.on_tick(185 * s, &mut out);
        assert_eq!(
            written(&mut out),
            [("web".into(), 3)],
            "written again once resync has passed; db, gone, is not"
        );
        *world.lock().expect("lock") = Ok(cluster(&[("web", 3), ("db", 1)], false));
        stage.on_tick(195 * s, &mut out);
        assert_eq!(written(&mut out), [("db".into(), 1)], "back: written again");
    }

    #[test]
    fn signals_that_barely_move_do_not_make_a_state_new() {
        let with_demand = |rps: f64| {
            let mut snapshot = cluster(&[("web", 2)], true);
            snapshot.workloads[0].signals.demand_rps = Some(rps);
            Ok(snapshot)
        };
        let world = Arc::new(Mutex::new(with_demand(100.0)));
        let config = ObserveConfig {
            interval: Span::secs(1),
            ..ObserveConfig::default()
        };
        let mut stage = config.build_on(Box::new(Scripted(Arc::clone(&world))));
        let mut out = Emitter::new();
        let s = 1_000_000_000_i64;
        let mut written_at = Vec::new();
        for (t, rps) in [(1, 100.0), (2, 103.0), (3, 96.0), (4, 106.0), (5, 109.0)] {
            *world.lock().expect("lock") = with_demand(rps);
            stage.on_tick(t * s, &mut out);
            if !written(&mut out).is_empty() {
                written_at.push(t);
            }
        }
        assert_eq!(
            written_at,
            [1, 4],
            "within 5 % of the last state written: unchanged; 106 is 6 % above 100"
        );
        *world.lock().expect("lock") = Ok(cluster(&[("web", 2)], true));
        stage.on_tick(6 * s, &mut out);
        assert_eq!(written(&mut out).len(), 1, "a signal gone is a change");
    }
}
