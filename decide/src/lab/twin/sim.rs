//! [`Twin`]: the simulated cluster — scheduler, ReplicaSets, kubelet (restart back-off, disk-pressure
//! eviction), taint-based eviction of NotReady nodes, rolling restarts and rollbacks — driven by a trace
//! and a fault plan, one step at a time.

use super::events::{EventKind, EvictReason, TwinEvent};
use super::queueing::{self, Served};
use super::report::{EpisodeReport, FaultTracker};
use super::scenario::{FaultKind, PlannedFault};
use super::state::{DeploymentState, NodeState, Pod, PodPhase};
use super::{ClusterSpec, Trace, TwinAction, TwinCommand};
use crate::observation::{ClusterView, DeploymentView, Signal};
use schemas::FaultClass;
use schemas::rng::Rng;

/// Seconds a NotReady node's pods are tolerated before eviction (`tolerationSeconds` default).
pub const NOT_READY_TOLERATION_SECS: f64 = 300.0;
/// Seconds between kubelet evictions under disk pressure.
pub const DISK_EVICTION_INTERVAL_SECS: f64 = 60.0;
/// Seconds a leaking pod takes from start to its memory limit (at the original limit).
pub const LEAK_SECS: f64 = 1_200.0;
/// Seconds a pod must run before the kubelet forgets its back-off.
pub const BACKOFF_RESET_SECS: f64 = 600.0;
/// Latency of a request nothing serves, milliseconds.
pub const TIMEOUT_MS: f64 = 5_000.0;

/// How the twin runs besides the cluster, trace and faults.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinOptions {
    /// Seed of every random draw (diagnosis noise, leak rates).
    pub seed: u64,
    /// Seconds between an escalation and the human's fix.
    pub human_response_secs: f64,
    /// Probability that a diagnosis of a fault names the wrong class.
    pub diagnosis_error: f64,
    /// Probability that a healthy deployment's diagnosis names a fault (per step).
    pub false_alarm_rate: f64,
    /// Seconds a symptom must last before the diagnose stage reports it (one window).
    pub diagnosis_delay_secs: f64,
    /// Record [`TwinEvent`]s (for log emission).
    pub record_events: bool,
    /// Diagnoses recorded by the pipeline, which replace the simulated ones where they apply.
    pub external_diagnoses: super::ExternalDiagnoses,
}

impl Default for TwinOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            human_response_secs: 900.0,
            diagnosis_error: 0.1,
            false_alarm_rate: 0.002,
            diagnosis_delay_secs: 60.0,
            record_events: false,
            external_diagnoses: super::ExternalDiagnoses::default(),
        }
    }
}

/// The simulated cluster.
pub struct Twin {
    spec: ClusterSpec,
    trace: Trace,
    options: TwinOptions,
    rng: Rng,
    now: f64,
    end: f64,
    nodes: Vec<NodeState>,
    deployments: Vec<DeploymentState>,
    plan: Vec<PlannedFault>,
    next_fault: usize,
    tracker: FaultTracker,
    human_fixes: Vec<(f64, TwinCommand)>,
    demand_history: Vec<Vec<f64>>,
    last_served: Vec<Served>,
    /// Per deployment: since when its demand has been beyond its replica ceiling, without a break
    /// (`None` when the last step's was not).
    beyond_ceiling_since: Vec<Option<f64>>,
    symptom_since: Vec<Option<(FaultClass, f64)>>,
    events: Vec<TwinEvent>,
    report: EpisodeReport,
}

impl Twin {
    /// A twin running `trace` (already scaled) on `spec`, for `horizon_secs` (at most the trace's
    /// length), with the given faults.
    #[must_use]
    pub fn new(
        spec: ClusterSpec,
        trace: Trace,
        plan: Vec<PlannedFault>,
        horizon_secs: f64,
        options: TwinOptions,
    ) -> Self {
        let end = horizon_secs.min(trace.duration_secs());
        let n_dep = spec.deployments.len();
        let nodes = spec
            .nodes
            .iter()
            .map(|_| NodeState {
                ready: true,
                has_image: vec![true; n_dep],
                ..NodeState::default()
            })
            .collect();
        let deployments = spec
            .deployments
            .iter()
            .map(|d| DeploymentState {
                desired: d.replicas,
                pods: Vec::new(),
                created: 0,
                leaking: false,
                broken_revision: false,
                dependency_down: false,
                spike: 1.0,
                last_oom: None,
                last_crash: None,
                rollout: None,
            })
            .collect();
        let rng = Rng::new(options.seed);
        let mut twin = Self {
            tracker: FaultTracker::default(),
            report: EpisodeReport::default(),
            demand_history: vec![Vec::new(); n_dep],
            last_served: vec![Served::default(); n_dep],
            beyond_ceiling_since: vec![None; n_dep],
            symptom_since: vec![None; n_dep],
            spec,
            trace,
            options,
            rng,
            now: 0.0,
            end,
            nodes,
            deployments,
            plan,
            next_fault: 0,
            human_fixes: Vec::new(),
            events: Vec::new(),
        };
        // Start warm: every initial pod is running.
        for d in 0..n_dep {
            twin.reconcile_replicas(d);
        }
        twin.schedule();
        for dep in &mut twin.deployments {
            for pod in &mut dep.pods {
                if pod.node.is_some() {
                    pod.phase = PodPhase::Running { since: 0.0 };
                }
            }
        }
        twin.events.clear();
        // Serve the first instant so the first views carry the demand (nothing is accounted at dt = 0).
        twin.serve(0.0);
        twin
    }

