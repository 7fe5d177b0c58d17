//! [`ThresholdRules`]: the calibrated rule policy — the remedy table of `rules@1` for confident
//! diagnoses, and threshold autoscaling on utilisation (demand over ready capacity) whose target
//! [`calibrate_rules`] grid-searches on the training runs.

use crate::features::{REMEDY_MIN_CONFIDENCE, remedy_on_view};
use crate::lab::arbitration::SafetyConfig;
use crate::lab::control::{Controller, EpisodeSpec, Explanation, Proposal, run_episode};
use crate::lab::objective::cost;
use crate::lab::twin::{ClusterView, DeploymentView, TwinAction, TwinCommand};
use schemas::{Action, FaultClass};

/// Threshold autoscaling plus the remedy table.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdRules {
    /// Target CPU utilisation: scale out above target + 0.1, in below target − 0.2.
    pub target: f64,
    /// Diagnoses below this confidence are not acted on. Default [`REMEDY_MIN_CONFIDENCE`] (0.6).
    pub min_confidence: f64,
}

impl ThresholdRules {
    /// Rules with `target` utilisation.
    #[must_use]
    pub fn new(target: f64) -> Self {
        Self {
            target,
            min_confidence: REMEDY_MIN_CONFIDENCE,
        }
    }

    fn remedy(view: &DeploymentView, fault: FaultClass) -> Option<(TwinAction, &'static str)> {
        let (action, on, why) = remedy_on_view(view, fault);
        let node = || on.name.parse::<usize>().ok();
        let action = match action {
            Action::Noop => return None,
            Action::ScaleTo { replicas } => {
                TwinAction::Scale(i32::try_from(replicas).ok()? - i32::try_from(view.desired).ok()?)
            }
            other => TwinAction::of_record(other, node)?,
        };
        Some((action, why))
    }
}

impl Controller for ThresholdRules {
    fn id(&self) -> String {
        format!("rules@cpu{:.0}", self.target * 100.0)
    }

    fn propose(&mut self, views: &[DeploymentView], _cluster: &ClusterView) -> Vec<Proposal> {
        let id = self.id();
        let mut out = Vec::new();
        for view in views {
            let signal = view
                .signal
                .filter(|s| s.fault != FaultClass::Normal && s.confidence >= self.min_confidence);
            let remedy = signal
                .filter(|s| s.fault != FaultClass::CpuSaturation)
                .and_then(|s| Self::remedy(view, s.fault));
            let (action, reason) = if let Some((action, why)) = remedy {
                (action, why.to_owned())
            } else {
                // Demand over ready capacity (request rates come with the window features), so the rules are
                // not blind past saturation as CPU is.
                let utilisation = if view.serving > 0 {
                    view.demand_rps / (f64::from(view.serving) * view.pod_rps)
                } else {
                    0.0
                };
                if utilisation > self.target + 0.1 {
                    let need = (f64::from(view.desired) * (utilisation / self.target - 1.0))
                        .ceil()
                        .max(1.0);
                    (
                        TwinAction::Scale(need as i32),
                        format!(
                            "CPU {:.0}% above {:.0}%: scale out",
                            utilisation * 100.0,
                            (self.target + 0.1) * 100.0
                        ),
                    )
                } else if view.serving >= view.desired && utilisation < self.target - 0.2 {
                    (
                        TwinAction::Scale(-1),
                        format!(
                            "CPU {:.0}% below {:.0}%: scale in",
                            utilisation * 100.0,
                            (self.target - 0.2) * 100.0
                        ),
                    )
                } else {
                    continue;
                }
            };
            out.push(Proposal {
                command: TwinCommand {
                    deployment: view.deployment,
                    action,
                },
                explanation: Explanation::new(&id, reason, view.signal),
            });
        }
        out
    }
}

/// Grid-searches the utilisation target (0.30 … 0.90) that minimises the summed [`cost`] over `runs`;
/// returns the best target and every `(target, cost)` tried.
#[must_use]
pub fn calibrate_rules(runs: &[EpisodeSpec], safety: &SafetyConfig) -> (f64, Vec<(f64, f64)>) {
    let grid: Vec<f64> = (6..=18).map(|i| f64::from(i) * 0.05).collect();
    let tried: Vec<(f64, f64)> = grid
        .iter()
        .map(|target| {
            let total = runs
                .iter()
                .map(|spec| {
                    cost(&run_episode(
                        spec,
                        &mut ThresholdRules::new(*target),
                        safety,
                        |_, _| {},
                    ))
                })
                .sum();
            (*target, total)
        })
        .collect();
    let best = tried
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0.7, |(t, _)| *t);
    (best, tried)
}
