//! [`Scenario`]: the faults a simulation injects, read from TOML.
//!
//! ```toml
//! [[fault]]
//! kind = "memory_leak"        # memory_leak | bad_rollout | node_failure | disk_pressure
//! at = "2h"                   # | dependency_outage | traffic_spike
//! deployment = "checkout"     # node faults take `node = "node-2"` instead
//! duration = "40m"            # how long the cause lasts if nobody fixes it (default per kind)
//!
//! [random]                    # optional: faults drawn from the seed (used for training)
//! mean_interval = "3h"
//! kinds = ["memory_leak", "traffic_spike"]
//! ```

use super::ClusterSpec;
use schemas::rng::Rng;
use schemas::span::Span;
use serde::{Deserialize, Serialize};

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Pods' memory grows until they are OOM-killed, over and over (crash loop with back-off); cured by a
    /// rollout restart (which also raises the limit).
    MemoryLeak,
    /// A new revision that cannot start: the rolling update stalls with crash-looping pods; cured by a
    /// rollback. A rollout restart puts every pod on the broken revision.
    BadRollout,
    /// A node stops (NotReady); its pods stop serving. Kubernetes evicts them after 300 s; cordon + drain
    /// moves them at once.
    NodeFailure,
    /// A node's disk fills: its pods slow down and the kubelet evicts them one at a time; cordon + drain
    /// moves them at once.
    DiskPressure,
    /// A dependency fails half the deployment's requests; nothing local fixes it: wait (or escalate).
    DependencyOutage,
    /// Traffic to the deployment multiplies; more replicas are the remedy.
    TrafficSpike,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 6] = [
        FaultKind::MemoryLeak,
        FaultKind::BadRollout,
        FaultKind::NodeFailure,
        FaultKind::DiskPressure,
        FaultKind::DependencyOutage,
        FaultKind::TrafficSpike,
    ];

    /// Whether the fault is on a node (else on a deployment).
    #[must_use]
    pub const fn on_node(self) -> bool {
        matches!(self, FaultKind::NodeFailure | FaultKind::DiskPressure)
    }

    /// Whether some action of the cluster's can end it: every kind but a dependency outage, which lasts
    /// as long as the dependency is down.
    #[must_use]
    pub const fn is_fixable(self) -> bool {
        !matches!(self, FaultKind::DependencyOutage)
    }

    /// How long the cause lasts when nobody fixes it, seconds (leaks and bad rollouts last until fixed).
    #[must_use]
    pub const fn default_duration_secs(self) -> f64 {
        match self {
            FaultKind::MemoryLeak | FaultKind::BadRollout => f64::INFINITY,
            FaultKind::NodeFailure => 3_600.0,
            FaultKind::DiskPressure => 2_400.0,
            FaultKind::DependencyOutage => 900.0,
            FaultKind::TrafficSpike => 1_800.0,
        }
    }

    /// The snake_case name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            FaultKind::MemoryLeak => "memory_leak",
            FaultKind::BadRollout => "bad_rollout",
            FaultKind::NodeFailure => "node_failure",
            FaultKind::DiskPressure => "disk_pressure",
            FaultKind::DependencyOutage => "dependency_outage",
            FaultKind::TrafficSpike => "traffic_spike",
        }
    }
}

/// One fault of a scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// What goes wrong.
    pub kind: FaultKind,
    /// When, from the start of the simulation.
    pub at: Span,
    /// The deployment it hits (deployment faults; default: the first deployment).
    #[serde(default)]
    pub deployment: Option<String>,
    /// The node it hits (node faults; default: the first node).
    #[serde(default)]
    pub node: Option<String>,
    /// How long the cause lasts unless fixed (default per kind).
    #[serde(default)]
    pub duration: Option<Span>,
    /// Traffic multiplier of a spike (default 3).
    #[serde(default)]
    pub factor: Option<f64>,
}

/// Faults drawn at random from the seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomFaults {
    /// Mean time between faults (exponential gaps).
    pub mean_interval: Span,
    /// Kinds to draw from (default: all).
    #[serde(default = "all_kinds")]
    pub kinds: Vec<FaultKind>,
}

fn all_kinds() -> Vec<FaultKind> {
    FaultKind::ALL.to_vec()
}

/// A scenario file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Faults at fixed times.
    #[serde(default, rename = "fault")]
    pub faults: Vec<FaultSpec>,
    /// Faults drawn from the seed.
    #[serde(default)]
    pub random: Option<RandomFaults>,
}

/// A fault placed on the timeline with a resolved target.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFault {
    /// What goes wrong.
    pub kind: FaultKind,
    /// Start, simulated seconds.
    pub at_secs: f64,
    /// How long the cause lasts unless fixed, seconds (infinite for leaks and bad rollouts).
    pub duration_secs: f64,
    /// Deployment index (deployment faults).
    pub deployment: Option<usize>,
    /// Node index (node faults).
    pub node: Option<usize>,
    /// Traffic multiplier (spikes).
    pub factor: f64,
}