    /// The cluster.
    #[must_use]
    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    /// The deployment (index) a live pod named `pod` belongs to.
    #[must_use]
    pub fn owner_of_pod(&self, pod: &str) -> Option<usize> {
        self.deployments
            .iter()
            .position(|d| d.pods.iter().any(|p| p.name == pod))
    }

    /// Simulated seconds since the start.
    #[must_use]
    pub fn now(&self) -> f64 {
        self.now
    }

    /// Whether the horizon is reached.
    #[must_use]
    pub fn done(&self) -> bool {
        self.now + 1e-9 >= self.end
    }

    /// Events recorded so far (when [`TwinOptions::record_events`] is on), drained.
    pub fn take_events(&mut self) -> Vec<TwinEvent> {
        std::mem::take(&mut self.events)
    }

    /// Applies `commands`, then advances one step. Returns, per deployment, the minutes of SLA violation
    /// in the step (0 or the step length).
    pub fn step(&mut self, commands: &[TwinCommand]) -> Vec<f64> {
        for command in commands {
            self.apply(*command, false);
        }
        let dt = self.spec.step_secs;
        self.start_and_end_faults();
        self.human_work();
        self.control_plane(dt);
        self.now += dt;
        self.kubelet(dt);
        let violations = self.serve(dt);
        let on_nodes = self.deployments_on_nodes();
        self.tracker.update(
            self.now,
            &self.nodes,
            &self.deployments,
            &violations,
            &self.beyond_ceiling_since,
            &on_nodes,
        );
        violations
    }

    /// Applies `command` now, between steps (an actuator's change; counted as an action).
    pub fn apply_now(&mut self, command: TwinCommand) {
        self.apply(command, false);
    }

    /// What the controller sees of deployment `d` now: [`Twin::measure`] and the diagnosis.
    #[must_use]
    pub fn view(&mut self, d: usize) -> DeploymentView {
        let mut view = self.measure(d);
        view.signal = self.diagnose(d, view.troubled_node, view.demand_rps, view.capacity_rps);
        view
    }

    /// Deployment `d` as the cluster and its metrics show it now, without a diagnosis (`signal` is
    /// `None`). Reads the state only: no random draw, no change (what an observer may call).
    #[must_use]
    pub fn measure(&self, d: usize) -> DeploymentView {
        let spec = self.spec.deployments[d].clone();
        let dep = &self.deployments[d];
        let served = self.last_served[d];
        let history = &self.demand_history[d];
        let steps_per_min = (60.0 / self.spec.step_secs).round().max(1.0) as usize;
        let back = |steps: usize| {
            history
                .len()
                .checked_sub(1 + steps)
                .map_or_else(|| history.first().copied().unwrap_or(0.0), |i| history[i])
        };
        let demand = history.last().copied().unwrap_or(0.0);
        let mut counts = [0u32; 4];
        for pod in &dep.pods {
            let serving = pod.ready() && pod.node.is_some_and(|n| self.nodes[n].ready);
            let slot = match pod.phase {
                _ if serving => 0,
                PodPhase::Starting { .. } => 1,
                PodPhase::BackOff { .. } => 2,
                PodPhase::Pending => 3,
                PodPhase::Running { .. } => 1,
            };
            counts[slot] += 1;
        }
        let troubled_node = dep.pods.iter().filter_map(|p| p.node).find(|n| {
            let node = &self.nodes[*n];
            !node.ready || node.disk_pressure
        });
        let capacity = self.capacity(d);
        let error_rate = if demand > 0.0 {
            self.error_rps(d, &served) / demand
        } else {
            0.0
        };
        let scheduled = dep.pods.iter().filter(|p| p.node.is_some()).count() as f64;
        let cpu_utilisation = if scheduled > 0.0 {
            served.served_rps / spec.pod_rps / scheduled
        } else {
            0.0
        };
        let violated = self.violates(d, &served, demand);
        let desired = dep.desired;
        let (demand_rps_1m, demand_rps_5m) = (back(steps_per_min), back(5 * steps_per_min));
        DeploymentView {
            deployment: d,
            at_secs: self.now,
            desired,
            serving: counts[0],
            starting: counts[1],
            crashing: counts[2],
            pending: counts[3],
            min_replicas: spec.min_replicas,
            max_replicas: spec.max_replicas,
            pod_rps: spec.pod_rps,
            demand_rps: demand,
            served_rps: served.served_rps,
            demand_rps_1m,
            demand_rps_5m,
            capacity_rps: capacity,
            cpu_utilisation,
            p95_ms: served.p95_ms,
            sla_p95_ms: spec.sla_p95_ms,
            error_rate,
            violated,
            signal: None,
            troubled_node,
            schedulable_nodes: self.nodes.iter().filter(|n| n.schedulable()).count() as f64
                / self.nodes.len() as f64,
        }
    }

