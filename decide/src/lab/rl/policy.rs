//! [`LearnedPolicy`]: a saved PPO or DQN network ([`PolicyNet`]) acting on the twin as a
//! [`Controller`], and [`save_policy`], which writes one: `model.safetensors`, `spec.json` (what the
//! network expects) and `card.json` (how it was trained).

use super::features::{
    ACTION_NAMES, FEATURE_NAMES, Remedies, action_for, advance_since_action, features,
};
use super::{TrainError, Trained};
use crate::lab::control::{Controller, Explanation, Proposal};
use crate::lab::twin::{ClusterView, DeploymentView, TwinAction, TwinCommand};
pub use crate::learned::{Algo, PolicyNet, PolicySpec, format_for};
use std::path::Path;

fn io(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Writes `trained` to `dir`, served with `remedies` as it was trained, and `card` (any JSON: data,
/// settings, history, evaluation).
///
/// # Errors
/// Files that cannot be written.
pub fn save_policy(
    dir: &Path,
    algo: Algo,
    trained: &Trained,
    remedies: Remedies,
    card: &serde_json::Value,
) -> Result<PolicySpec, TrainError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let weights = dir.join("model.safetensors");
    trained.varmap.save(&weights)?;
    let bytes = std::fs::read(&weights).map_err(|e| io(&weights, e))?;
    let spec = PolicySpec {
        format: format_for(remedies).to_owned(),
        algo,
        network: trained.network.clone(),
        sizes: trained.sizes.clone(),
        features: FEATURE_NAMES.iter().map(|s| (*s).to_owned()).collect(),
        actions: ACTION_NAMES.iter().map(|s| (*s).to_owned()).collect(),
        fingerprint: format!(
            "{:016x}",
            schemas::id::stable_hash(&[&String::from_utf8_lossy(&bytes)])
        )[..8]
            .to_owned(),
        remedies,
    };
    let write_json = |name: &str, value: &dyn erased::Json| {
        let path = dir.join(name);
        std::fs::write(&path, value.pretty()).map_err(|e| io(&path, e))
    };
    write_json("spec.json", &spec)?;
    write_json("card.json", card)?;
    Ok(spec)
}

mod erased {
    /// Pretty JSON of anything serialisable (object-safe).
    pub trait Json {
        fn pretty(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn pretty(&self) -> String {
            serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
        }
    }
}

/// A saved policy, acting greedily on the twin.
#[derive(Debug, Clone)]
pub struct LearnedPolicy {
    net: PolicyNet,
    since_action: Vec<u32>,
}

impl LearnedPolicy {
    /// Loads the policy saved in `dir`.
    ///
    /// # Errors
    /// Missing or unreadable files, or a network built for other features or actions.
    pub fn load(dir: &Path) -> Result<Self, TrainError> {
        let net = PolicyNet::load(dir).map_err(|message| TrainError::Io {
            path: dir.display().to_string(),
            message,
        })?;
        Ok(Self {
            net,
            since_action: Vec::new(),
        })
    }

    /// What it was saved with.
    #[must_use]
    pub fn spec(&self) -> &PolicySpec {
        self.net.spec()
    }

    /// The action index and per-action scores (probabilities for PPO, Q-values for DQN) for `view`.
    #[must_use]
    pub fn scores(&self, view: &DeploymentView, steps_since_action: u32) -> (usize, Vec<f32>) {
        self.net.scores(view, steps_since_action)
    }
}

impl Controller for LearnedPolicy {
    fn id(&self) -> String {
        self.net.id()
    }

    fn propose(&mut self, views: &[DeploymentView], _cluster: &ClusterView) -> Vec<Proposal> {
        self.since_action.resize(views.len(), 0);
        let id = self.id();
        views
            .iter()
            .map(|view| {
                let since = self.since_action[view.deployment];
                let (a, scores) = self.scores(view, since);
                let action = action_for(a, view).unwrap_or(TwinAction::Noop);
                let x = features(view, since);
                let mut inputs: Vec<(String, f64)> = FEATURE_NAMES
                    .iter()
                    .zip(x)
                    .filter(|(_, v)| *v != 0.0)
                    .map(|(n, v)| ((*n).to_owned(), f64::from(v)))
                    .collect();
                inputs.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
                inputs.truncate(6);
                let why = self
                    .net
                    .table_answer(view, a)
                    .unwrap_or_else(|| format!("{} scored highest", ACTION_NAMES[a]));
                let mut explanation = Explanation::new(&id, why, view.signal);
                explanation.inputs = inputs;
                explanation.scores = ACTION_NAMES
                    .iter()
                    .zip(&scores)
                    .map(|(n, s)| ((*n).to_owned(), f64::from(*s)))
                    .collect();
                Proposal {
                    command: TwinCommand {
                        deployment: view.deployment,
                        action,
                    },
                    explanation,
                }
            })
            .collect()
    }

    fn applied(&mut self, commands: &[TwinCommand]) {
        advance_since_action(&mut self.since_action, commands);
    }
}