impl Scenario {
    /// Reads and checks a scenario file against `cluster`.
    ///
    /// # Errors
    /// Unreadable or invalid files, unknown deployments or nodes.
    pub fn load(path: &std::path::Path, cluster: &ClusterSpec) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read scenario {}: {e}", path.display()))?;
        let scenario: Self =
            toml::from_str(&text).map_err(|e| format!("scenario {}: {e}", path.display()))?;
        // Names are resolved whatever the horizon: a zero horizon checks them without drawing faults.
        scenario
            .plan(cluster, 0, 0.0)
            .map_err(|e| format!("scenario {}: {e}", path.display()))?;
        Ok(scenario)
    }

    /// The faults of this scenario in `[0, horizon_secs)`, random ones drawn from `seed`, sorted by start.
    ///
    /// # Errors
    /// A fault naming a deployment or node the cluster does not have.
    pub fn plan(
        &self,
        cluster: &ClusterSpec,
        seed: u64,
        horizon_secs: f64,
    ) -> Result<Vec<PlannedFault>, String> {
        let mut planned = Vec::new();
        for (i, f) in self.faults.iter().enumerate() {
            let (deployment, node) = if f.kind.on_node() {
                let node = match &f.node {
                    Some(name) => cluster
                        .nodes
                        .iter()
                        .position(|n| &n.name == name)
                        .ok_or_else(|| format!("fault[{i}]: no node {name:?} in the cluster"))?,
                    None => 0,
                };
                (None, Some(node))
            } else {
                let deployment = match &f.deployment {
                    Some(name) => cluster
                        .deployments
                        .iter()
                        .position(|d| &d.name == name)
                        .ok_or_else(|| {
                            format!("fault[{i}]: no deployment {name:?} in the cluster")
                        })?,
                    None => 0,
                };
                (Some(deployment), None)
            };
            let at_secs = f.at.as_nanos() as f64 / 1e9;
            if at_secs < horizon_secs {
                planned.push(PlannedFault {
                    kind: f.kind,
                    at_secs,
                    duration_secs: f.duration.map_or(f.kind.default_duration_secs(), |d| {
                        d.as_nanos() as f64 / 1e9
                    }),
                    deployment,
                    node,
                    factor: f.factor.unwrap_or(3.0),
                });
            }
        }
        if let Some(random) = &self.random {
            let mut rng = Rng::new(seed).fork(0xFA17);
            let mean = (random.mean_interval.as_nanos() as f64 / 1e9).max(60.0);
            let mut t = rng.exponential(mean);
            while t < horizon_secs && !random.kinds.is_empty() {
                let kind = random.kinds[rng.index(random.kinds.len())];
                let on_node = kind.on_node();
                let base = kind.default_duration_secs();
                planned.push(PlannedFault {
                    kind,
                    at_secs: t,
                    duration_secs: if base.is_finite() {
                        base * rng.range(0.5, 1.5)
                    } else {
                        base
                    },
                    deployment: (!on_node).then(|| rng.index(cluster.deployments.len())),
                    node: on_node.then(|| rng.index(cluster.nodes.len())),
                    factor: rng.range(2.0, 4.0),
                });
                t += rng.exponential(mean);
            }
        }
        planned.sort_by(|a, b| a.at_secs.total_cmp(&b.at_secs));
        Ok(planned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_fixed_and_random_faults() {
        let cluster = ClusterSpec::default();
        let scenario: Scenario = toml::from_str(
            r#"
            [[fault]]
            kind = "node_failure"
            at = "1h"
            node = "node-2"
            duration = "20m"
            [[fault]]
            kind = "memory_leak"
            at = "30m"
            deployment = "checkout"
            [random]
            mean_interval = "2h"
            kinds = ["traffic_spike"]
            "#,
        )
        .expect("parses");
        let plan = scenario.plan(&cluster, 3, 86_400.0).expect("plans");
        assert_eq!(plan[0].kind, FaultKind::MemoryLeak);
        assert_eq!(plan[0].deployment, Some(2));
        let node = plan
            .iter()
            .find(|f| f.kind == FaultKind::NodeFailure)
            .expect("node fault");
        assert_eq!((node.node, node.duration_secs), (Some(1), 1_200.0));
        let spikes = plan
            .iter()
            .filter(|f| f.kind == FaultKind::TrafficSpike)
            .count();
        assert!(
            (4..=24).contains(&spikes),
            "{spikes} spikes in a day at one per 2h"
        );
        assert_eq!(plan, scenario.plan(&cluster, 3, 86_400.0).expect("plans"));
        assert_ne!(plan, scenario.plan(&cluster, 4, 86_400.0).expect("plans"));
        let bad: Scenario =
            toml::from_str("[[fault]]\nkind = \"bad_rollout\"\nat = \"1m\"\ndeployment = \"nope\"")
                .expect("parses");
        assert!(
            bad.plan(&cluster, 0, 1e9)
                .expect_err("unknown")
                .contains("\"nope\"")
        );
    }
}
