//! [`DiagnoseConfig`]: the `[diagnose]` section of a pipeline file.

use crate::Diagnose;
use schemas::config::Problems;
use serde::{Deserialize, Serialize};

/// Configuration of the diagnose stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagnoseConfig {
    /// A diagnosis with at least this confidence is certain; below it, it is marked `uncertain` and decide
    /// escalates instead of acting. Default: 0.6.
    #[serde(default = "default_min_confidence")]
    pub min_confidence: f64,
    /// Evidence records kept per diagnosis; an episode that reaches this many records without reaching
    /// `min_confidence` is diagnosed as uncertain. Default: 5.
    #[serde(default = "default_max_evidence")]
    pub max_evidence: usize,
    /// Evidence further apart than this (event time) starts a new episode, in seconds. Default: 300.
    #[serde(default = "default_episode_gap_secs")]
    pub episode_gap_secs: u64,
    /// Upper bound on episodes tracked at once; the stalest is forgotten beyond it. Default: 10000.
    #[serde(default = "default_max_episodes")]
    pub max_episodes: usize,
}

fn default_min_confidence() -> f64 {
    0.6
}
fn default_max_evidence() -> usize {
    5
}
fn default_episode_gap_secs() -> u64 {
    300
}
fn default_max_episodes() -> usize {
    10_000
}

impl Default for DiagnoseConfig {
    fn default() -> Self {
        Self {
            min_confidence: default_min_confidence(),
            max_evidence: default_max_evidence(),
            episode_gap_secs: default_episode_gap_secs(),
            max_episodes: default_max_episodes(),
        }
    }
}

impl DiagnoseConfig {
    /// Checks the configuration and reports every problem (as `key: problem`).
    ///
    /// # Errors
    /// The list of problems, when there is at least one.
    pub fn validate(&self) -> Result<(), Vec<String>> {
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
            self.episode_gap_secs > 0,
            "episode_gap_secs",
            || "must be greater than 0",
        );
        problems.require(
            self.max_episodes > 0,
            "max_episodes",
            || "must be at least 1",
        );
        problems.into_result()
    }

    /// Validates the configuration and builds the stage.
    ///
    /// # Errors
    /// Every problem [`DiagnoseConfig::validate`] finds.
    pub fn build(&self) -> Result<Diagnose, Vec<String>> {
        self.validate()?;
        Ok(Diagnose::new(self))
    }
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