    /// The deployments' state (what the twin's observer reads).
    pub(super) fn deployment_states(&self) -> &[DeploymentState] {
        &self.deployments
    }

    /// The nodes' state (what the twin's observer reads).
    pub(super) fn node_states(&self) -> &[NodeState] {
        &self.nodes
    }

    /// The nodes and where the pods are.
    #[must_use]
    pub fn cluster_view(&self) -> ClusterView {
        let mut pods_on_node = vec![vec![0u32; self.nodes.len()]; self.deployments.len()];
        for (d, dep) in self.deployments.iter().enumerate() {
            for n in dep.pods.iter().filter_map(|p| p.node) {
                pods_on_node[d][n] += 1;
            }
        }
        ClusterView {
            schedulable: self.nodes.iter().map(NodeState::schedulable).collect(),
            ready: self.nodes.iter().map(|n| n.ready).collect(),
            pods_on_node,
        }
    }

    /// Views of every deployment.
    pub fn views(&mut self) -> Vec<DeploymentView> {
        (0..self.deployments.len()).map(|d| self.view(d)).collect()
    }

    /// The report so far (faults still open count as unrecovered, up to now).
    #[must_use]
    pub fn report(&self) -> EpisodeReport {
        let mut report = self.report.clone();
        self.tracker.finish(self.now, &mut report);
        report
    }

    /// How many faults affecting deployment `d` are not recovered (ground truth, for training rewards).
    #[must_use]
    pub fn open_faults(&self, d: usize) -> usize {
        self.tracker.open_affecting(d)
    }

    /// The ground-truth faults active on deployment `d` (for the human who answers an escalation and the
    /// manual baseline); node faults count where `d` has pods on the node.
    #[must_use]
    pub fn active_faults(&self, d: usize) -> Vec<PlannedFault> {
        let on_nodes = self.deployments_on_nodes();
        self.tracker
            .open()
            .filter(|f| f.deployment == Some(d) || f.node.is_some_and(|n| on_nodes[n].contains(&d)))
            .cloned()
            .collect()
    }

    fn record(&mut self, kind: EventKind) {
        if self.options.record_events {
            self.events.push(TwinEvent {
                at_secs: self.now,
                kind,
            });
        }
    }

    fn deployments_on_nodes(&self) -> Vec<Vec<usize>> {
        let mut on = vec![Vec::new(); self.nodes.len()];
        for (d, dep) in self.deployments.iter().enumerate() {
            for n in dep.pods.iter().filter_map(|p| p.node) {
                if !on[n].contains(&d) {
                    on[n].push(d);
                }
            }
        }
        on
    }

