//! The learned policies' view of a deployment: a fixed-length feature vector, the discrete action set,
//! and which actions make sense now (the mask). Training (the twin) and serving (the decide stage) both
//! compute them here, from a [`DeploymentView`].

use crate::actions::PolicyAction;
use crate::observation::DeploymentView;
use crate::remedy_for;
use schemas::{Action, FaultClass, ObjectKind, Target};

/// Diagnosis groups the policies tell apart (everything else is `other`).
const GROUPS: [FaultClass; 7] = [
    FaultClass::Normal,
    FaultClass::Oom,
    FaultClass::CrashLoop,
    FaultClass::NodeFailure,
    FaultClass::DiskPressure,
    FaultClass::DependencyFailure,
    FaultClass::CpuSaturation,
];

/// Names of the features, in order (for explanations and the model card).
pub const FEATURE_NAMES: [&str; 24] = [
    "load_per_desired",
    "load_per_serving",
    "trend_1m",
    "trend_5m",
    "serving_share",
    "starting_share",
    "crashing_share",
    "pending_share",
    "desired_of_max",
    "headroom_above_min",
    "p95_over_sla",
    "error_rate_x10",
    "violated",
    "diag_normal",
    "diag_oom",
    "diag_crash_loop",
    "diag_node_failure",
    "diag_disk_pressure",
    "diag_dependency",
    "diag_cpu_saturation",
    "diag_other",
    "troubled_node",
    "unschedulable_nodes",
    "since_last_action",
];

/// Number of features.
pub const N_FEATURES: usize = FEATURE_NAMES.len();

/// Utilisation targets of the `fit@` actions, which set the replicas to serve the current demand at that
/// utilisation (the policy picks its headroom per situation; the rules have one fixed target).
pub const FIT_TARGETS: [f64; 3] = [0.45, 0.6, 0.75];

/// Names of the actions, in order.
pub const ACTION_NAMES: [&str; 10] = [
    "noop",
    "fit@45%",
    "fit@60%",
    "fit@75%",
    "scale+2",
    "restart_pod",
    "rollout_restart",
    "rollback",
    "cordon_drain",
    "escalate",
];

/// Number of actions.
pub const N_ACTIONS: usize = ACTION_NAMES.len();

/// The features of `view`; `steps_since_action` counts steps since this deployment was last changed.
#[must_use]
pub fn features(view: &DeploymentView, steps_since_action: u32) -> [f32; N_FEATURES] {
    let desired = f64::from(view.desired.max(1));
    let unit = desired * view.pod_rps;
    let clip = |v: f64, hi: f64| v.clamp(-hi, hi) as f32;
    let mut f = [0f32; N_FEATURES];
    f[0] = clip(view.load_per_desired(), 4.0);
    f[1] = clip(
        view.demand_rps / view.capacity_rps.max(view.pod_rps * 0.25),
        4.0,
    );
    f[2] = clip(4.0 * (view.demand_rps - view.demand_rps_1m) / unit, 4.0);
    f[3] = clip((view.demand_rps - view.demand_rps_5m) / unit, 4.0);
    f[4] = (f64::from(view.serving) / desired) as f32;
    f[5] = (f64::from(view.starting) / desired) as f32;
    f[6] = (f64::from(view.crashing) / desired) as f32;
    f[7] = (f64::from(view.pending) / desired) as f32;
    f[8] = (desired / f64::from(view.max_replicas)) as f32;
    f[9] = ((desired - f64::from(view.min_replicas)) / f64::from(view.max_replicas)) as f32;
    f[10] = clip(view.p95_ms / view.sla_p95_ms, 4.0);
    f[11] = clip(view.error_rate * 10.0, 4.0);
    f[12] = f32::from(u8::from(view.violated));
    if let Some(signal) = view.signal {
        let group = GROUPS
            .iter()
            .position(|g| *g == signal.fault)
            .unwrap_or(GROUPS.len());
        f[13 + group] = signal.confidence as f32;
    }
    f[21] = f32::from(u8::from(view.troubled_node.is_some()));
    f[22] = (1.0 - view.schedulable_nodes) as f32;
    f[23] = (f64::from(steps_since_action) / 20.0).min(1.0) as f32;
    f
}

