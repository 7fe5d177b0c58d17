//! [`Hpa`]: the Kubernetes HorizontalPodAutoscaler algorithm (autoscaling/v2 defaults), with nothing
//! else — the kubelet's restart back-off and the taint-based eviction it relies on are the twin's.
//!
//! - `desired = ceil(current × metric / target)`, skipped when `|metric / target − 1| <= 0.1`;
//! - the metric is CPU used / requested over **ready** pods; when scaling up with unready pods, they
//!   count as 0 % used and the recommendation is recomputed (and dropped if it no longer scales up);
//! - scale-up policy: at most max(100 %, 4 pods) per period; scale-down: the highest recommendation of
//!   the last 300 s (stabilisation window); both within `[min_replicas, max_replicas]`.

use crate::lab::control::{Controller, Explanation, Proposal};
use crate::lab::twin::{ClusterView, DeploymentView, TwinAction, TwinCommand};
use std::collections::VecDeque;

/// The HPA's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HpaConfig {
    /// Target CPU utilisation (used / requested). Default 0.7.
    pub target_utilisation: f64,
    /// Tolerance around the target. Default 0.1.
    pub tolerance: f64,
    /// Scale-down stabilisation window, seconds. Default 300.
    pub scale_down_window_secs: f64,
}

impl Default for HpaConfig {
    fn default() -> Self {
        Self {
            target_utilisation: 0.7,
            tolerance: 0.1,
            scale_down_window_secs: 300.0,
        }
    }
}

/// The HPA, one per deployment.
#[derive(Debug, Clone)]
pub struct Hpa {
    config: HpaConfig,
    recommendations: Vec<VecDeque<(f64, u32)>>,
}

impl Hpa {
    /// An HPA for every deployment.
    #[must_use]
    pub fn new(config: HpaConfig) -> Self {
        Self {
            config,
            recommendations: Vec::new(),
        }
    }

    /// The replica count the HPA wants for `view`.
    pub fn desired(&mut self, view: &DeploymentView) -> u32 {
        let d = view.deployment;
        if self.recommendations.len() <= d {
            self.recommendations.resize(d + 1, VecDeque::new());
        }
        let current = view.desired;
        let target = self.config.target_utilisation;
        let ready = f64::from(view.serving);
        let unready = f64::from(view.starting + view.crashing + view.pending);
        let used = view.served_rps / view.pod_rps;
        let raw = if ready > 0.0 {
            let metric = used / ready;
            let ratio = metric / target;
            if (ratio - 1.0).abs() <= self.config.tolerance {
                current
            } else if ratio > 1.0 && unready > 0.0 {
                // Unready pods count as 0 % used when scaling up.
                let ratio = used / (ready + unready) / target;
                if ratio > 1.0 + self.config.tolerance {
                    (f64::from(current) * ratio).ceil() as u32
                } else {
                    current
                }
            } else {
                (f64::from(current) * ratio).ceil() as u32
            }
        } else {
            current
        };
        let up_limit = (current * 2).max(current + 4);
        let raw = raw
            .min(up_limit)
            .clamp(view.min_replicas, view.max_replicas);
        let now = view.at_secs;
        let window = &mut self.recommendations[d];
        window.push_back((now, raw));
        while window
            .front()
            .is_some_and(|(t, _)| now - *t > self.config.scale_down_window_secs)
        {
            window.pop_front();
        }
        if raw >= current {
            raw
        } else {
            window
                .iter()
                .map(|(_, r)| *r)
                .max()
                .unwrap_or(raw)
                .min(current)
        }
    }
}

impl Controller for Hpa {
    fn id(&self) -> String {
        format!("hpa@cpu{:.0}", self.config.target_utilisation * 100.0)
    }

    fn propose(&mut self, views: &[DeploymentView], _cluster: &ClusterView) -> Vec<Proposal> {
        let id = self.id();
        views
            .iter()
            .filter_map(|view| {
                let desired = self.desired(view);
                let delta = i64::from(desired) - i64::from(view.desired);
                (delta != 0).then(|| Proposal {
                    command: TwinCommand {
                        deployment: view.deployment,
                        action: TwinAction::Scale(delta as i32),
                    },
                    explanation: Explanation::new(
                        &id,
                        format!(
                            "CPU {:.0}% of requests vs target {:.0}%: {} -> {desired} replicas",
                            view.cpu_utilisation * 100.0,
                            self.config.target_utilisation * 100.0,
                            view.desired
                        ),
                        None,
                    ),
                })
            })
            .collect()
    }

    fn arbitrated(&self) -> bool {
        false
    }
}
