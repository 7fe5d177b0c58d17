//! [`DecideConfig`]: the `[decide]` section of a pipeline file.

use crate::Decide;
use crate::arbiter::SafetyConfig;
pub use crate::policy_config::{DecideMode, ServingConfig, WorkloadServing};
use crate::policy_config::{RULES, policy_dir};
use crate::served_policy::ServedPolicy;
use schemas::config::{Problem, Problems};
use schemas::span::Span;
use serde::{Deserialize, Serialize};

/// Configuration of the decide stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideConfig {
    /// After an action on a target, further actions on it are suppressed (decided as `noop`) for this
    /// long in event time. Default: `5m`.
    #[serde(default = "default_cooldown")]
    pub cooldown: Span,
    /// Diagnoses below this confidence (or marked uncertain) are escalated to a human. Default: 0.6.
    #[serde(default = "default_min_confidence")]
    pub min_confidence: f64,
    /// Upper bound on targets whose cooldown is remembered; the oldest is forgotten beyond it.
    /// Default: 10000.
    #[serde(default = "default_max_tracked_targets")]
    pub max_tracked_targets: usize,
    /// Which evidence may lead to cordoning or draining a node. Default: `node_evidence`.
    #[serde(default)]
    pub node_actions: NodeActions,
    /// An escalation pages a human once per incident — a target and its fault: further escalations of
    /// the same target and fault within this long (event time) are decided `noop`; still unresolved
    /// after it, the target is paged again. Default: `30m`.
    #[serde(default = "default_repage_after")]
    pub repage_after: Span,
    /// A rollback undoes a change: decide rolls back only when the workload was seen rolled out (a new
    /// revision: from the observer's state on `medic.state`, or a new ReplicaSet in its Deployment's
    /// Events) at most this long before the diagnosis, and escalates otherwise. Default: `1h`.
    #[serde(default = "default_rollback_window")]
    pub rollback_window: Span,
    /// A workload state from `medic.state` (the observer) older than this at the diagnosis is not used
    /// for its pods and bounds (its last rollout still counts: it carries its own time). Default: `10m`.
    #[serde(default = "default_state_max_age")]
    pub state_max_age: Span,
    /// The policy: `rules@1` (the remedy table; the default) or a saved learned policy's directory,
    /// such as `models/policy-ppo` or `models/policy-dqn` (its spec is checked against this build's
    /// features and actions at start; a mismatch is refused).
    #[serde(default = "default_policy")]
    pub policy: String,
    /// `act` (the policy's decisions are acted on; the default) or `shadow` (the rules' are, and a
    /// learned policy's go to `medic.decisions.shadow`).
    #[serde(default)]
    pub mode: DecideMode,
    /// The learned policy's step, as in its training (its `since_last_action` feature counts these
    /// since the workload was last acted on). Default: `30s`.
    #[serde(default = "default_step")]
    pub step: Span,
    /// What the learned policy is told of the workloads besides the cluster's state.
    #[serde(default)]
    pub serving: ServingConfig,
    /// The arbiter's limits. Every decision that acts on a workload whose state is fresh passes the
    /// arbiter (a node action only when that state names the node); a rules remedy it refuses becomes a
    /// page. Its `min_confidence` applies on top of `decide.min_confidence`.
    #[serde(default)]
    pub safety: SafetyConfig,
}

/// Which evidence may lead to a node action (`decide.node_actions`).
///
/// A node is shared by every tenant whose pods run on it, and a workload's logs are written by that
/// workload: any pod can print `no space left on device`, and the node hint of its evidence comes from
/// where the pod runs. So by default only a diagnosis *of a Node object* (from the kubelet's and the node
/// controller's Events about the node) may cordon or drain it; a node fault diagnosed on a workload is
/// escalated instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeActions {
    /// Only a diagnosis whose target is the Node itself.
    #[default]
    NodeEvidence,
    /// Also a diagnosis of a workload whose evidence names the node (one tenant's logs can then cordon
    /// or drain a shared node: for clusters with a single tenant).
    AnyEvidence,
}

