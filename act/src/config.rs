//! [`ActConfig`]: the `[act]` section of a pipeline file.

use crate::kubernetes::KubeBackend;
use crate::safety::SafetyLimits;
use crate::signing::{KEYS_ENV, KeyRing};
use crate::{Actuator, CommandIssuer};
use schemas::actuate::Actuate;
use schemas::config::{Problem, Problems};
use schemas::span::Span;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::OnceLock;

/// How the actuator applies commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActuatorMode {
    /// Record what would be applied; make no API call. The default.
    Log,
    /// Send every change with `dryRun=All`: the API server validates and admits it, nothing persists.
    ServerDryRun,
    /// Apply the change, then verify the target becomes healthy.
    Apply,
}

impl ActuatorMode {
    /// The mode's name, as written on results.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ActuatorMode::Log => "log",
            ActuatorMode::ServerDryRun => "server-dry-run",
            ActuatorMode::Apply => "apply",
        }
    }
}

impl std::str::FromStr for ActuatorMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            ActuatorMode::Log,
            ActuatorMode::ServerDryRun,
            ActuatorMode::Apply,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
        .ok_or_else(|| format!("unknown mode {s:?}; expected log, server-dry-run or apply"))
    }
}

/// Configuration of the command issuer and the actuator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActConfig {
    /// How long a command stays valid after it is issued; the actuator rejects it after that.
    /// Default: `10m`.
    #[serde(default = "default_command_ttl")]
    pub command_ttl: Span,
    /// The actuator refuses a command valid for longer than this after it was issued (whatever its
    /// signer chose), or issued more than 5 minutes in the future. Default: `1h`.
    #[serde(default = "default_max_command_ttl")]
    pub max_command_ttl: Span,
    /// The cluster this actuator acts on: a command whose target names another cluster is refused.
    /// Default: none (targets are not checked for a cluster).
    #[serde(default)]
    pub cluster: Option<String>,
    /// How the actuator applies commands. Default: `log` (change nothing).
    #[serde(default = "default_mode")]
    pub mode: ActuatorMode,
    /// How many idempotency keys the actuator remembers to refuse replays. Default: 100000.
    #[serde(default = "default_dedup_capacity")]
    pub dedup_capacity: usize,
    /// The command keys, one per line (see [`crate::signing`]): the issuer's private Ed25519 keys (the
    /// first signs), the actuator's their public halves. When absent, the environment variable
    /// `MEDIC_COMMAND_KEYS` is read; when that is unset too, `log` mode uses a key known to this process
    /// only, and the other modes refuse to start.
    #[serde(default)]
    pub keys_file: Option<PathBuf>,
    /// The issuer signs with this key id instead of the first one (the actuator ignores it).
    #[serde(default)]
    pub signing_key_id: Option<String>,
    /// Refuse unsigned commands. Default: true.
    #[serde(default = "default_true")]
    pub require_signature: bool,
    /// File of handled idempotency keys, so a restarted actuator never applies a command twice.
    /// Default: none (memory only; required in `apply` mode).
    #[serde(default)]
    pub journal: Option<PathBuf>,
    /// Kubeconfig for `server-dry-run` and `apply`. Default: `KUBECONFIG`, `~/.kube/config`, or the
    /// in-cluster service account.
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    /// How long to wait for the target to become healthy after applying. Default: `2m`.
    #[serde(default = "default_verify_timeout")]
    pub verify_timeout: Span,
    /// How often to look at the target while verifying. Default: `1s`.
    #[serde(default = "default_verify_interval")]
    pub verify_interval: Span,
    /// Undo a change whose verification failed, where a safe undo exists (a scale goes back to the
    /// previous count). Default: true.
    #[serde(default = "default_true")]
    pub compensate: bool,
    /// Allowlists, rate limits and blast radius.
    #[serde(default)]
    pub safety: SafetyLimits,
}

fn default_command_ttl() -> Span {
    Span::secs(600)
}
fn default_max_command_ttl() -> Span {
    Span::secs(3600)
}
fn default_mode() -> ActuatorMode {
    ActuatorMode::Log
}
fn default_dedup_capacity() -> usize {
    100_000
}
fn default_true() -> bool {
    true
}
fn default_verify_timeout() -> Span {
    Span::secs(120)
}
fn default_verify_interval() -> Span {
    Span::secs(1)
}

impl Default for ActConfig {
    fn default() -> Self {
        Self {
            command_ttl: default_command_ttl(),
            max_command_ttl: default_max_command_ttl(),
            cluster: None,
            mode: default_mode(),
            dedup_capacity: default_dedup_capacity(),
            keys_file: None,
            signing_key_id: None,
            require_signature: true,
            journal: None,
            kubeconfig: None,
            verify_timeout: default_verify_timeout(),
            verify_interval: default_verify_interval(),
            compensate: true,
            safety: SafetyLimits::default(),
        }
    }
}

