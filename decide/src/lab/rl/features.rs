//! The twin's side of the policies' features: the steps-since-action counter training and evaluation
//! advance (the features and actions themselves are shared with serving, in `crate::features`).

pub use crate::features::*;
use crate::lab::twin::TwinCommand;

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
