//! [`PolicyAction`]: what a policy may do to one workload — the action space the learned policies were
//! trained in on the twin (as `TwinAction`), and serve in the decide stage. Node actions name their node
//! by index (the twin's nodes; in the stage, the nodes its workload states name).

use schemas::Action;
use serde::{Deserialize, Serialize};

/// An action aimed at one workload (node actions name their node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyAction {
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
    /// Page a human (in the twin, who applies the right remedy after the response delay).
    Escalate,
}

impl PolicyAction {
    /// The record-level action (cordon + drain maps to `drain_node`, which cordons first).
    #[must_use]
    pub const fn action(self) -> Action {
        match self {
            PolicyAction::Noop => Action::Noop,
            PolicyAction::Scale(delta) => Action::Scale { delta },
            PolicyAction::RestartPod => Action::RestartPod,
            PolicyAction::RolloutRestart => Action::RolloutRestart,
            PolicyAction::Rollback => Action::Rollback,
            PolicyAction::Cordon(_) => Action::CordonNode,
            PolicyAction::CordonDrain(_) => Action::DrainNode,
            PolicyAction::Escalate => Action::Escalate,
        }
    }

    /// The policy action for the record-level `action` (the inverse of [`PolicyAction::action`]): node
    /// actions on the node `node` resolves; `None` for `scale_to` (no delta without the replicas now) or
    /// a node action whose node is unknown.
    pub fn of_record(action: Action, node: impl FnOnce() -> Option<usize>) -> Option<Self> {
        Some(match action {
            Action::Noop => PolicyAction::Noop,
            Action::Scale { delta } => PolicyAction::Scale(delta),
            Action::RestartPod => PolicyAction::RestartPod,
            Action::RolloutRestart => PolicyAction::RolloutRestart,
            Action::Rollback => PolicyAction::Rollback,
            Action::CordonNode => PolicyAction::Cordon(node()?),
            Action::DrainNode => PolicyAction::CordonDrain(node()?),
            Action::Escalate => PolicyAction::Escalate,
            Action::ScaleTo { .. } => return None,
        })
    }

    /// Whether it changes the cluster (not noop, not escalate).
    #[must_use]
    pub const fn acts(self) -> bool {
        !matches!(self, PolicyAction::Noop | PolicyAction::Escalate)
    }

    /// The node it acts on, for node actions.
    #[must_use]
    pub const fn node(self) -> Option<usize> {
        match self {
            PolicyAction::Cordon(n) | PolicyAction::CordonDrain(n) => Some(n),
            _ => None,
        }
    }

    /// Whether it takes pods out of service for a while (restarts, rollbacks, drains).
    #[must_use]
    pub const fn disrupts(self) -> bool {
        matches!(
            self,
            PolicyAction::RestartPod
                | PolicyAction::RolloutRestart
                | PolicyAction::Rollback
                | PolicyAction::CordonDrain(_)
        )
    }
}
