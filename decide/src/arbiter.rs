//! [`Arbiter`]: the safety layer between every learned or rule policy and the cluster — in the twin
//! (training, evaluation) and in the decide stage.
//!
//! Checks, in order, each with a note in the decision's explanation:
//! 1. **Escalations** are deduplicated: one page per deployment per `escalation_interval_secs`.
//! 2. **Uncertain diagnoses escalate**: a disruptive action (restart, rollback, drain) needs a diagnosis at
//!    or above `min_confidence`; below it the arbiter pages a human instead.
//! 3. **Bounds**: replicas stay within `[min_replicas, max_replicas]`.
//! 4. **Scale-in stabilisation**: no scale-in within `scale_in_delay_secs` of a scale-out.
//! 5. **Recovery before scaling**: when integrity is at risk (OOM, crash loop, node failure, disk
//!    pressure, diagnosed confidently), a scale-out is replaced by the class's recovery action — more
//!    replicas of a crashing revision or on a dying node do not help — and a scale-in is refused: it
//!    takes serving capacity from a workload that is losing pods.
//! 6. **Cooldowns**: one disruptive action per deployment (and per node) per `cooldown_secs`.
//! 7. **Blast radius**: a restart may not take out more than `max_disruption_share` of the serving pods;
//!    a drain may not leave more than `max_unschedulable_node_share` of the nodes unschedulable, nor evict
//!    more than `max_disruption_share` of a deployment's pods from a Ready node.
//! 8. **Rate limits**: `max_actions_per_hour` per deployment, `max_actions_per_minute` cluster-wide.
//!
//! A refused action becomes a noop (or an escalation, for 2) and its note says which rule refused it.

use crate::actions::PolicyAction;
use crate::observation::{ClusterView, DeploymentView};
use schemas::FaultClass;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

/// The arbiter's limits (the `[decide.safety]` section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyConfig {
    /// Disruptive actions need a diagnosis at least this confident. Default 0.6.
    pub min_confidence: f64,
    /// Seconds between disruptive actions on one deployment or node. Default 300.
    pub cooldown_secs: f64,
    /// Seconds after a scale-out before a scale-in is allowed. Default 300.
    pub scale_in_delay_secs: f64,
    /// Most changes per deployment per hour. Default 20.
    pub max_actions_per_hour: usize,
    /// Most changes across the cluster per minute. Default 6.
    pub max_actions_per_minute: usize,
    /// Most of a deployment's pods one action may take out of service. Default 0.4.
    pub max_disruption_share: f64,
    /// Most of the nodes that may be unschedulable after a drain. Default 0.5.
    pub max_unschedulable_node_share: f64,
    /// Seconds between escalations for one deployment. Default 1800.
    pub escalation_interval_secs: f64,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        Self {
            min_confidence: 0.6,
            cooldown_secs: 300.0,
            scale_in_delay_secs: 300.0,
            max_actions_per_hour: 20,
            max_actions_per_minute: 6,
            max_disruption_share: 0.4,
            max_unschedulable_node_share: 0.5,
            escalation_interval_secs: 1_800.0,
        }
    }
}