/// The node a node action would target: the diagnosis' node, else a troubled node hosting the pods.
#[must_use]
pub fn node_of(view: &DeploymentView) -> Option<usize> {
    view.signal.and_then(|s| s.node).or(view.troubled_node)
}

/// The action for action index `a` on `view` (`None` when it cannot apply, e.g. no node).
#[must_use]
pub fn action_for(a: usize, view: &DeploymentView) -> Option<PolicyAction> {
    Some(match a {
        0 => PolicyAction::Noop,
        1..=3 => {
            let want = (view.demand_rps / (view.pod_rps * FIT_TARGETS[a - 1])).ceil();
            let want = want.clamp(f64::from(view.min_replicas), f64::from(view.max_replicas));
            match want as i32 - view.desired as i32 {
                0 => PolicyAction::Noop,
                delta => PolicyAction::Scale(delta),
            }
        }
        4 => PolicyAction::Scale(2),
        5 => PolicyAction::RestartPod,
        6 => PolicyAction::RolloutRestart,
        7 => PolicyAction::Rollback,
        8 => PolicyAction::CordonDrain(node_of(view)?),
        9 => PolicyAction::Escalate,
        _ => return None,
    })
}

/// Which actions are possible on `view`: bursts within bounds, drains only with a node to drain.
#[must_use]
pub fn action_mask(view: &DeploymentView) -> [bool; N_ACTIONS] {
    let mut mask = [true; N_ACTIONS];
    mask[4] = view.max_replicas.saturating_sub(view.desired) >= 2;
    mask[8] = node_of(view).is_some();
    mask
}

/// The least confidence at which a diagnosis' remedy is applied by the table (the default of the rules'
/// `decide.min_confidence`; the policies' table does not follow that setting, so serving equals training).
pub const REMEDY_MIN_CONFIDENCE: f64 = 0.6;

/// The remedy table's answer ([`remedy_for`]) to `fault` on the deployment `view` shows, with the node
/// [`node_of`] names: the action, what it applies to (a node remedy's node, by its index) and why.
#[must_use]
pub fn remedy_on_view(view: &DeploymentView, fault: FaultClass) -> (Action, Target, &'static str) {
    let target = Target {
        cluster: None,
        namespace: None,
        kind: ObjectKind::Deployment,
        name: view.deployment.to_string(),
        pod: None,
        node: node_of(view).map(|n| n.to_string()),
    };
    remedy_for(fault, &target)
}

/// The action index of the remedy table's answer ([`remedy_for`]) to a diagnosis on `view` that is
/// confident (at least [`REMEDY_MIN_CONFIDENCE`]) and names a fault, as the rules apply it: `None` for
/// no diagnosis, a `normal` or `cpu_saturation` one (capacity is the policy's to size), or a remedy
/// outside the policies' actions. Two answers differ from the decide stage's rules, which see more than a
/// view: a node remedy (cordon for a failed node, drain under disk pressure) is the policies'
/// cordon-and-drain of the node [`node_of`] names, and a pod remedy (a probe failure's restart) is a
/// rollout restart of the workload, since a view names no pod.
#[must_use]
pub fn table_remedy(view: &DeploymentView) -> Option<usize> {
    let signal = view.signal.filter(|s| {
        s.confidence >= REMEDY_MIN_CONFIDENCE
            && !matches!(s.fault, FaultClass::Normal | FaultClass::CpuSaturation)
    })?;
    Some(match remedy_on_view(view, signal.fault).0 {
        Action::RestartPod => 5,
        Action::RolloutRestart => 6,
        Action::Rollback => 7,
        Action::CordonNode | Action::DrainNode if node_of(view).is_some() => 8,
        Action::Escalate => 9,
        _ => return None,
    })
}