    /// Applies one command; `human` marks a fix applied by the human answering an escalation.
    fn apply(&mut self, command: TwinCommand, human: bool) {
        let d = command.deployment;
        if d >= self.deployments.len() {
            return;
        }
        if command.action.acts() && !human {
            self.report.actions += 1;
        }
        match command.action {
            TwinAction::Noop => {}
            TwinAction::Escalate => {
                self.report.escalations += 1;
                let at = self.now + self.options.human_response_secs;
                for fault in self.active_faults(d) {
                    if let Some(fix) = correct_remedy(&fault, d) {
                        self.human_fixes.push((at, fix));
                    }
                }
            }
            TwinAction::Scale(delta) => {
                let dep = &mut self.deployments[d];
                let from = dep.desired;
                let cap = self.spec.deployments[d].max_replicas * 4;
                dep.desired = (i64::from(from) + i64::from(delta)).clamp(0, i64::from(cap)) as u32;
                let to = dep.desired;
                if from != to {
                    self.record(EventKind::Scaled {
                        deployment: d,
                        from,
                        to,
                    });
                }
            }
            TwinAction::RestartPod => {
                let dep = &self.deployments[d];
                let worst = (0..dep.pods.len()).max_by(|a, b| {
                    let rank = |p: &Pod| match p.phase {
                        PodPhase::BackOff { .. } => 3.0,
                        PodPhase::Pending => 2.0,
                        PodPhase::Starting { .. } => 1.0,
                        PodPhase::Running { .. } => p.memory,
                    };
                    rank(&dep.pods[*a]).total_cmp(&rank(&dep.pods[*b]))
                });
                if let Some(i) = worst {
                    self.delete_pod(d, i);
                }
            }
            TwinAction::RolloutRestart => {
                let now = self.now;
                let dep = &mut self.deployments[d];
                dep.roll_out(now, false, false);
                // The leak remedy: fresh pods with a raised limit.
                dep.leaking = false;
                for pod in &mut dep.pods {
                    pod.restart_pending = true;
                }
            }
            TwinAction::Rollback => {
                let now = self.now;
                let dep = &mut self.deployments[d];
                dep.roll_out(now, true, true);
                if dep.broken_revision {
                    dep.broken_revision = false;
                    let broken: Vec<usize> = (0..dep.pods.len())
                        .filter(|i| dep.pods[*i].broken)
                        .collect();
                    for i in broken.into_iter().rev() {
                        self.delete_pod(d, i);
                    }
                } else {
                    // Rolling back a healthy revision is a full rolling replacement.
                    for pod in &mut dep.pods {
                        pod.restart_pending = true;
                    }
                }
            }
            TwinAction::Cordon(n) => self.cordon(n),
            TwinAction::CordonDrain(n) => {
                if n >= self.nodes.len() {
                    return;
                }
                self.cordon(n);
                for dd in 0..self.deployments.len() {
                    let on: Vec<usize> = (0..self.deployments[dd].pods.len())
                        .filter(|i| self.deployments[dd].pods[*i].node == Some(n))
                        .collect();
                    for i in on.into_iter().rev() {
                        self.evict(dd, i, EvictReason::Drain);
                    }
                }
            }
        }
    }

    fn cordon(&mut self, n: usize) {
        if n < self.nodes.len() && !self.nodes[n].cordoned {
            self.nodes[n].cordoned = true;
            self.record(EventKind::NodeCordoned { node: n });
        }
    }

    fn delete_pod(&mut self, d: usize, i: usize) {
        let pod = self.deployments[d].pods.remove(i);
        self.record(EventKind::Killing {
            deployment: d,
            pod: pod.name,
        });
    }

    fn evict(&mut self, d: usize, i: usize, reason: EvictReason) {
        let pod = self.deployments[d].pods.remove(i);
        if let Some(node) = pod.node {
            self.record(EventKind::Evicted {
                deployment: d,
                pod: pod.name,
                node,
                reason,
            });
        }
    }

    fn start_and_end_faults(&mut self) {
        while let Some(fault) = self
            .plan
            .get(self.next_fault)
            .filter(|f| f.at_secs <= self.now)
            .cloned()
        {
            self.next_fault += 1;
            let affected = match (fault.deployment, fault.node) {
                (Some(d), _) => vec![d],
                (None, Some(n)) => self.deployments_on_nodes()[n].clone(),
                (None, None) => Vec::new(),
            };
            self.begin(&fault);
            self.tracker.start(fault, affected);
        }
        for fault in self.tracker.expiring(self.now) {
            self.expire(&fault);
        }
    }

    fn begin(&mut self, fault: &PlannedFault) {
        match (fault.kind, fault.deployment, fault.node) {
            (FaultKind::MemoryLeak, Some(d), _) => {
                let dep = &mut self.deployments[d];
                dep.leaking = true;
                for pod in &mut dep.pods {
                    pod.memory = pod.memory.max(self.rng.range(0.0, 0.6));
                    pod.leak_per_sec = self.rng.range(0.8, 1.25) / LEAK_SECS;
                }
            }
            (FaultKind::BadRollout, Some(d), _) => {
                let now = self.now;
                let dep = &mut self.deployments[d];
                dep.broken_revision = true;
                dep.roll_out(now, true, false);
                // The rolling update replaces up to maxUnavailable (25 %) before stalling.
                let replace = (f64::from(dep.desired) * 0.25).ceil() as usize;
                let running: Vec<usize> = (0..dep.pods.len())
                    .filter(|i| !dep.pods[*i].broken)
                    .take(replace)
                    .collect();
                for i in running.into_iter().rev() {
                    self.delete_pod(d, i);
                }
            }
            (FaultKind::NodeFailure, _, Some(n)) => {
                let node = &mut self.nodes[n];
                node.ready = false;
                node.not_ready_since = Some(self.now);
                self.record(EventKind::NodeNotReady { node: n });
            }
            (FaultKind::DiskPressure, _, Some(n)) => {
                self.nodes[n].disk_pressure = true;
                self.nodes[n].last_eviction = self.now;
                self.record(EventKind::NodeDiskPressure { node: n });
            }
            (FaultKind::DependencyOutage, Some(d), _) => self.deployments[d].dependency_down = true,
            (FaultKind::TrafficSpike, Some(d), _) => self.deployments[d].spike = fault.factor,
            _ => {}
        }
    }