impl ActConfig {
    /// Checks the configuration and reports every problem, under `act.<key>`.
    ///
    /// # Errors
    /// The list of problems, when there is at least one.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut problems = Problems::new("act");
        problems.require(
            self.command_ttl > Span::millis(0),
            "command_ttl",
            || "must be longer than 0ms",
        );
        problems.require(
            self.command_ttl <= self.max_command_ttl,
            "command_ttl",
            || {
                format!(
                    "{} exceeds max_command_ttl ({}): the actuator would refuse every command",
                    self.command_ttl, self.max_command_ttl
                )
            },
        );
        problems.require(
            self.dedup_capacity > 0,
            "dedup_capacity",
            || "must be at least 1",
        );
        problems.require(
            self.verify_interval > Span::millis(0),
            "verify_interval",
            || "must be longer than 0ms",
        );
        problems.require(
            self.mode != ActuatorMode::Apply || self.journal.is_some(),
            "journal",
            || "required in apply mode: without it a restarted actuator could apply a command twice",
        );
        self.safety.check(&mut problems);
        problems.into_result()
    }

    /// The keys: `keys_file`, else `MEDIC_COMMAND_KEYS`, else (log mode only) a per-process key.
    ///
    /// # Errors
    /// When the keys cannot be read, or none are configured outside `log` mode.
    pub fn keys(&self) -> Result<KeyRing, Vec<Problem>> {
        let bad = |e: &dyn std::fmt::Display| vec![Problem::new("act.keys_file", e)];
        let ring = match &self.keys_file {
            Some(path) => KeyRing::from_file(path).map_err(|e| bad(&e))?,
            None => match KeyRing::from_env(KEYS_ENV).map_err(|e| bad(&e))? {
                Some(ring) => ring,
                None if self.mode == ActuatorMode::Log => process_key(),
                None => {
                    return Err(vec![Problem::new(
                        "act.keys_file",
                        format!(
                            "required in {} mode (or set {KEYS_ENV})",
                            self.mode.as_str()
                        ),
                    )]);
                }
            },
        };
        Ok(ring)
    }

    /// Validates the configuration and builds the command issuer.
    ///
    /// # Errors
    /// Every problem [`ActConfig::validate`] finds, or unusable keys.
    pub fn build_issuer(&self) -> Result<CommandIssuer, Vec<Problem>> {
        self.validate()?;
        let ring = self.keys()?;
        let ring = match &self.signing_key_id {
            Some(id) => ring
                .signing_with(id)
                .map_err(|e| vec![Problem::new("act.signing_key_id", e)])?,
            None => ring,
        };
        let signer = ring
            .signer()
            .map_err(|e| vec![Problem::new("act.keys_file", e)])?;
        Ok(CommandIssuer::new(self, signer))
    }

    /// Validates the configuration and builds the actuator for its mode: `log` needs nothing,
    /// `server-dry-run` and `apply` connect to Kubernetes.
    ///
    /// # Errors
    /// Every problem [`ActConfig::validate`] finds, unusable keys or journal, or no cluster.
    pub fn build_actuator(&self) -> Result<Actuator, Vec<Problem>> {
        let backend: Option<Box<dyn Actuate>> = match self.mode {
            ActuatorMode::Log => None,
            mode => Some(Box::new(
                KubeBackend::connect(
                    self.kubeconfig.as_deref(),
                    mode == ActuatorMode::ServerDryRun,
                )
                .map_err(|e| vec![Problem::new("act.kubeconfig", e)])?
                .protecting(self.safety.denied_namespaces.clone()),
            )),
        };
        self.build_actuator_on(backend)
    }

    /// Validates the configuration and builds the actuator on `backend` (the digital twin, a test
    /// double); `None` records commands without applying them (`log` mode).
    ///
    /// # Errors
    /// Every problem [`ActConfig::validate`] finds, unusable keys or journal.
    pub fn build_actuator_on(
        &self,
        backend: Option<Box<dyn Actuate>>,
    ) -> Result<Actuator, Vec<Problem>> {
        self.validate()?;
        Actuator::new(self, self.keys()?, backend)
    }
}

/// The key shared by every issuer and actuator of this process when none is configured (`log` mode).
fn process_key() -> KeyRing {
    static KEY: OnceLock<KeyRing> = OnceLock::new();
    KEY.get_or_init(|| {
        tracing::warn!(
            "no command keys configured (act.keys_file, {KEYS_ENV}): using a key known to this \
             process only; an actuator in another process will reject these commands"
        );
        KeyRing::ephemeral()
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_validates_and_refuses_unknown_modes() {
        let config: ActConfig =
            toml::from_str("command_ttl = \"1m\"\nmode = \"log\"").expect("parses");
        assert_eq!(config.mode, ActuatorMode::Log);
        assert!(config.validate().is_ok());
        assert!(toml::from_str::<ActConfig>("mode = \"yolo\"").is_err());
        let bad: ActConfig =
            toml::from_str("command_ttl = \"0s\"\ndedup_capacity = 0").expect("parses");
        assert_eq!(bad.validate().expect_err("invalid").len(), 2);
        let apply: ActConfig = toml::from_str(
            "mode = \"apply\"\n[safety]\nmax_scale_down_fraction = 2.0\nallowed_namespaces = [\"shop\"]",
        )
        .expect("parses");
        let problems = apply.validate().expect_err("invalid");
        assert!(
            problems.iter().any(|p| p.path == "act.journal"),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.path == "act.safety.max_scale_down_fraction"),
            "{problems:?}"
        );
        assert_eq!("server-dry-run".parse(), Ok(ActuatorMode::ServerDryRun));
    }

    #[test]
    fn keys_are_required_outside_log_mode() {
        let log = ActConfig::default();
        assert!(log.keys().is_ok(), "log mode falls back to a process key");
        assert_eq!(
            log.keys().expect("keys").signing_key_id(),
            process_key().signing_key_id()
        );
        let dry = ActConfig {
            mode: ActuatorMode::ServerDryRun,
            keys_file: Some("/nonexistent/keys".into()),
            ..ActConfig::default()
        };
        let problems = dry.keys().expect_err("unreadable");
        assert!(
            problems[0].message.contains("/nonexistent/keys"),
            "{problems:?}"
        );
    }
}
