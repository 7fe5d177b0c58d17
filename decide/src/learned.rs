//! [`PolicyNet`]: a saved PPO or DQN policy — `spec.json` (what the network expects) and
//! `model.safetensors` — loaded without candle, checked against this build's features and actions, and
//! scoring a [`DeploymentView`]. The lab trains and saves them; the decide stage serves them.

use crate::features::{ACTION_NAMES, FEATURE_NAMES, N_ACTIONS, N_FEATURES, Remedies, features};
use crate::net::{PlainMlp, masked_argmax, masked_softmax};
use crate::observation::DeploymentView;
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

/// What a saved network expects; a mismatch with this build's features or actions is refused, and so is a
/// field this build does not know (a setting it would otherwise serve the network without).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// `medic-policy@1`, or `medic-policy@2` for a policy whose remedies are not all learned.
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
    /// Who answers a confident diagnosis, in training and in serving (absent: the network).
    #[serde(default, skip_serializing_if = "Remedies::is_learned")]
    pub remedies: Remedies,
}

/// The format of a saved policy's spec whose network answers every diagnosis.
pub const FORMAT: &str = "medic-policy@1";

/// The format of a spec with `remedies` other than learned: builds older than the setting refuse it, rather
/// than serve the network without the answers it was trained with.
pub const FORMAT_WITH_REMEDIES: &str = "medic-policy@2";

/// The format a spec with `remedies` is written in.
#[must_use]
pub fn format_for(remedies: Remedies) -> &'static str {
    if remedies.is_learned() {
        FORMAT
    } else {
        FORMAT_WITH_REMEDIES
    }
}

/// A saved policy's network and spec, acting greedily.
#[derive(Debug, Clone)]
pub struct PolicyNet {
    spec: PolicySpec,
    net: PlainMlp,
}

impl PolicyNet {
    /// Loads the policy saved in `dir` (`spec.json`, `model.safetensors`).
    ///
    /// # Errors
    /// Missing or unreadable files; a spec with a field this build does not know, or whose format does not
    /// match its remedies setting; or a network built for other features or actions than this build's (it
    /// must be retrained: serving must see what training saw).
    pub fn load(dir: &Path) -> Result<Self, String> {
        let spec_path = dir.join("spec.json");
        let text = std::fs::read_to_string(&spec_path)
            .map_err(|e| format!("{}: {e}", spec_path.display()))?;
        let spec: PolicySpec =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", spec_path.display()))?;
        if spec.format != format_for(spec.remedies) {
            return Err(format!(
                "{}: a spec in format {:?} with {} remedies: this build reads {FORMAT} for learned \
                 remedies and {FORMAT_WITH_REMEDIES} for the table's (a spec written by a build that had \
                 the setting but not its format may be relabelled; otherwise retrain it with `medic train \
                 policy`)",
                spec_path.display(),
                spec.format,
                spec.remedies.name().unwrap_or("learned")
            ));
        }
        if spec.features != FEATURE_NAMES
            || spec.actions != ACTION_NAMES
            || spec.sizes.first() != Some(&N_FEATURES)
            || spec.sizes.last() != Some(&N_ACTIONS)
        {
            return Err(format!(
                "{}: this policy was trained for other features or actions than this build of medic: \
                 retrain it with `medic train policy`",
                spec_path.display()
            ));
        }
        let weights = dir.join("model.safetensors");
        let bytes = std::fs::read(&weights).map_err(|e| format!("{}: {e}", weights.display()))?;
        let net = PlainMlp::from_safetensors(&bytes, &spec.network, &spec.sizes)
            .map_err(|e| format!("{}: {e}", weights.display()))?;
        Ok(Self { spec, net })
    }

    /// What it was saved with.
    #[must_use]
    pub fn spec(&self) -> &PolicySpec {
        &self.spec
    }

    /// Its id: algorithm, remedies other than learned, and weights fingerprint (`ppo@df3849ca`,
    /// `ppo+table@2fd0f83f`): the same weights served with other remedies act otherwise, under another id.
    #[must_use]
    pub fn id(&self) -> String {
        let algo = match self.spec.algo {
            Algo::Ppo => "ppo",
            Algo::Dqn => "dqn",
        };
        match self.spec.remedies.name() {
            None => format!("{algo}@{}", self.spec.fingerprint),
            Some(remedies) => format!("{algo}+{remedies}@{}", self.spec.fingerprint),
        }
    }

    /// How to say that the remedy table, not the network, chose action `choice` on `view` (a policy served
    /// with the table's remedies, on a diagnosis the table answers); `None` when the network chose.
    #[must_use]
    pub fn table_answer(&self, view: &DeploymentView, choice: usize) -> Option<String> {
        let signal = view.signal?;
        (self.spec.remedies.imposed(view) == Some(choice)).then(|| {
            format!(
                "the remedy table answers a confident {} diagnosis ({:.2}) with {}",
                signal.fault.as_str(),
                signal.confidence,
                ACTION_NAMES[choice]
            )
        })
    }

    /// The action index and per-action scores (probabilities for PPO, Q-values for DQN) for `view`.
    #[must_use]
    pub fn scores(&self, view: &DeploymentView, steps_since_action: u32) -> (usize, Vec<f32>) {
        let x = features(view, steps_since_action);
        let mask = self.spec.remedies.mask(view);
        let out = self.net.forward(&x);
        let scores = match self.spec.algo {
            Algo::Ppo => masked_softmax(&out, &mask),
            Algo::Dqn => out,
        };
        (masked_argmax(&scores, &mask), scores)
    }
}
