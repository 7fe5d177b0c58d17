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
        let mut reason = match self.net.table_answer(view, choice) {
            Some(answer) => format!("{}: {answer}", self.id()),
            None => format!(
                "{}: {} scored highest ({:.2}; inputs {})",
                self.id(),
                ACTION_NAMES[choice],
                scores[choice],
                inputs.join(", ")
            ),
        };
        if proposed == PolicyAction::Noop && choice != 0 {
            reason
                .push_str("; it changes nothing here (the replicas it asks for are those it has)");
        }
        (proposed, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{Remedies, table_remedy};
    use crate::observation::Signal;
    use schemas::FaultClass;

    /// A copy of the committed PPO policy in a directory of its own, removed when dropped.
    struct PolicyCopy(std::path::PathBuf);

    impl PolicyCopy {
        /// The committed PPO policy with `edit` applied to its spec.
        fn of_committed_ppo(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Self {
            let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/policy-ppo");
            let dir =
                std::env::temp_dir().join(format!("medic-served-{}-{name}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("dir");
            let weights = "model.safetensors";
            std::fs::copy(from.join(weights), dir.join(weights)).expect("weights");
            let mut spec: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(from.join("spec.json")).expect("spec"),
            )
            .expect("json");
            edit(&mut spec);
            std::fs::write(dir.join("spec.json"), spec.to_string()).expect("spec written");
            Self(dir)
        }

        /// The committed PPO policy served with `remedies`, in the format a spec with them is written in.
        fn with_remedies(remedies: Remedies) -> Self {
            let name = remedies.name().unwrap_or("learned");
            Self::of_committed_ppo(name, |spec| {
                spec["remedies"] = name.into();
                spec["format"] = crate::learned::format_for(remedies).into();
            })
        }

        fn load(&self) -> Result<ServedPolicy, String> {
            ServedPolicy::load(&self.0, 60_000_000_000)
        }
    }

    impl Drop for PolicyCopy {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn oom_view(confidence: f64) -> DeploymentView {
        DeploymentView {
            deployment: 0,
            at_secs: 600.0,
            desired: 4,
            serving: 3,
            starting: 0,
            crashing: 1,
            pending: 0,
            min_replicas: 2,
            max_replicas: 12,
            pod_rps: 100.0,
            demand_rps: 250.0,
            served_rps: 240.0,
            demand_rps_1m: 250.0,
            demand_rps_5m: 250.0,
            capacity_rps: 300.0,
            cpu_utilisation: 0.8,
            p95_ms: 120.0,
            sla_p95_ms: 250.0,
            error_rate: 0.02,
            violated: false,
            signal: Some(Signal {
                fault: FaultClass::Oom,
                confidence,
                node: None,
            }),
            troubled_node: None,
            schedulable_nodes: 1.0,
        }
    }

    #[test]
    fn a_policy_served_with_table_remedies_says_the_table_chose() {
        let policy = PolicyCopy::with_remedies(Remedies::Table)
            .load()
            .expect("loads");
        assert!(policy.id().starts_with("ppo+table@"), "{}", policy.id());
        let (action, reason) = policy.choose(&oom_view(0.9), 0, None);
        assert_eq!(action, PolicyAction::RolloutRestart, "{reason}");
        assert!(
            reason.contains(
                "the remedy table answers a confident oom diagnosis (0.90) with rollout_restart"
            ),
            "{reason}"
        );
        // Below the table's confidence the network decides, and says so.
        let unsure = oom_view(0.5);
        assert_eq!(table_remedy(&unsure), None);
        let (_, reason) = policy.choose(&unsure, 0, None);
        assert!(reason.contains("scored highest"), "{reason}");
        // With learned remedies the network answers the same diagnosis, under the weights' own id.
        let learned = PolicyCopy::with_remedies(Remedies::Learned)
            .load()
            .expect("loads");
        assert!(learned.id().starts_with("ppo@"), "{}", learned.id());
        let (_, reason) = learned.choose(&oom_view(0.9), 0, None);
        assert!(reason.contains("scored highest"), "{reason}");
    }

    #[test]
    fn a_spec_that_would_be_served_otherwise_than_written_is_refused() {
        let refused =
            |name: &str, edit: fn(&mut serde_json::Value)| match PolicyCopy::of_committed_ppo(
                name, edit,
            )
            .load()
            {
                Ok(_) => panic!("{name}: loaded"),
                Err(e) => e,
            };
        // Table remedies in the first format: what a build without the setting would serve unmasked.
        let old_format = refused("old-format", |spec| spec["remedies"] = "table".into());
        assert!(
            old_format.contains("format \"medic-policy@1\" with table remedies"),
            "{old_format}"
        );
        let unknown = refused("unknown-remedies", |spec| {
            spec["remedies"] = "guess".into();
            spec["format"] = "medic-policy@2".into();
        });
        assert!(unknown.contains("unknown variant `guess`"), "{unknown}");
        let typo = refused("unknown-field", |spec| spec["remedy"] = "table".into());
        assert!(typo.contains("unknown field `remedy`"), "{typo}");
    }
}
