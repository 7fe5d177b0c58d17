//! [`ServedPolicy`]: a learned policy deciding in the stage — the network's choice on the view decide
//! rebuilt from the workload's latest state and the diagnosis; the stage's arbiter reviews it next
//! (`crate::stage_arbiter`).
//!
//! ```text
//!  diagnosis ─┐
//!  medic.state ┴─► view ─► features ─► network ─► action ─► (the stage's arbiter) ─► Action on a Target
//! ```

use crate::actions::PolicyAction;
use crate::features::{ACTION_NAMES, FEATURE_NAMES, action_for, features};
use crate::learned::PolicyNet;
use crate::observation::DeploymentView;
use schemas::{Action, Target};
use std::path::Path;

/// What a learned policy decided for one diagnosis.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposed {
    /// The action, after the arbiter.
    pub action: Action,
    /// What it applies to.
    pub target: Target,
    /// Why: the network's choice, its strongest inputs and the arbiter's notes.
    pub reason: String,
}

/// A saved policy serving in the decide stage.
pub struct ServedPolicy {
    net: PolicyNet,
    step_ns: i64,
}

impl ServedPolicy {
    /// Loads the policy in `dir`; `step_ns` is its training step (its `since_last_action` feature counts
    /// them).
    ///
    /// # Errors
    /// When it cannot be loaded, or was trained for other features or actions.
    pub fn load(dir: &Path, step_ns: i64) -> Result<Self, String> {
        Ok(Self {
            net: PolicyNet::load(dir)?,
            step_ns: step_ns.max(1),
        })
    }

    /// Its id (`ppo@df3849ca`), written on its decisions.
    #[must_use]
    pub fn id(&self) -> String {
        self.net.id()
    }

    /// The action it chooses on `view` at `at_ns`, when the workload was last acted on at
    /// `last_action_ns` (if ever), and why: its choice, its score and its strongest inputs.
    #[must_use]
    pub fn choose(
        &self,
        view: &DeploymentView,
        at_ns: i64,
        last_action_ns: Option<i64>,
    ) -> (PolicyAction, String) {
        let since = last_action_ns.map_or(u32::MAX, |t| {
            u32::try_from(at_ns.saturating_sub(t).max(0) / self.step_ns).unwrap_or(u32::MAX)
        });
        let (choice, scores) = self.net.scores(view, since);
        let proposed = action_for(choice, view).unwrap_or(PolicyAction::Noop);
        let x = features(view, since);
        let mut inputs: Vec<(&str, f32)> = FEATURE_NAMES
            .iter()
            .copied()
            .zip(x)
            .filter(|(_, v)| *v != 0.0)
            .collect();
        inputs.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        let inputs: Vec<String> = inputs
            .iter()
            .take(4)
            .map(|(n, v)| format!("{n}={v:.2}"))
            .collect();
        let mut reason = format!(
            "{}: {} scored highest ({:.2}; inputs {})",
            self.id(),
            ACTION_NAMES[choice],
            scores[choice],
            inputs.join(", ")
        );
        if proposed == PolicyAction::Noop && choice != 0 {
            reason
                .push_str("; it changes nothing here (the replicas it asks for are those it has)");
        }
        (proposed, reason)
    }
}
