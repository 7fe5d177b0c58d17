//! [`ActConfig`]: the `[act]` section of a pipeline file.

use crate::{Actuator, CommandIssuer};
use schemas::config::Problems;
use serde::{Deserialize, Serialize};

/// How the actuator applies commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActuatorMode {
    /// Record what would be applied; make no API call. The default.
    Log,
}

impl ActuatorMode {
    /// The mode's name, as written on results.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ActuatorMode::Log => "log",
        }
    }
}

/// Configuration of the command issuer and the actuator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActConfig {
    /// How long a command stays valid after it is issued, in seconds; the actuator rejects it after that.
    /// Default: 600.
    #[serde(default = "default_command_ttl_secs")]
    pub command_ttl_secs: u64,
    /// How the actuator applies commands. Default: `log` (change nothing).
    #[serde(default = "default_mode")]
    pub mode: ActuatorMode,
    /// How many idempotency keys the actuator remembers to refuse replays. Default: 100000.
    #[serde(default = "default_dedup_capacity")]
    pub dedup_capacity: usize,
}

fn default_command_ttl_secs() -> u64 {
    600
}
fn default_mode() -> ActuatorMode {
    ActuatorMode::Log
}
fn default_dedup_capacity() -> usize {
    100_000
}

impl Default for ActConfig {
    fn default() -> Self {
        Self {
            command_ttl_secs: default_command_ttl_secs(),
            mode: default_mode(),
            dedup_capacity: default_dedup_capacity(),
        }
    }
}

impl ActConfig {
    /// Checks the configuration and reports every problem (as `key: problem`).
    ///
    /// # Errors
    /// The list of problems, when there is at least one.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Problems::new("act");
        problems.require(
            self.command_ttl_secs > 0,
            "command_ttl_secs",
            || "must be greater than 0",
        );
        problems.require(
            self.dedup_capacity > 0,
            "dedup_capacity",
            || "must be at least 1",
        );
        problems.into_result()
    }

    /// Validates the configuration and builds the command issuer.
    ///
    /// # Errors
    /// Every problem [`ActConfig::validate`] finds.
    pub fn build_issuer(&self) -> Result<CommandIssuer, Vec<String>> {
        self.validate()?;
        Ok(CommandIssuer::new(self))
    }

    /// Validates the configuration and builds the actuator.
    ///
    /// # Errors
    /// Every problem [`ActConfig::validate`] finds.
    pub fn build_actuator(&self) -> Result<Actuator, Vec<String>> {
        self.validate()?;
        Ok(Actuator::new(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_validates_and_refuses_unknown_modes() {
        let config: ActConfig =
            toml::from_str("command_ttl_secs = 60\nmode = \"log\"").expect("parses");
        assert_eq!(config.mode, ActuatorMode::Log);
        assert!(config.validate().is_ok());
        assert!(toml::from_str::<ActConfig>("mode = \"yolo\"").is_err());
        let bad: ActConfig =
            toml::from_str("command_ttl_secs = 0\ndedup_capacity = 0").expect("parses");
        assert_eq!(bad.validate().expect_err("invalid").len(), 2);
    }
}
