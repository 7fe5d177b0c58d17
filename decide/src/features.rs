//! The learned policies' view of a deployment: a fixed-length feature vector, the discrete action set,
//! and which actions make sense now (the mask). Training (the twin) and serving (the decide stage) both
//! compute them here, from a [`DeploymentView`].

use crate::actions::PolicyAction;
use crate::observation::DeploymentView;
use schemas::FaultClass;

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