/// Who answers a confident diagnosis: the network, or the remedy table. A policy is trained and served
/// with the same answer (its spec records it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Remedies {
    /// The network picks among every action the mask allows ([`action_mask`]).
    #[default]
    Learned,
    /// The remedy table answers a confident diagnosis ([`table_remedy`]), as the rules do; the network
    /// decides everything else (capacity above all). Its remedies are then as reliable as the rules', whatever
    /// a training run learned, and it learns what the table cannot: how many replicas, and when.
    Table,
    /// As [`Remedies::Table`] for the remedies that fix something (restart, rollout restart, rollback, a
    /// node's cordon and drain); where the table's answer is a page, the network chooses between paging
    /// and its capacity actions, so that a page (which the arbiter sends once) does not freeze capacity for
    /// as long as the diagnosis lasts.
    TableFixes,
}

impl Remedies {
    /// Whether it is [`Remedies::Learned`] (the spec leaves that default out).
    #[must_use]
    pub fn is_learned(&self) -> bool {
        *self == Remedies::Learned
    }

    /// Its name in a policy's id (`table`, `table_fixes`); `None` for [`Remedies::Learned`], which ids leave
    /// out.
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        match self {
            Remedies::Learned => None,
            Remedies::Table => Some("table"),
            Remedies::TableFixes => Some("table_fixes"),
        }
    }

    /// The remedy the table imposes on `view`, leaving the network no other choice.
    #[must_use]
    pub fn imposed(self, view: &DeploymentView) -> Option<usize> {
        match self {
            Remedies::Learned => None,
            Remedies::Table => table_remedy(view),
            Remedies::TableFixes => table_remedy(view).filter(|&r| r != ESCALATE),
        }
    }

    /// The actions the network may take on `view`: [`action_mask`], or the remedy the table imposes alone
    /// ([`Remedies::imposed`]); with [`Remedies::TableFixes`] and a page for answer, no other remedy.
    #[must_use]
    pub fn mask(self, view: &DeploymentView) -> [bool; N_ACTIONS] {
        let mut mask = action_mask(view);
        if let Some(remedy) = self.imposed(view).filter(|&r| mask[r]) {
            // The table's answers are all possible actions (a drain only with a node): checked, not assumed.
            mask = [false; N_ACTIONS];
            mask[remedy] = true;
            return mask;
        }
        if self == Remedies::TableFixes && table_remedy(view) == Some(ESCALATE) {
            mask[REMEDIES].fill(false);
        }
        mask
    }
}

/// The page's action index.
const ESCALATE: usize = 9;