impl SafetyConfig {
    /// Checks ranges.
    ///
    /// # Errors
    /// Every problem, as `key: message`.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let share = |v: f64| (0.0..=1.0).contains(&v);
        for (key, ok) in [
            ("min_confidence", share(self.min_confidence)),
            ("max_disruption_share", share(self.max_disruption_share)),
            (
                "max_unschedulable_node_share",
                share(self.max_unschedulable_node_share),
            ),
            ("cooldown_secs", self.cooldown_secs >= 0.0),
            ("scale_in_delay_secs", self.scale_in_delay_secs >= 0.0),
            (
                "escalation_interval_secs",
                self.escalation_interval_secs >= 0.0,
            ),
            ("max_actions_per_hour", self.max_actions_per_hour > 0),
            ("max_actions_per_minute", self.max_actions_per_minute > 0),
        ] {
            if !ok {
                problems.push(format!("safety.{key}: out of range"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// The recovery action for a diagnosed class when integrity is at risk, if there is one.
#[must_use]
pub fn recovery_for(fault: FaultClass, node: Option<usize>) -> Option<PolicyAction> {
    match fault {
        FaultClass::Oom => Some(PolicyAction::RolloutRestart),
        FaultClass::CrashLoop | FaultClass::ConfigError | FaultClass::ImagePull => {
            Some(PolicyAction::Rollback)
        }
        FaultClass::NodeFailure | FaultClass::DiskPressure => node.map(PolicyAction::CordonDrain),
        _ => None,
    }
}

/// Reviews proposals against the [`SafetyConfig`], remembering what it let through (its memory is part of
/// the decide stage's checkpoint).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Arbiter {
    /// Not part of its memory: a restored arbiter keeps the limits it was configured with.
    #[serde(skip)]
    config: SafetyConfig,
    last_disruption: HashMap<usize, f64>,
    last_node_action: HashMap<usize, f64>,
    last_scale_out: HashMap<usize, f64>,
    last_escalation: HashMap<usize, f64>,
    per_deployment: HashMap<usize, VecDeque<f64>>,
    cluster: VecDeque<f64>,
}

impl Arbiter {
    /// An arbiter with no history.
    #[must_use]
    pub fn new(config: SafetyConfig) -> Self {
        Self {
            config,
            last_disruption: HashMap::new(),
            last_node_action: HashMap::new(),
            last_scale_out: HashMap::new(),
            last_escalation: HashMap::new(),
            per_deployment: HashMap::new(),
            cluster: VecDeque::new(),
        }
    }

    /// Its limits.
    #[must_use]
    pub fn config(&self) -> &SafetyConfig {
        &self.config
    }

    /// The same memory under the limits `config` (a restored arbiter takes the configured ones).
    #[must_use]
    pub fn with_config(mut self, config: SafetyConfig) -> Self {
        self.config = config;
        self
    }

    /// Renumbers what it remembers of workloads and nodes by `workload` and `node` (old index → new),
    /// forgetting those they map to nothing (gone from the cluster).
    pub fn renumber(
        &mut self,
        workload: &dyn Fn(usize) -> Option<usize>,
        node: &dyn Fn(usize) -> Option<usize>,
    ) {
        fn remap<V>(map: &mut HashMap<usize, V>, to: &dyn Fn(usize) -> Option<usize>) {
            *map = std::mem::take(map)
                .into_iter()
                .filter_map(|(k, v)| Some((to(k)?, v)))
                .collect();
        }
        remap(&mut self.last_disruption, workload);
        remap(&mut self.last_scale_out, workload);
        remap(&mut self.last_escalation, workload);
        remap(&mut self.per_deployment, workload);
        remap(&mut self.last_node_action, node);
    }

    /// The action to take instead of `proposed` on the workload `view` shows (often the same), with a
    /// note per rule that changed it; the arbiter remembers it as taken ([`Arbiter::record`]).
    pub fn check(
        &mut self,
        proposed: PolicyAction,
        view: &DeploymentView,
        cluster: &ClusterView,
    ) -> (PolicyAction, Vec<String>) {
        let (action, notes) = self.assess(proposed, view, cluster);
        self.record(action, view);
        (action, notes)
    }

    /// What [`Arbiter::check`] would answer, remembering nothing: for a policy whose actions are not
    /// taken (a shadow), whose memory is then fed the actions that were ([`Arbiter::record`]).
    #[must_use]
    pub fn assess(
        &self,
        proposed: PolicyAction,
        view: &DeploymentView,
        cluster: &ClusterView,
    ) -> (PolicyAction, Vec<String>) {
        let c = self.config.clone();
        let now = view.at_secs;
        let d = view.deployment;
        let mut notes = Vec::new();
        let mut action = proposed;
        let confident = view.signal.filter(|s| s.confidence >= c.min_confidence);

        // 2. uncertain diagnoses escalate.
        if action.disrupts() && confident.is_none_or(|s| s.fault == FaultClass::Normal) {
            notes.push(format!(
                "{} needs a diagnosis with confidence >= {:.2} (have {}): escalating",
                action.action(),
                c.min_confidence,
                view.signal.map_or("none".to_owned(), |s| format!(
                    "{} {:.2}",
                    s.fault, s.confidence
                ))
            ));
            action = PolicyAction::Escalate;
        }
        // 1. one page per interval.
        if action == PolicyAction::Escalate {
            if let Some(last) = self
                .last_escalation
                .get(&d)
                .filter(|t| now - **t < c.escalation_interval_secs)
            {
                notes.push(format!(
                    "already escalated {:.0}s ago: not paging again",
                    now - last
                ));
                return (PolicyAction::Noop, notes);
            }
            return (action, notes);
        }
        // 3. bounds (first, so a bounded scale is what the other rules see), 4. scale-in stabilisation.
        if let PolicyAction::Scale(delta) = action {
            let desired = i64::from(view.desired);
            let target = (desired + i64::from(delta))
                .clamp(i64::from(view.min_replicas), i64::from(view.max_replicas));
            let clamped = (target - desired) as i32;
            if clamped != delta {
                notes.push(format!(
                    "replicas bounded to [{}, {}]: scale {delta:+} becomes {clamped:+}",
                    view.min_replicas, view.max_replicas
                ));
            }
            if clamped < 0
                && let Some(last) = self
                    .last_scale_out
                    .get(&d)
                    .filter(|t| now - **t < c.scale_in_delay_secs)
            {
                notes.push(format!(
                    "scaled out {:.0}s ago: no scale-in for {:.0}s",
                    now - last,
                    c.scale_in_delay_secs
                ));
                return (PolicyAction::Noop, notes);
            }
            action = if clamped == 0 {
                PolicyAction::Noop
            } else {
                PolicyAction::Scale(clamped)
            };
        }
        // 5. recovery before scaling.
        if let (PolicyAction::Scale(delta), Some(signal)) = (action, confident)
            && matches!(
                signal.fault,
                FaultClass::Oom
                    | FaultClass::CrashLoop
                    | FaultClass::NodeFailure
                    | FaultClass::DiskPressure
            )
        {
            if delta > 0 {
                let recovery = recovery_for(signal.fault, signal.node.or(view.troubled_node));
                notes.push(format!(
                    "integrity at risk ({}): recovery before scaling, {} instead of scale +{delta}",
                    signal.fault,
                    recovery.map_or("noop".to_owned(), |a| a.action().to_string())
                ));
                action = recovery.unwrap_or(PolicyAction::Noop);
            } else {
                notes.push(format!(
                    "integrity at risk ({}): no scale {delta} while the workload is losing pods",
                    signal.fault
                ));
                action = PolicyAction::Noop;
            }
        }
        if action == PolicyAction::Noop {
            return (action, notes);
        }
        // 6. cooldowns.
        if action.disrupts() {
            let last = match action.node() {
                Some(n) => self.last_node_action.get(&n),
                None => self.last_disruption.get(&d),
            };
            if let Some(last) = last.filter(|t| now - **t < c.cooldown_secs) {
                notes.push(format!(
                    "{} refused: same target acted on {:.0}s ago (cooldown {:.0}s)",
                    action.action(),
                    now - last,
                    c.cooldown_secs
                ));
                return (PolicyAction::Noop, notes);
            }
        }
        // 7. blast radius.
        if let Some(why) = self.blast_radius(action, view, cluster) {
            notes.push(why);
            return (PolicyAction::Noop, notes);
        }
        // 8. rate limits.
        let mine = self.per_deployment.get(&d).map_or(0, |times| {
            times.iter().filter(|t| now - **t < 3_600.0).count()
        });
        let cluster_wide = self.cluster.iter().filter(|t| now - **t < 60.0).count();
        if mine >= c.max_actions_per_hour || cluster_wide >= c.max_actions_per_minute {
            notes.push(format!(
                "rate limit: {mine} changes to this deployment in the last hour (max {}), {cluster_wide} in the cluster in the last minute (max {})",
                c.max_actions_per_hour, c.max_actions_per_minute
            ));
            return (PolicyAction::Noop, notes);
        }
        (action, notes)
    }

    /// Remembers `action`, taken on the workload `view` shows: a page starts its interval, a change
    /// counts toward the rate limits, a scale-out delays scale-ins, a disruption starts its target's
    /// cooldown. A no-op is not remembered.
    pub fn record(&mut self, action: PolicyAction, view: &DeploymentView) {
        let (now, d) = (view.at_secs, view.deployment);
        if action == PolicyAction::Noop {
            return;
        }
        // The later time wins: an action recorded again (a diagnosis delivered again) or out of
        // order does not move a newer one back.
        let later = |map: &mut HashMap<usize, f64>, key: usize| {
            let at = map.entry(key).or_insert(now);
            *at = at.max(now);
        };
        if action == PolicyAction::Escalate {
            later(&mut self.last_escalation, d);
            return;
        }
        let mine = self.per_deployment.entry(d).or_default();
        while mine.front().is_some_and(|t| now - *t >= 3_600.0) {
            mine.pop_front();
        }
        while self.cluster.front().is_some_and(|t| now - *t >= 60.0) {
            self.cluster.pop_front();
        }
        mine.push_back(now);
        self.cluster.push_back(now);
        match action {
            PolicyAction::Scale(delta) if delta > 0 => later(&mut self.last_scale_out, d),
            _ if action.disrupts() => match action.node() {
                Some(n) => later(&mut self.last_node_action, n),
                None => later(&mut self.last_disruption, d),
            },
            _ => {}
        }
    }

    fn blast_radius(
        &self,
        action: PolicyAction,
        view: &DeploymentView,
        cluster: &ClusterView,
    ) -> Option<String> {
        let c = &self.config;
        match action {
            PolicyAction::RestartPod => {
                let unready = view.starting + view.crashing + view.pending;
                let serving = f64::from(view.serving.max(1));
                (unready == 0 && 1.0 / serving > c.max_disruption_share).then(|| {
                    format!(
                        "restarting one of {} serving pods exceeds the blast radius ({:.0}%)",
                        view.serving,
                        c.max_disruption_share * 100.0
                    )
                })
            }
            PolicyAction::Cordon(n) | PolicyAction::CordonDrain(n) => {
                let nodes = cluster.schedulable.len();
                if n >= nodes {
                    return Some(format!("node {n} does not exist"));
                }
                let after = cluster
                    .schedulable
                    .iter()
                    .enumerate()
                    .filter(|(i, s)| !**s || *i == n)
                    .count();
                if after as f64 / nodes as f64 > c.max_unschedulable_node_share {
                    return Some(format!(
                        "{after} of {nodes} nodes would be unschedulable (max {:.0}%)",
                        c.max_unschedulable_node_share * 100.0
                    ));
                }
                if !cluster.ready[n] || !matches!(action, PolicyAction::CordonDrain(_)) {
                    return None;
                }
                cluster.pods_on_node.iter().enumerate().find_map(|(dd, on)| {
                    let total: u32 = on.iter().sum();
                    let here = f64::from(on[n]);
                    (total > 0 && here / f64::from(total) > c.max_disruption_share).then(|| {
                        format!(
                            "draining node {n} would evict {here} of deployment {dd}'s {total} pods (max {:.0}%)",
                            c.max_disruption_share * 100.0
                        )
                    })
                })
            }
            _ => None,
        }
    }
}
