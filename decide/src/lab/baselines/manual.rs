//! [`Manual`]: Kubernetes' own behaviour (the HPA) plus an operator on call: an alert (SLA violated or a
//! fault diagnosed for [`ALERT_FOR_STEPS`] steps in a row) pages a human at most every 30 minutes per
//! deployment, who applies the right remedy after the response delay (the twin's
//! `human_response_secs`, default 15 min).

use super::{Hpa, HpaConfig};
use crate::lab::control::{Controller, Explanation, Proposal};
use crate::lab::twin::{ClusterView, DeploymentView, TwinAction, TwinCommand};
use schemas::FaultClass;

/// The HPA with a human answering alerts.
#[derive(Debug, Clone)]
pub struct Manual {
    hpa: Hpa,
    paged_at: Vec<Option<f64>>,
    alerting_for: Vec<u32>,
}

/// Consecutive steps a symptom must last before the alert fires (Prometheus `for:`).
pub const ALERT_FOR_STEPS: u32 = 2;

impl Manual {
    /// An operator behind an HPA with `config`.
    #[must_use]
    pub fn new(config: HpaConfig) -> Self {
        Self {
            hpa: Hpa::new(config),
            paged_at: Vec::new(),
            alerting_for: Vec::new(),
        }
    }
}

impl Controller for Manual {
    fn id(&self) -> String {
        "manual@1".to_owned()
    }

    fn propose(&mut self, views: &[DeploymentView], cluster: &ClusterView) -> Vec<Proposal> {
        let mut proposals = self.hpa.propose(views, cluster);
        self.paged_at.resize(views.len(), None);
        self.alerting_for.resize(views.len(), 0);
        for view in views {
            let symptom = view.violated
                || view.signal.is_some_and(|s| {
                    s.fault != FaultClass::Normal && s.fault != FaultClass::CpuSaturation
                });
            let streak = &mut self.alerting_for[view.deployment];
            *streak = if symptom { *streak + 1 } else { 0 };
            let firing = *streak >= ALERT_FOR_STEPS;
            let quiet = self.paged_at[view.deployment].is_none_or(|t| view.at_secs - t >= 1_800.0);
            if firing && quiet {
                self.paged_at[view.deployment] = Some(view.at_secs);
                proposals.push(Proposal {
                    command: TwinCommand {
                        deployment: view.deployment,
                        action: TwinAction::Escalate,
                    },
                    explanation: Explanation::new(
                        "manual@1",
                        "alert fired: paging the on-call engineer",
                        view.signal,
                    ),
                });
            }
        }
        proposals
    }

    fn arbitrated(&self) -> bool {
        false
    }
}
