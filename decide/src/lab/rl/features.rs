//! The twin's side of the policies' features: what an action index does to the twin, and the
//! steps-since-action counter training and evaluation advance (the features themselves are shared with
//! serving, in `crate::features`).

pub use crate::features::*;
use crate::lab::twin::{DeploymentView, TwinAction, TwinCommand};

/// The twin action for action index `a` on `view` (`None` when it cannot apply, e.g. no node).
#[must_use]
pub fn action_for(a: usize, view: &DeploymentView) -> Option<TwinAction> {
    Some(match a {
        0 => TwinAction::Noop,
        1..=3 => {
            let want = (view.demand_rps / (view.pod_rps * FIT_TARGETS[a - 1])).ceil();
            let want = want.clamp(f64::from(view.min_replicas), f64::from(view.max_replicas));
            match want as i32 - view.desired as i32 {
                0 => TwinAction::Noop,
                delta => TwinAction::Scale(delta),
            }
        }
        4 => TwinAction::Scale(2),
        5 => TwinAction::RestartPod,
        6 => TwinAction::RolloutRestart,
        7 => TwinAction::Rollback,
        8 => TwinAction::CordonDrain(node_of(view)?),
        9 => TwinAction::Escalate,
        _ => return None,
    })
}

/// Advances each deployment's steps-since-last-action counter (the last feature) past one step in which
/// `applied` ran: deployments changed by a command start again at 0, the others count one more step.
/// Training and evaluation both call this, so the feature means the same in both (serving counts the
/// same steps from the time of its last action on the workload).
pub fn advance_since_action(since_action: &mut [u32], applied: &[TwinCommand]) {
    for s in since_action.iter_mut() {
        *s = s.saturating_add(1);
    }
    for c in applied.iter().filter(|c| c.action.acts()) {
        if let Some(s) = since_action.get_mut(c.deployment) {
            *s = 0;
        }
    }
}
