//! [`ObserveConfig`]: the `[observe]` section of a pipeline file.

use super::{KubeReader, Observe, Prometheus, PrometheusConfig};
use schemas::config::{Problem, Problems};
use schemas::observe::ReadCluster;
use schemas::span::Span;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where the observer reads the cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObserveSource {
    /// No observer: `medic run` does not start the stage. The default, so the embedded pipeline runs on
    /// a machine without a cluster.
    #[default]
    Off,
    /// The Kubernetes API (`kubeconfig`, else `KUBECONFIG`, `~/.kube/config` or the in-cluster
    /// ServiceAccount, which needs get/list/watch only: deploy/rbac/observer.yaml).
    Kubernetes,
}

/// Configuration of the observer stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObserveConfig {
    /// Where to read the cluster. Default: `off`.
    #[serde(default)]
    pub source: ObserveSource,
    /// Kubeconfig for `kubernetes`. Default: `KUBECONFIG`, `~/.kube/config`, or the in-cluster
    /// ServiceAccount.
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    /// The cluster's name, written on every state's target (as `act.cluster` names the cluster the
    /// actuator acts on). Default: none.
    #[serde(default)]
    pub cluster: Option<String>,
    /// Namespaces to observe. Default: every namespace.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// How often the cluster is read. Default: `15s`.
    #[serde(default = "default_interval")]
    pub interval: Span,
    /// A workload's state is written when it changes, and again after this long without a change, so a
    /// reader that starts late (or compacts the topic) still has every workload. Default: `5m`.
    #[serde(default = "default_resync")]
    pub resync: Span,
    /// Replica bounds of a workload no HorizontalPodAutoscaler targets. Default: 1.
    #[serde(default = "default_min_replicas")]
    pub min_replicas: u32,
    /// Default: 10 (or the workload's own replicas, when it asks for more).
    #[serde(default = "default_max_replicas")]
    pub max_replicas: u32,
    /// A signal that moved less than this share of its last written value does not make a state new
    /// (Prometheus's rates differ a little at every read). Default: 0.05.
    #[serde(default = "default_signal_tolerance")]
    pub signal_tolerance: f64,
    /// Where the workloads' demand, latency, errors and CPU come from (`[observe.prometheus]`).
    /// Default: none, so states carry no signals.
    #[serde(default)]
    pub prometheus: Option<PrometheusConfig>,
}

fn default_interval() -> Span {
    Span::secs(15)
}
fn default_resync() -> Span {
    Span::secs(300)
}
fn default_signal_tolerance() -> f64 {
    0.05
}
fn default_min_replicas() -> u32 {
    1
}
fn default_max_replicas() -> u32 {
    10
}

impl Default for ObserveConfig {
    fn default() -> Self {
        Self {
            source: ObserveSource::default(),
            kubeconfig: None,
            cluster: None,
            namespaces: Vec::new(),
            interval: default_interval(),
            resync: default_resync(),
            min_replicas: default_min_replicas(),
            max_replicas: default_max_replicas(),
            signal_tolerance: default_signal_tolerance(),
            prometheus: None,
        }
    }
}

impl ObserveConfig {
    /// Checks the configuration and reports every problem, under `observe.<key>`.
    ///
    /// # Errors
    /// The list of problems, when there is at least one.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut problems = Problems::new("observe");
        problems.require(
            self.interval.as_millis() >= 100,
            "interval",
            || "must be at least 100ms",
        );
        problems.require(
            self.resync >= self.interval,
            "resync",
            || "must be at least the interval",
        );
        problems.require(
            self.min_replicas <= self.max_replicas && self.max_replicas > 0,
            "max_replicas",
            || {
                format!(
                    "must be at least 1 and at least min_replicas ({})",
                    self.min_replicas
                )
            },
        );
        problems.require(
            (0.0..1.0).contains(&self.signal_tolerance),
            "signal_tolerance",
            || "must be at least 0 and below 1",
        );
        let mut seen = std::collections::BTreeSet::new();
        for (i, namespace) in self.namespaces.iter().enumerate() {
            problems.require(seen.insert(namespace), &format!("namespaces[{i}]"), || {
                format!("{namespace:?} is listed twice (its pods would count twice)")
            });
        }
        if let Some(prometheus) = &self.prometheus {
            prometheus.check(&mut problems);
        }
        problems.into_result()
    }

    /// Validates the configuration and builds the stage on the configured source.
    ///
    /// # Errors
    /// Every problem [`ObserveConfig::validate`] finds; `observe.source` when it is `off`, or when the
    /// cluster's configuration cannot be loaded.
    pub fn build(&self) -> Result<Observe, Vec<Problem>> {
        self.validate()?;
        let reader: Box<dyn ReadCluster> = match self.source {
            ObserveSource::Off => {
                return Err(vec![Problem::new(
                    "observe.source",
                    "is off: set it to kubernetes to run the observer",
                )]);
            }
            ObserveSource::Kubernetes => Box::new(
                KubeReader::connect(
                    self.kubeconfig.as_deref(),
                    self.namespaces.clone(),
                    self.read_timeout(),
                )
                .map_err(|e| vec![Problem::new("observe.source", e)])?,
            ),
        };
        let metrics = self
            .prometheus
            .as_ref()
            .map(Prometheus::new)
            .transpose()
            .map_err(|e| vec![Problem::new("observe.prometheus.ca_file", e)])?;
        Ok(Observe::new(self, reader, metrics))
    }

    /// How long one read of the cluster may take: the interval, at most 30 s (the process's liveness
    /// allows a stage 60 s without a heartbeat).
    #[must_use]
    pub fn read_timeout(&self) -> std::time::Duration {
        self.interval_at_most(30)
    }

    /// How long all of one read's metrics queries may take together: the interval, at most 20 s (so a
    /// slow cluster read and slow queries together stay within the stage's 60 s liveness).
    #[must_use]
    pub fn metrics_budget(&self) -> std::time::Duration {
        self.interval_at_most(20)
    }

    fn interval_at_most(&self, secs: u64) -> std::time::Duration {
        self.interval
            .as_duration()
            .min(std::time::Duration::from_secs(secs))
    }

    /// Builds the stage on `reader` (the twin's, for tests), without validating and without a metrics
    /// source (the reader gives the signals it has).
    #[must_use]
    pub fn build_on(&self, reader: Box<dyn ReadCluster>) -> Observe {
        Observe::new(self, reader, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let config: ObserveConfig =
            toml::from_str("source = \"kubernetes\"\ninterval = \"5s\"").expect("parses");
        assert_eq!(
            (config.source, config.interval),
            (ObserveSource::Kubernetes, Span::secs(5))
        );
        assert!(config.validate().is_ok());
        let bad: ObserveConfig = toml::from_str(
            "interval = \"10ms\"\nresync = \"1ms\"\nmin_replicas = 3\nmax_replicas = 2\n\
             namespaces = [\"a\", \"a\"]",
        )
        .expect("parses");
        assert_eq!(bad.validate().expect_err("invalid").len(), 4);
        let off = ObserveConfig::default().build();
        assert!(off.is_err_and(|p| p[0].path == "observe.source"));
    }
}