    fn expire(&mut self, fault: &PlannedFault) {
        match (fault.kind, fault.deployment, fault.node) {
            (FaultKind::NodeFailure, _, Some(n)) => {
                let node = &mut self.nodes[n];
                node.ready = true;
                node.not_ready_since = None;
                node.cordoned = false;
                self.record(EventKind::NodeReady { node: n });
            }
            (FaultKind::DiskPressure, _, Some(n)) => {
                self.nodes[n].disk_pressure = false;
                self.nodes[n].cordoned = false;
            }
            (FaultKind::DependencyOutage, Some(d), _) => {
                self.deployments[d].dependency_down = false
            }
            (FaultKind::TrafficSpike, Some(d), _) => self.deployments[d].spike = 1.0,
            _ => {}
        }
    }

    fn human_work(&mut self) {
        let now = self.now;
        let due: Vec<TwinCommand> = self
            .human_fixes
            .iter()
            .filter(|(at, _)| *at <= now)
            .map(|(_, c)| *c)
            .collect();
        self.human_fixes.retain(|(at, _)| *at > now);
        for fix in due {
            self.apply(fix, true);
        }
    }

    /// Node lifecycle (taint-based eviction), kubelet disk-pressure eviction, ReplicaSets, rolling
    /// restarts and the scheduler.
    fn control_plane(&mut self, _dt: f64) {
        for n in 0..self.nodes.len() {
            let node = &self.nodes[n];
            let evict_all = node
                .not_ready_since
                .is_some_and(|since| self.now - since >= NOT_READY_TOLERATION_SECS);
            let evict_one = node.ready
                && node.disk_pressure
                && self.now - node.last_eviction >= DISK_EVICTION_INTERVAL_SECS;
            let mut evicted_one = false;
            for d in 0..self.deployments.len() {
                let on: Vec<usize> = (0..self.deployments[d].pods.len())
                    .filter(|i| self.deployments[d].pods[*i].node == Some(n))
                    .collect();
                if evict_all {
                    for i in on.into_iter().rev() {
                        self.evict(d, i, EvictReason::NodeNotReady);
                    }
                } else if evict_one
                    && !evicted_one
                    && let Some(i) = on.first()
                {
                    self.evict(d, *i, EvictReason::DiskPressure);
                    evicted_one = true;
                }
            }
            if evicted_one {
                self.nodes[n].last_eviction = self.now;
            }
        }
        for d in 0..self.deployments.len() {
            self.rolling_restart(d);
            self.reconcile_replicas(d);
        }
        self.schedule();
    }

    /// Replaces up to a quarter of the desired pods per step among those a rollout restart marked.
    fn rolling_restart(&mut self, d: usize) {
        let dep = &self.deployments[d];
        let batch = ((f64::from(dep.desired) * 0.25).ceil() as usize).max(1);
        let in_flight = dep
            .pods
            .iter()
            .filter(|p| {
                !p.restart_pending
                    && matches!(p.phase, PodPhase::Starting { .. } | PodPhase::Pending)
            })
            .count();
        let budget = batch.saturating_sub(in_flight);
        let marked: Vec<usize> = (0..dep.pods.len())
            .filter(|i| dep.pods[*i].restart_pending)
            .take(budget)
            .collect();
        for i in marked.into_iter().rev() {
            self.delete_pod(d, i);
        }
    }

