//! [`TwinCommand`]: what a controller may do to the simulated cluster.

use schemas::Action;

/// An action on the twin, aimed at one deployment (node actions name their node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwinAction {
    /// Nothing.
    Noop,
    /// Change desired replicas by `delta`.
    Scale(i32),
    /// Delete the deployment's least healthy pod (the ReplicaSet replaces it).
    RestartPod,
    /// Replace every pod, a quarter at a time (the leak remedy: fresh pods, raised limit).
    RolloutRestart,
    /// Roll back to the previous revision.
    Rollback,
    /// Cordon the node (no new pods land there; its pods stay).
    Cordon(usize),
    /// Cordon the node and evict its pods.
    CordonDrain(usize),
    /// Page a human, who applies the right remedy after the response delay.
    Escalate,
}

impl TwinAction {
    /// The record-level action (cordon + drain maps to `drain_node`, which cordons first).
    #[must_use]
    pub const fn action(self) -> Action {
        match self {
            TwinAction::Noop => Action::Noop,
            TwinAction::Scale(delta) => Action::Scale { delta },
            TwinAction::RestartPod => Action::RestartPod,
            TwinAction::RolloutRestart => Action::RolloutRestart,
            TwinAction::Rollback => Action::Rollback,
            TwinAction::Cordon(_) => Action::CordonNode,
            TwinAction::CordonDrain(_) => Action::DrainNode,
            TwinAction::Escalate => Action::Escalate,
        }
    }

    /// Whether it changes the cluster (not noop, not escalate).
    #[must_use]
    pub const fn acts(self) -> bool {
        !matches!(self, TwinAction::Noop | TwinAction::Escalate)
    }

    /// The node it acts on, for node actions.
    #[must_use]
    pub const fn node(self) -> Option<usize> {
        match self {
            TwinAction::Cordon(n) | TwinAction::CordonDrain(n) => Some(n),
            _ => None,
        }
    }

    /// Whether it takes pods out of service for a while (restarts, rollbacks, drains).
    #[must_use]
    pub const fn disrupts(self) -> bool {
        matches!(
            self,
            TwinAction::RestartPod
                | TwinAction::RolloutRestart
                | TwinAction::Rollback
                | TwinAction::CordonDrain(_)
        )
    }
}

/// A command for one deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwinCommand {
    /// Deployment index.
    pub deployment: usize,
    /// What to do.
    pub action: TwinAction,
}