fn default_cooldown() -> Span {
    Span::secs(300)
}
fn default_min_confidence() -> f64 {
    0.6
}
fn default_rollback_window() -> Span {
    Span::secs(3_600)
}
fn default_policy() -> String {
    RULES.to_owned()
}
fn default_step() -> Span {
    Span::secs(30)
}
fn default_state_max_age() -> Span {
    Span::secs(600)
}
fn default_repage_after() -> Span {
    Span::secs(1_800)
}
fn default_max_tracked_targets() -> usize {
    10_000
}

impl Default for DecideConfig {
    fn default() -> Self {
        Self {
            cooldown: default_cooldown(),
            min_confidence: default_min_confidence(),
            max_tracked_targets: default_max_tracked_targets(),
            node_actions: NodeActions::default(),
            repage_after: default_repage_after(),
            rollback_window: default_rollback_window(),
            state_max_age: default_state_max_age(),
            policy: default_policy(),
            mode: DecideMode::default(),
            step: default_step(),
            serving: ServingConfig::default(),
            safety: SafetyConfig::default(),
        }
    }
}

impl DecideConfig {
    /// Checks the configuration and reports every problem, under `decide.<key>`.
    ///
    /// # Errors
    /// The list of problems, when there is at least one.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut problems = Problems::new("decide");
        problems.require(
            (0.0..=1.0).contains(&self.min_confidence),
            "min_confidence",
            || format!("{} must be in [0, 1]", self.min_confidence),
        );
        problems.require(
            self.max_tracked_targets > 0,
            "max_tracked_targets",
            || "must be at least 1",
        );
        problems.require(
            self.mode == DecideMode::Act || self.policy != RULES,
            "mode",
            || "shadow mode runs a learned policy beside the rules: set decide.policy to one",
        );
        problems.require(
            self.step.as_millis() >= 1_000,
            "step",
            || "must be at least 1s",
        );
        for (key, message) in self.serving.problems() {
            problems.require(false, &key, || message);
        }
        for message in self.safety.validate().err().unwrap_or_default() {
            problems.require(false, "safety", || message);
        }
        problems.into_result()
    }

    /// Validates the configuration, loads the learned policy if one is configured, and builds the stage.
    ///
    /// # Errors
    /// Every problem [`DecideConfig::validate`] finds; `decide.policy` when the policy cannot be loaded
    /// or was trained for other features or actions.
    pub fn build(&self) -> Result<Decide, Vec<Problem>> {
        self.validate()?;
        let learned = match policy_dir(&self.policy) {
            None => None,
            Some(dir) => Some(
                ServedPolicy::load(&dir, self.step.as_nanos())
                    .map_err(|e| vec![Problem::new("decide.policy", e)])?,
            ),
        };
        Ok(Decide::new(self, learned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let config: DecideConfig = toml::from_str("cooldown = \"1m\"").expect("parses");
        assert_eq!(config.cooldown, Span::secs(60));
        assert!(config.validate().is_ok());
        let bad: DecideConfig =
            toml::from_str("min_confidence = 2.0\nmax_tracked_targets = 0").expect("parses");
        assert_eq!(bad.validate().expect_err("invalid").len(), 2);
        let shadow_of_rules: DecideConfig = toml::from_str("mode = \"shadow\"").expect("parses");
        assert!(
            shadow_of_rules.validate().is_err(),
            "shadow needs a learned policy"
        );
        let learned: DecideConfig =
            toml::from_str("policy = \"models/policy-ppo\"\nmode = \"shadow\"").expect("parses");
        assert!(learned.build().is_ok(), "the committed PPO policy loads");
        let missing: DecideConfig = toml::from_str("policy = \"/nowhere/policy\"").expect("parses");
        assert!(missing.build().is_err_and(|p| p[0].path == "decide.policy"));
        assert!(
            toml::from_str::<DecideConfig>("cooldown = 1").is_err(),
            "a duration carries its unit"
        );
    }
}