    /// Creates or deletes pods so the deployment has its desired count (unready pods go first).
    fn reconcile_replicas(&mut self, d: usize) {
        let desired = self.deployments[d].desired as usize;
        while self.deployments[d].pods.len() < desired {
            let dep = &mut self.deployments[d];
            dep.created += 1;
            let name = pod_name(
                &self.spec.deployments[d].name,
                dep.created,
                dep.broken_revision,
            );
            let broken = dep.broken_revision;
            let leak = self.rng.range(0.8, 1.25) / LEAK_SECS;
            self.deployments[d].pods.push(Pod {
                name,
                node: None,
                phase: PodPhase::Pending,
                memory: 0.0,
                leak_per_sec: leak,
                restarts: 0,
                broken,
                restart_pending: false,
            });
        }
        while self.deployments[d].pods.len() > desired {
            let pods = &self.deployments[d].pods;
            let victim = (0..pods.len())
                .min_by_key(|i| match pods[*i].phase {
                    PodPhase::Pending => 0,
                    PodPhase::BackOff { .. } => 1,
                    PodPhase::Starting { .. } => 2,
                    PodPhase::Running { .. } => 3,
                })
                .unwrap_or(0);
            self.delete_pod(d, victim);
        }
    }

    /// Binds pending pods to the schedulable node with the most free CPU.
    fn schedule(&mut self) {
        let mut free: Vec<i64> = self
            .spec
            .nodes
            .iter()
            .map(|n| i64::from(n.cpu_millis))
            .collect();
        for (d, dep) in self.deployments.iter().enumerate() {
            let request = i64::from(self.spec.deployments[d].cpu_request_millis);
            for n in dep.pods.iter().filter_map(|p| p.node) {
                free[n] -= request;
            }
        }
        for d in 0..self.deployments.len() {
            let request = i64::from(self.spec.deployments[d].cpu_request_millis);
            let (startup, pull) = (
                self.spec.deployments[d].startup_secs,
                self.spec.deployments[d].image_pull_secs,
            );
            for i in 0..self.deployments[d].pods.len() {
                if self.deployments[d].pods[i].node.is_some() {
                    continue;
                }
                let best = (0..self.nodes.len())
                    .filter(|n| self.nodes[*n].schedulable() && free[*n] >= request)
                    .max_by_key(|n| free[*n]);
                let name = self.deployments[d].pods[i].name.clone();
                let Some(n) = best else {
                    self.record(EventKind::FailedScheduling {
                        deployment: d,
                        pod: name,
                    });
                    continue;
                };
                free[n] -= request;
                let pulled = !self.nodes[n].has_image[d];
                self.nodes[n].has_image[d] = true;
                let ready_at = self.now + startup + if pulled { pull } else { 0.0 };
                let pod = &mut self.deployments[d].pods[i];
                pod.node = Some(n);
                pod.phase = PodPhase::Starting { ready_at };
                self.record(EventKind::Scheduled {
                    deployment: d,
                    pod: name.clone(),
                    node: n,
                });
                self.record(EventKind::Started {
                    deployment: d,
                    pod: name,
                    node: n,
                    pulled,
                });
            }
        }
    }