/// The action indices of the remedies that fix something (restart, rollout restart, rollback, drain).
const REMEDIES: std::ops::RangeInclusive<usize> = 5..=8;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::Signal;

    fn undiagnosed() -> DeploymentView {
        DeploymentView {
            deployment: 0,
            at_secs: 60.0,
            desired: 4,
            serving: 4,
            starting: 0,
            crashing: 0,
            pending: 0,
            min_replicas: 2,
            max_replicas: 12,
            pod_rps: 100.0,
            demand_rps: 250.0,
            served_rps: 250.0,
            demand_rps_1m: 250.0,
            demand_rps_5m: 250.0,
            capacity_rps: 400.0,
            cpu_utilisation: 0.6,
            p95_ms: 80.0,
            sla_p95_ms: 250.0,
            error_rate: 0.0,
            violated: false,
            signal: None,
            troubled_node: None,
            schedulable_nodes: 1.0,
        }
    }

    fn diagnosed(fault: FaultClass, confidence: f64, node: Option<usize>) -> DeploymentView {
        DeploymentView {
            signal: Some(Signal {
                fault,
                confidence,
                node,
            }),
            ..undiagnosed()
        }
    }

    #[test]
    fn the_table_answers_a_confident_diagnosis_with_the_policies_actions() {
        let cases = [
            (FaultClass::Oom, Some(1), Some("rollout_restart")),
            (FaultClass::CrashLoop, None, Some("rollback")),
            (FaultClass::ImagePull, None, Some("rollback")),
            (FaultClass::ProbeFailure, None, Some("rollout_restart")),
            // A node remedy acts on the node the diagnosis names: cordon and drain.
            (FaultClass::NodeFailure, Some(2), Some("cordon_drain")),
            (FaultClass::DiskPressure, Some(2), Some("cordon_drain")),
            // Without a node to act on, a human must find it.
            (FaultClass::NodeFailure, None, Some("escalate")),
            (FaultClass::DependencyFailure, None, Some("escalate")),
            // Capacity is the policy's to size; a healthy diagnosis needs nothing.
            (FaultClass::CpuSaturation, None, None),
            (FaultClass::Normal, None, None),
        ];
        for (fault, node, expected) in cases {
            let view = diagnosed(fault, 0.9, node);
            let remedy = table_remedy(&view).map(|a| ACTION_NAMES[a]);
            assert_eq!(remedy, expected, "{fault:?} on node {node:?}");
            // The index names an action that applies to the view.
            if let Some(a) = table_remedy(&view) {
                assert!(action_for(a, &view).is_some(), "{fault:?}");
                assert!(action_mask(&view)[a], "{fault:?}");
            }
        }
        let unsure = diagnosed(FaultClass::Oom, REMEDY_MIN_CONFIDENCE - 0.01, None);
        assert_eq!(table_remedy(&unsure), None, "below the rules' confidence");
        assert_eq!(table_remedy(&undiagnosed()), None);
    }

    #[test]
    fn with_table_remedies_a_confident_diagnosis_leaves_only_its_remedy() {
        let view = diagnosed(FaultClass::Oom, 0.9, None);
        let mask = Remedies::Table.mask(&view);
        let allowed: Vec<&str> = (0..N_ACTIONS)
            .filter(|a| mask[*a])
            .map(|a| ACTION_NAMES[a])
            .collect();
        assert_eq!(allowed, ["rollout_restart"]);
        assert_eq!(Remedies::Learned.mask(&view), action_mask(&view));
        // No confident diagnosis: the network has every action the plain mask allows.
        for quiet in [
            diagnosed(FaultClass::Oom, 0.3, None),
            diagnosed(FaultClass::CpuSaturation, 0.9, None),
        ] {
            assert_eq!(Remedies::Table.mask(&quiet), action_mask(&quiet));
            assert_eq!(Remedies::TableFixes.mask(&quiet), action_mask(&quiet));
        }
    }

    #[test]
    fn the_page_and_the_remedies_are_the_actions_so_named() {
        assert_eq!(ACTION_NAMES[ESCALATE], "escalate");
        assert_eq!(
            ACTION_NAMES[REMEDIES],
            ["restart_pod", "rollout_restart", "rollback", "cordon_drain"]
        );
    }

    #[test]
    fn with_table_fixes_a_page_leaves_capacity_to_the_network() {
        let allowed = |remedies: Remedies, view: &DeploymentView| -> Vec<&str> {
            let mask = remedies.mask(view);
            (0..N_ACTIONS)
                .filter(|a| mask[*a])
                .map(|a| ACTION_NAMES[a])
                .collect()
        };
        let outage = diagnosed(FaultClass::DependencyFailure, 0.9, None);
        assert_eq!(allowed(Remedies::Table, &outage), ["escalate"]);
        assert_eq!(
            allowed(Remedies::TableFixes, &outage),
            [
                "noop", "fit@45%", "fit@60%", "fit@75%", "scale+2", "escalate"
            ]
        );
        assert_eq!(Remedies::TableFixes.imposed(&outage), None);
        // A remedy that fixes is imposed as with the table.
        let oom = diagnosed(FaultClass::Oom, 0.9, None);
        assert_eq!(allowed(Remedies::TableFixes, &oom), ["rollout_restart"]);
        assert_eq!(Remedies::TableFixes.imposed(&oom), Some(6));
    }
}
