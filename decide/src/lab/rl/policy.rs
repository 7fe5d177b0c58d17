//! [`LearnedPolicy`]: a saved PPO or DQN network acting on the twin (or, through the decide stage, on the
//! pipeline), and [`save_policy`], which writes one: `model.safetensors`, `spec.json` (what the network
//! expects) and `card.json` (how it was trained).

use super::features::{
    ACTION_NAMES, FEATURE_NAMES, N_ACTIONS, N_FEATURES, action_for, action_mask,
    advance_since_action, features,
};
use super::net::{Mlp, PlainMlp};
use super::{TrainError, Trained, masked_argmax, masked_softmax};
use crate::lab::control::{Controller, Explanation, Proposal};
use crate::lab::twin::{ClusterView, DeploymentView, TwinAction, TwinCommand};
use schemas::rng::Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The learning algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algo {
    /// Proximal policy optimisation (the network outputs action logits).
    Ppo,
    /// Double DQN (the network outputs Q-values).
    Dqn,
}

/// What a saved network expects; a mismatch with this build's features or actions is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicySpec {
    /// Always `medic-policy@1`.
    pub format: String,
    /// Algorithm.
    pub algo: Algo,
    /// Name of the acting network in the weights file.
    pub network: String,
    /// Layer sizes.
    pub sizes: Vec<usize>,
    /// Feature names, in order.
    pub features: Vec<String>,
    /// Action names, in order.
    pub actions: Vec<String>,
    /// A short fingerprint of the weights (part of the policy id).
    pub fingerprint: String,
}

const FORMAT: &str = "medic-policy@1";

fn io(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Writes `trained` to `dir` with `card` (any JSON: data, settings, history, evaluation).
///
/// # Errors
/// Files that cannot be written.
pub fn save_policy(
    dir: &Path,
    algo: Algo,
    trained: &Trained,
    card: &serde_json::Value,
) -> Result<PolicySpec, TrainError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let weights = dir.join("model.safetensors");
    trained.varmap.save(&weights)?;
    let bytes = std::fs::read(&weights).map_err(|e| io(&weights, e))?;
    let spec = PolicySpec {
        format: FORMAT.to_owned(),
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

/// A saved policy, acting greedily.
#[derive(Debug, Clone)]
pub struct LearnedPolicy {
    spec: PolicySpec,
    net: PlainMlp,
    since_action: Vec<u32>,
}

impl LearnedPolicy {
    /// Loads the policy saved in `dir`.
    ///
    /// # Errors
    /// Missing or unreadable files, or a network built for other features or actions.
    pub fn load(dir: &Path) -> Result<Self, TrainError> {
        let spec_path = dir.join("spec.json");
        let text = std::fs::read_to_string(&spec_path).map_err(|e| io(&spec_path, e))?;
        let spec: PolicySpec = serde_json::from_str(&text).map_err(|e| io(&spec_path, e))?;
        if spec.format != FORMAT
            || spec.features != FEATURE_NAMES
            || spec.actions != ACTION_NAMES
            || spec.sizes.first() != Some(&N_FEATURES)
            || spec.sizes.last() != Some(&N_ACTIONS)
        {
            return Err(io(
                &spec_path,
                "this policy was trained for other features or actions than this build of medic: retrain it with `medic train policy`",
            ));
        }
        let mut varmap = candle_nn::VarMap::new();
        let mlp = Mlp::new(&varmap, &spec.network, &spec.sizes, &mut Rng::new(0), 1.0)?;
        let weights = dir.join("model.safetensors");
        varmap.load(&weights).map_err(|e| io(&weights, e))?;
        let net = mlp.to_plain()?;
        Ok(Self {
            spec,
            net,
            since_action: Vec::new(),
        })
    }

    /// What it was saved with.
    #[must_use]
    pub fn spec(&self) -> &PolicySpec {
        &self.spec
    }

    /// The action index and per-action scores (probabilities for PPO, Q-values for DQN) for `view`.
    #[must_use]
    pub fn scores(&self, view: &DeploymentView, steps_since_action: u32) -> (usize, Vec<f32>) {
        let x = features(view, steps_since_action);
        let mask = action_mask(view);
        let out = self.net.forward(&x);
        let scores = match self.spec.algo {
            Algo::Ppo => masked_softmax(&out, &mask),
            Algo::Dqn => out,
        };
        (masked_argmax(&scores, &mask), scores)
    }
}

impl Controller for LearnedPolicy {
    fn id(&self) -> String {
        let algo = match self.spec.algo {
            Algo::Ppo => "ppo",
            Algo::Dqn => "dqn",
        };
        format!("{algo}@{}", self.spec.fingerprint)
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
                let mut explanation = Explanation::new(
                    &id,
                    format!("{} scored highest", ACTION_NAMES[a]),
                    view.signal,
                );
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
