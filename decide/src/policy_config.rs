//! The `[decide]` keys that choose and feed the policy: [`DecideMode`], [`ServingConfig`] and where a
//! learned policy is found ([`policy_dir`]).

use crate::serving::ServedWorkload;
use schemas::Target;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The rule policy's name, the default `decide.policy`.
pub const RULES: &str = "rules@1";

/// Where a learned policy's decisions go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecideMode {
    /// The configured policy decides: its decisions go to `medic.decisions`, and on to the issuer.
    #[default]
    Act,
    /// The rules decide (`medic.decisions`); the learned policy's arbitrated decisions go to
    /// `medic.decisions.shadow`, which nothing acts on, and how often the two agree is counted.
    Shadow,
}

/// What decide is told about the workloads that the cluster does not report: how many requests one pod
/// serves, and the latency and error objectives (what the learned policies' features are scaled by).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServingConfig {
    /// Requests per second one pod serves at full utilisation. Default: 100.
    #[serde(default = "default_pod_rps")]
    pub pod_rps: f64,
    /// The p95 latency objective, milliseconds. Default: 250.
    #[serde(default = "default_sla_p95_ms")]
    pub sla_p95_ms: f64,
    /// The failed share of requests above which the objective is violated. Default: 0.05.
    #[serde(default = "default_max_error_rate")]
    pub max_error_rate: f64,
    /// Workloads whose pods serve at another rate or whose objective differs.
    #[serde(default)]
    pub workloads: Vec<WorkloadServing>,
}

/// One workload's own serving figures (`[[decide.serving.workloads]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadServing {
    /// Its namespace.
    pub namespace: String,
    /// Its name (a Deployment or StatefulSet).
    pub name: String,
    /// Requests per second one of its pods serves. Default: the section's.
    #[serde(default)]
    pub pod_rps: Option<f64>,
    /// Its p95 latency objective, milliseconds. Default: the section's.
    #[serde(default)]
    pub sla_p95_ms: Option<f64>,
}

fn default_pod_rps() -> f64 {
    100.0
}
fn default_sla_p95_ms() -> f64 {
    250.0
}
fn default_max_error_rate() -> f64 {
    0.05
}

impl Default for ServingConfig {
    fn default() -> Self {
        Self {
            pod_rps: default_pod_rps(),
            sla_p95_ms: default_sla_p95_ms(),
            max_error_rate: default_max_error_rate(),
            workloads: Vec::new(),
        }
    }
}

impl ServingConfig {
    /// The serving figures of the workload `target` names.
    #[must_use]
    pub fn of(&self, target: &Target) -> ServedWorkload {
        let own = self
            .workloads
            .iter()
            .find(|w| target.namespace.as_deref() == Some(&w.namespace) && target.name == w.name);
        ServedWorkload {
            pod_rps: own.and_then(|w| w.pod_rps).unwrap_or(self.pod_rps),
            sla_p95_ms: own.and_then(|w| w.sla_p95_ms).unwrap_or(self.sla_p95_ms),
            max_error_rate: self.max_error_rate,
        }
    }

    /// What is wrong with the figures, as `(key, message)`.
    #[must_use]
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.pod_rps) {
            problems.push(("serving.pod_rps".into(), "must be above 0".into()));
        }
        if !positive(self.sla_p95_ms) {
            problems.push(("serving.sla_p95_ms".into(), "must be above 0".into()));
        }
        if !(0.0..=1.0).contains(&self.max_error_rate) {
            problems.push(("serving.max_error_rate".into(), "must be in [0, 1]".into()));
        }
        for (i, w) in self.workloads.iter().enumerate() {
            if !w.pod_rps.is_none_or(positive) || !w.sla_p95_ms.is_none_or(positive) {
                problems.push((
                    format!("serving.workloads[{i}]"),
                    "pod_rps and sla_p95_ms must be above 0".into(),
                ));
            }
        }
        problems
    }
}

/// The directory of the learned policy `policy` names (`None` for the rules): a path, where a relative
/// `models/<name>` not found from the working directory is looked up as the committed model `<name>`.
#[must_use]
pub fn policy_dir(policy: &str) -> Option<PathBuf> {
    if policy == RULES {
        return None;
    }
    let path = Path::new(policy);
    if path.is_relative()
        && !path.join("spec.json").is_file()
        && let Ok(name) = path.strip_prefix("models")
    {
        return Some(schemas::models::model_dir(&name.to_string_lossy()));
    }
    Some(path.to_owned())
}
