//! [`EnrichConfig`]: the `[enrich]` section of a pipeline file.

use crate::Enrich;
use crate::grok_rules::{GrokRule, GrokRules};
use schemas::config::Problems;
use serde::{Deserialize, Serialize};

/// Configuration of the enrich stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichConfig {
    /// Length of the tumbling event-time windows, in seconds. Default: 60.
    #[serde(default = "default_window_secs")]
    pub window_secs: u64,
    /// How far event time may run behind the newest record before a window closes, in seconds.
    /// Records later than that still get a template but are not counted in a window. Default: 10.
    #[serde(default = "default_allowed_lateness_secs")]
    pub allowed_lateness_secs: u64,
    /// How many of the most frequent templates a window reports. Default: 5.
    #[serde(default = "default_top_templates")]
    pub top_templates: usize,
    /// Upper bound on open windows (workloads × windows); beyond it the oldest window is closed early.
    /// Default: 10000.
    #[serde(default = "default_max_open_windows")]
    pub max_open_windows: usize,
    /// Grok rules (`[[enrich.grok]]`): the first rule whose topic fits and whose pattern matches adds its
    /// named captures to the record's attributes as `grok.<name>`. Default: none.
    #[serde(default)]
    pub grok: Vec<GrokRule>,
}

fn default_window_secs() -> u64 {
    60
}
fn default_allowed_lateness_secs() -> u64 {
    10
}
fn default_top_templates() -> usize {
    5
}
fn default_max_open_windows() -> usize {
    10_000
}

impl Default for EnrichConfig {
    fn default() -> Self {
        Self {
            window_secs: default_window_secs(),
            allowed_lateness_secs: default_allowed_lateness_secs(),
            top_templates: default_top_templates(),
            max_open_windows: default_max_open_windows(),
            grok: Vec::new(),
        }
    }
}

impl EnrichConfig {
    /// Checks the configuration and reports every problem (as `key: problem`).
    ///
    /// # Errors
    /// The list of problems, when there is at least one.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Problems::new("enrich");
        problems.require(
            (1..=86_400).contains(&self.window_secs),
            "window_secs",
            || format!("{} must be between 1 and 86400", self.window_secs),
        );
        problems.require(
            self.allowed_lateness_secs <= 86_400,
            "allowed_lateness_secs",
            || format!("{} exceeds 86400", self.allowed_lateness_secs),
        );
        problems.require(
            self.top_templates > 0,
            "top_templates",
            || "must be at least 1",
        );
        problems.require(
            self.max_open_windows > 0,
            "max_open_windows",
            || "must be at least 1",
        );
        let mut problems = problems.into_result().err().unwrap_or_default();
        problems.extend(GrokRules::compile(&self.grok).err().unwrap_or_default());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Validates the configuration and builds the stage.
    ///
    /// # Errors
    /// Every problem [`EnrichConfig::validate`] finds.
    pub fn build(&self) -> Result<Enrich, Vec<String>> {
        self.validate()?;
        Ok(Enrich::new(self, GrokRules::compile(&self.grok)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let config: EnrichConfig = toml::from_str("window_secs = 30").expect("parses");
        assert_eq!((config.window_secs, config.allowed_lateness_secs), (30, 10));
        let bad: EnrichConfig =
            toml::from_str("window_secs = 0\ntop_templates = 0").expect("parses");
        assert_eq!(bad.validate().expect_err("invalid").len(), 2);
        assert!(
            toml::from_str::<EnrichConfig>("window = 3").is_err(),
            "unknown keys are refused"
        );
    }
}
