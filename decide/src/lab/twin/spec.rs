//! [`ClusterSpec`]: the nodes and deployments of a simulated cluster (TOML, with a built-in default).

use serde::{Deserialize, Serialize};

/// A node: what the scheduler can place on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Node name, e.g. `node-1`.
    pub name: String,
    /// Allocatable CPU, millicores.
    pub cpu_millis: u32,
    /// Allocatable memory, MiB.
    pub memory_mib: u32,
}

/// A deployment: its pods' size and speed, its scaling bounds and its service level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSpec {
    /// Deployment name.
    pub name: String,
    /// Namespace.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Replicas at the start.
    pub replicas: u32,
    /// Fewest replicas any autoscaler may leave.
    pub min_replicas: u32,
    /// Most replicas any autoscaler may ask for.
    pub max_replicas: u32,
    /// Requests per second one ready pod serves at full utilisation.
    pub pod_rps: f64,
    /// CPU request of a pod, millicores (a pod at full utilisation uses exactly this).
    pub cpu_request_millis: u32,
    /// Memory request (and limit) of a pod, MiB.
    pub memory_request_mib: u32,
    /// Seconds from container start to ready (readiness probe passes).
    pub startup_secs: f64,
    /// Seconds to pull the image on a node that has not run this deployment yet.
    pub image_pull_secs: f64,
    /// Latency of a request on an idle pod, milliseconds.
    pub base_latency_ms: f64,
    /// The service level: p95 latency must stay at or under this many milliseconds.
    pub sla_p95_ms: f64,
    /// Share of the trace's request rate this deployment receives.
    pub traffic_share: f64,
}

fn default_namespace() -> String {
    "shop".to_owned()
}

/// The simulated cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Simulated seconds per step (policies decide once per step). Default 30.
    #[serde(default = "default_step_secs")]
    pub step_secs: f64,
    /// Share of requests that may fail before a minute counts as violating the SLA. Default 0.01.
    #[serde(default = "default_max_error_rate")]
    pub max_error_rate: f64,
    /// Nodes.
    pub nodes: Vec<NodeSpec>,
    /// Deployments.
    pub deployments: Vec<DeploymentSpec>,
}

fn default_step_secs() -> f64 {
    30.0
}
fn default_max_error_rate() -> f64 {
    0.01
}

impl Default for ClusterSpec {
    /// Four 8-core nodes running a three-service shop (frontend → catalog, checkout).
    fn default() -> Self {
        let node = |i: u32| NodeSpec {
            name: format!("node-{i}"),
            cpu_millis: 8_000,
            memory_mib: 32_768,
        };
        let deployment = |name: &str, replicas, max, pod_rps, share| DeploymentSpec {
            name: name.to_owned(),
            namespace: default_namespace(),
            replicas,
            min_replicas: 2,
            max_replicas: max,
            pod_rps,
            cpu_request_millis: 500,
            memory_request_mib: 512,
            startup_secs: 40.0,
            image_pull_secs: 20.0,
            base_latency_ms: 20.0,
            sla_p95_ms: 250.0,
            traffic_share: share,
        };
        Self {
            step_secs: default_step_secs(),
            max_error_rate: default_max_error_rate(),
            nodes: (1..=4).map(node).collect(),
            deployments: vec![
                deployment("frontend", 6, 30, 100.0, 1.0),
                deployment("catalog", 4, 20, 120.0, 0.6),
                deployment("checkout", 3, 16, 50.0, 0.2),
            ],
        }
    }
}

impl ClusterSpec {
    /// Reads a cluster file.
    ///
    /// # Errors
    /// Unreadable or invalid files, with every problem listed.
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read cluster file {}: {e}", path.display()))?;
        let spec: Self =
            toml::from_str(&text).map_err(|e| format!("cluster file {}: {e}", path.display()))?;
        spec.validate().map_err(|problems| {
            format!("cluster file {}: {}", path.display(), problems.join("; "))
        })?;
        Ok(spec)
    }

    /// Checks bounds and references.
    ///
    /// # Errors
    /// Every problem found.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.nodes.is_empty() || self.deployments.is_empty() {
            problems.push("a cluster needs at least one node and one deployment".to_owned());
        }
        if !(self.step_secs >= 1.0 && self.step_secs <= 600.0) {
            problems.push(format!("step_secs {} must be in [1, 600]", self.step_secs));
        }
        for d in &self.deployments {
            if !(d.min_replicas >= 1
                && d.min_replicas <= d.replicas
                && d.replicas <= d.max_replicas)
            {
                problems.push(format!(
                    "deployment {}: need 1 <= min_replicas <= replicas <= max_replicas",
                    d.name
                ));
            }
            if !(d.pod_rps > 0.0 && d.sla_p95_ms > d.base_latency_ms && d.traffic_share >= 0.0) {
                problems.push(format!(
                    "deployment {}: pod_rps must be > 0, sla_p95_ms > base_latency_ms, traffic_share >= 0",
                    d.name
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_round_trips() {
        let spec = ClusterSpec::default();
        assert_eq!(spec.validate(), Ok(()));
        let text = toml::to_string(&spec).expect("serialises");
        assert_eq!(toml::from_str::<ClusterSpec>(&text).expect("parses"), spec);
        let mut bad = spec;
        bad.deployments[0].min_replicas = 0;
        bad.step_secs = 0.0;
        assert_eq!(bad.validate().expect_err("invalid").len(), 2);
    }
}