    /// Container life on Ready nodes: readiness, crashes of broken revisions, leaks and OOM kills,
    /// restarts after back-off.
    fn kubelet(&mut self, dt: f64) {
        let now = self.now;
        let mut events = Vec::new();
        for (d, dep) in self.deployments.iter_mut().enumerate() {
            let startup = self.spec.deployments[d].startup_secs;
            for pod in &mut dep.pods {
                let Some(n) = pod.node.filter(|n| self.nodes[*n].ready) else {
                    continue;
                };
                match pod.phase {
                    PodPhase::Starting { ready_at } if ready_at <= now => {
                        if pod.broken {
                            let backoff = pod.crash(now);
                            dep.last_crash = Some(now);
                            events.push(EventKind::StartFailed {
                                deployment: d,
                                pod: pod.name.clone(),
                                node: n,
                                restarts: pod.restarts,
                                backoff_secs: backoff,
                            });
                        } else {
                            pod.phase = PodPhase::Running { since: now };
                        }
                    }
                    PodPhase::BackOff { until } if until <= now => {
                        pod.phase = PodPhase::Starting {
                            ready_at: now + startup,
                        };
                        events.push(EventKind::Started {
                            deployment: d,
                            pod: pod.name.clone(),
                            node: n,
                            pulled: false,
                        });
                    }
                    PodPhase::Running { since } if dep.leaking => {
                        let before = pod.memory;
                        pod.memory += pod.leak_per_sec * dt;
                        if pod.memory >= 1.0 {
                            if now - since >= BACKOFF_RESET_SECS {
                                pod.restarts = 0;
                            }
                            pod.memory = 0.0;
                            let backoff = pod.crash(now);
                            dep.last_oom = Some(now);
                            events.push(EventKind::OomKilled {
                                deployment: d,
                                pod: pod.name.clone(),
                                node: n,
                                restarts: pod.restarts,
                                backoff_secs: backoff,
                            });
                        } else if before < 0.85 && pod.memory >= 0.85 {
                            // The application warns near its limit: the OOM evidence starts here.
                            dep.last_oom = Some(now);
                            events.push(EventKind::MemoryHigh {
                                deployment: d,
                                pod: pod.name.clone(),
                                fraction: pod.memory,
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        for kind in events {
            self.record(kind);
        }
    }

    /// Serving capacity of deployment `d`: ready pods on Ready nodes (a third of the speed on a node
    /// under disk pressure).
    fn capacity(&self, d: usize) -> f64 {
        let pod_rps = self.spec.deployments[d].pod_rps;
        self.deployments[d]
            .pods
            .iter()
            .filter(|p| p.ready())
            .filter_map(|p| p.node)
            .filter(|n| self.nodes[*n].ready)
            .map(|n| crate::serving::pod_capacity_rps(pod_rps, self.nodes[n].disk_pressure))
            .sum()
    }

    fn error_rps(&self, d: usize, served: &Served) -> f64 {
        let dependency = if self.deployments[d].dependency_down {
            0.5 * served.served_rps
        } else {
            0.0
        };
        served.refused_rps + dependency
    }

    fn violates(&self, d: usize, served: &Served, demand: f64) -> bool {
        self.breaks_sla(d, served.p95_ms, self.error_rps(d, served), demand)
    }

    /// Whether deployment `d` serving `demand` with this p95 and these failed requests per second
    /// breaks its SLA.
    fn breaks_sla(&self, d: usize, p95_ms: f64, error_rps: f64, demand: f64) -> bool {
        demand > 0.0
            && (p95_ms > self.spec.deployments[d].sla_p95_ms
                || error_rps / demand > self.spec.max_error_rate)
    }

    /// Whether `demand` on deployment `d` violates its SLA even when served by its replica ceiling:
    /// `max_replicas` ready pods on healthy nodes (the cluster's room for them aside), with no
    /// dependency down — too slow, or too many requests refused.
    fn beyond_ceiling(&self, d: usize, demand: f64) -> bool {
        let spec = &self.spec.deployments[d];
        let pods = f64::from(spec.max_replicas);
        let at_ceiling = queueing::serve(
            demand,
            pods * spec.pod_rps,
            pods,
            spec.base_latency_ms,
            TIMEOUT_MS,
        );
        self.breaks_sla(d, at_ceiling.p95_ms, at_ceiling.refused_rps, demand)
    }

    /// Serves the step's demand; returns SLA-violation minutes per deployment and accumulates the report.
    fn serve(&mut self, dt: f64) -> Vec<f64> {
        let minutes = dt / 60.0;
        let base = self.trace.rps_at(self.now);
        let mut violations = Vec::with_capacity(self.deployments.len());
        for d in 0..self.deployments.len() {
            let spec = &self.spec.deployments[d];
            let demand = base * spec.traffic_share * self.deployments[d].spike;
            let capacity = self.capacity(d);
            let serving = self.deployments[d]
                .pods
                .iter()
                .filter(|p| p.ready() && p.node.is_some_and(|n| self.nodes[n].ready))
                .count() as f64;
            let served =
                queueing::serve(demand, capacity, serving, spec.base_latency_ms, TIMEOUT_MS);
            let scheduled = self.deployments[d]
                .pods
                .iter()
                .filter(|p| p.node.is_some())
                .count() as f64;
            let violated = self.violates(d, &served, demand);
            // The minutes no action could have fixed: beyond the ceiling, before a human paged at
            // its start could have raised it (a human's scale-out is not bound by `max_replicas`).
            let unavoidable = if self.beyond_ceiling(d, demand) {
                let since = *self.beyond_ceiling_since[d].get_or_insert(self.now - dt);
                self.now - since <= self.options.human_response_secs
            } else {
                self.beyond_ceiling_since[d] = None;
                false
            };
            self.report.replica_minutes += scheduled * minutes;
            self.report.cpu_used_millis +=
                served.served_rps / spec.pod_rps * f64::from(spec.cpu_request_millis) * minutes;
            self.report.cpu_requested_millis +=
                scheduled * f64::from(spec.cpu_request_millis) * minutes;
            self.report.requests += demand * dt;
            self.report.failed_requests += self.error_rps(d, &served) * dt;
            if violated {
                self.report.sla_violation_minutes += minutes;
                if self.deployments[d].dependency_down {
                    self.report.sla_minutes_in_dependency_outages += minutes;
                } else if unavoidable {
                    self.report.sla_minutes_beyond_ceiling += minutes;
                }
            }
            self.report.minutes += minutes;
            self.demand_history[d].push(demand);
            if self.demand_history[d].len() > 64 {
                self.demand_history[d].drain(..32);
            }
            self.last_served[d] = served;
            violations.push(if violated { minutes } else { 0.0 });
            if self.options.record_events && dt > 0.0 {
                self.record_requests(d, &served);
            }
        }
        violations
    }

    fn record_requests(&mut self, d: usize, served: &Served) {
        let dt = self.spec.step_secs;
        let serving: Vec<String> = self.deployments[d]
            .pods
            .iter()
            .filter(|p| p.ready() && p.node.is_some_and(|n| self.nodes[n].ready))
            .map(|p| p.name.clone())
            .collect();
        let errors = self.error_rps(d, served) * dt;
        let share = serving.len().max(1) as f64;
        let dependency_down = self.deployments[d].dependency_down;
        for pod in serving {
            self.record(EventKind::Requests {
                deployment: d,
                pod,
                ok: ((served.served_rps * dt - errors.min(served.served_rps * dt)) / share) as u64,
                errors: (errors / share) as u64,
                p95_ms: served.p95_ms,
                dependency_down,
            });
        }
    }

    /// The diagnose stage's verdict on deployment `d`: the visible symptom, reported once it has lasted a
    /// window, with the configured error rate and a confidence.
    fn diagnose(
        &mut self,
        d: usize,
        troubled_node: Option<usize>,
        demand: f64,
        capacity: f64,
    ) -> Option<Signal> {
        if let Some(signal) = self.options.external_diagnoses.signal(d, self.now) {
            return Some(signal);
        }
        let dep = &self.deployments[d];
        let recent = |t: Option<f64>| t.is_some_and(|t| self.now - t <= 300.0);
        let (class, node) = if let Some(n) = troubled_node {
            let class = if self.nodes[n].ready {
                FaultClass::DiskPressure
            } else {
                FaultClass::NodeFailure
            };
            (class, Some(n))
        } else if recent(dep.last_crash) {
            (FaultClass::CrashLoop, None)
        } else if recent(dep.last_oom) {
            (FaultClass::Oom, None)
        } else if dep.dependency_down {
            (FaultClass::DependencyFailure, None)
        } else if demand > 0.9 * capacity {
            (FaultClass::CpuSaturation, None)
        } else {
            (FaultClass::Normal, None)
        };
        let since = match self.symptom_since[d] {
            Some((seen, since)) if seen == class => since,
            _ => {
                self.symptom_since[d] = Some((class, self.now));
                self.now
            }
        };
        if class != FaultClass::Normal && self.now - since < self.options.diagnosis_delay_secs {
            return Some(Signal {
                fault: FaultClass::Normal,
                confidence: 0.8,
                node: None,
            });
        }
        let error = if class == FaultClass::Normal {
            self.options.false_alarm_rate
        } else {
            self.options.diagnosis_error
        };
        if self.rng.unit() < error {
            let others: Vec<FaultClass> = FaultClass::ALL
                .iter()
                .copied()
                .filter(|c| *c != class)
                .collect();
            let wrong = others[self.rng.index(others.len())];
            return Some(Signal {
                fault: wrong,
                confidence: self.rng.range(0.3, 0.85),
                node: troubled_node,
            });
        }
        Some(Signal {
            fault: class,
            confidence: self.rng.range(0.65, 0.99),
            node,
        })
    }
}

/// The remedy a competent human applies for `fault` seen from deployment `d`.
#[must_use]
pub fn correct_remedy(fault: &PlannedFault, d: usize) -> Option<TwinCommand> {
    let action = match fault.kind {
        FaultKind::MemoryLeak => TwinAction::RolloutRestart,
        FaultKind::BadRollout => TwinAction::Rollback,
        FaultKind::NodeFailure | FaultKind::DiskPressure => TwinAction::CordonDrain(fault.node?),
        FaultKind::DependencyOutage => return None,
        FaultKind::TrafficSpike => TwinAction::Scale(((fault.factor - 1.0) * 4.0).ceil() as i32),
    };
    Some(TwinCommand {
        deployment: d,
        action,
    })
}

/// Kubelet restart back-off: 10 s doubling per restart, capped at 5 minutes.
#[must_use]
pub fn backoff_secs(restarts: u32) -> f64 {
    (10.0 * 2f64.powi(restarts.min(10) as i32)).min(300.0)
}

fn pod_name(deployment: &str, n: u64, broken: bool) -> String {
    let template = if broken { "7c9f8d6b5" } else { "5d567cc74" };
    let hash = schemas::id::stable_hash(&[deployment, &n.to_string()]);
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let suffix: String = (0..5)
        .map(|i| ALPHABET[((hash >> (i * 8)) % ALPHABET.len() as u64) as usize] as char)
        .collect();
    format!("{deployment}-{template}-{suffix}")
}
