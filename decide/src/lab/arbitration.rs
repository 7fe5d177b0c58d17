//! The arbiter in the lab: [`Arbiter::review`] applies [`Arbiter::check`] to a controller's proposal and
//! appends the notes to its explanation (the arbiter itself is shared with the decide stage).

pub use crate::arbiter::{Arbiter, SafetyConfig, recovery_for};
use crate::lab::control::Proposal;
use crate::lab::twin::{ClusterView, DeploymentView};

impl Arbiter {
    /// The command to run instead of `proposal` (often the same), with the arbiter's notes appended.
    pub fn review(
        &mut self,
        mut proposal: Proposal,
        view: &DeploymentView,
        cluster: &ClusterView,
    ) -> Proposal {
        let (action, notes) = self.check(proposal.command.action, view, cluster);
        proposal.command.action = action;
        proposal.explanation.arbitration.extend(notes);
        proposal
    }
}
