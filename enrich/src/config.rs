//! [`EnrichConfig`]: the `[enrich]` section of a pipeline file.

use crate::Enrich;
use crate::drain::DrainConfig;
use crate::grok_rules::{GrokRule, GrokRules};
use crate::windows::{WindowOperator, WindowSpec};
use schemas::config::{Problem, Problems};
use serde::{Deserialize, Serialize};

/// Configuration of the enrich stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichConfig {
    /// Most templates the miner keeps; once reached, messages that fit no template are masked on their
    /// own (counted as `enrich.miner_full`). Bounds memory and checkpoint size. Default: 20000.
    #[serde(default = "default_max_templates")]
    pub max_templates: usize,
    /// Event-time window definitions (`[[enrich.windows]]`). Default: one 1-minute tumbling window per
    /// workload named `workload`.
    #[serde(default = "default_windows")]
    pub windows: Vec<WindowSpec>,
    /// Grok rules (`[[enrich.grok]]`): the first rule whose topic fits and whose pattern matches adds its
    /// named captures to the record's attributes as `grok.<name>`. Default: none.
    #[serde(default)]
    pub grok: Vec<GrokRule>,
    /// Emit every open window when the stage stops: only for a finite input read once (a replay). A
    /// long-running pipeline must not: its restarted stage restores the open windows from the checkpoint
    /// and would emit them a second time. Not a pipeline-file key.
    #[serde(skip)]
    pub flush_on_close: bool,
}

fn default_max_templates() -> usize {
    DrainConfig::default().max_clusters
}
fn default_windows() -> Vec<WindowSpec> {
    vec![WindowSpec::default()]
}

impl Default for EnrichConfig {
    fn default() -> Self {
        Self {
            max_templates: default_max_templates(),
            windows: default_windows(),
            grok: Vec::new(),
            flush_on_close: false,
        }
    }
}

impl EnrichConfig {
    /// Checks the configuration and reports every problem, under `enrich.<key>`.
    ///
    /// # Errors
    /// The list of problems, when there is at least one.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        self.compile().map(|_| ())
    }

    /// Validates the configuration and builds the stage.
    ///
    /// # Errors
    /// Every problem [`EnrichConfig::validate`] finds.
    pub fn build(&self) -> Result<Enrich, Vec<Problem>> {
        let (grok, windows) = self.compile()?;
        let miner = DrainConfig {
            max_clusters: self.max_templates,
            ..DrainConfig::default()
        };
        Ok(Enrich::new(miner, grok, windows).flushing_on_close(self.flush_on_close))
    }

    /// Compiles grok rules and plans window queries, collecting every problem.
    fn compile(&self) -> Result<(GrokRules, Vec<WindowOperator>), Vec<Problem>> {
        let mut problems = Problems::new("enrich");
        problems.require(
            self.max_templates > 0,
            "max_templates",
            || "must be at least 1",
        );
        let mut names = std::collections::BTreeSet::new();
        let mut windows = Vec::new();
        for (i, spec) in self.windows.iter().enumerate() {
            let spec_problems = spec.problems(i);
            if !names.insert(spec.name.as_str()) {
                problems.push(
                    &format!("windows[{i}].name"),
                    format!("{:?} is used twice", spec.name),
                );
            }
            if !spec_problems.is_empty() {
                problems.extend(spec_problems);
                continue;
            }
            match WindowOperator::new(spec.clone()) {
                Ok(operator) => windows.push(operator),
                Err(error) => problems.push(&format!("windows[{i}].sql"), error),
            }
        }
        match GrokRules::compile(&self.grok) {
            Ok(grok) if problems.is_empty() => Ok((grok, windows)),
            Ok(_) => Err(problems.into_vec()),
            Err(grok_problems) => {
                problems.extend(grok_problems);
                Err(problems.into_vec())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::windows::LatePolicy;

    #[test]
    fn defaults_and_validation() {
        let config: EnrichConfig = toml::from_str(
            r#"
            [[windows]]
            name = "errors_5m"
            size = "5m"
            slide = "1m"
            late_records = "update"
            by_template = true
            "#,
        )
        .expect("parses");
        let spec = &config.windows[0];
        assert_eq!(spec.slide_ns(), 60_000_000_000);
        assert_eq!(spec.allowed_lateness.to_string(), "10s");
        assert_eq!(spec.late_records, LatePolicy::Update);
        assert!(config.validate().is_ok());
        assert_eq!(EnrichConfig::default().windows.len(), 1);

        let bad: EnrichConfig = toml::from_str(
            r#"
            max_templates = 0
            [[windows]]
            size = "1m"
            slide = "7s"
            [[windows]]
            sql = "SELECT 1"
            "#,
        )
        .expect("parses");
        let problems = bad.validate().expect_err("invalid");
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert_eq!(problems[0].path, "enrich.max_templates");
        assert!(problems.iter().any(|p| p.path == "enrich.windows[0].slide"));
        assert!(problems.iter().any(|p| p.message.contains("used twice")));
        assert!(problems.iter().any(|p| p.path == "enrich.windows[1].sql"));
        assert!(
            toml::from_str::<EnrichConfig>("window = 3").is_err(),
            "unknown keys are refused"
        );
        assert!(
            toml::from_str::<EnrichConfig>("[[windows]]\nsize = \"60\"").is_err(),
            "durations need a unit"
        );
    }
}
