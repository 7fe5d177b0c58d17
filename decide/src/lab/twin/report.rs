//! [`EpisodeReport`]: what a run of the twin measured, and [`FaultTracker`], which times each fault from
//! its start to its recovery.

use super::scenario::{FaultKind, PlannedFault};
use super::state::{DeploymentState, NodeState};
use serde::Serialize;

/// The measurements of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EpisodeReport {
    /// Minutes in which a deployment violated its SLA (summed over deployments).
    pub sla_violation_minutes: f64,
    /// The part of `sla_violation_minutes` spent while the deployment's dependency was down (no local
    /// action fixes those).
    pub sla_minutes_in_dependency_outages: f64,
    /// The part of `sla_violation_minutes` outside dependency outages in which the deployment's demand
    /// was more than its replica ceiling serves within the SLA (`max_replicas` ready pods on healthy
    /// nodes would have violated it too), in the first `human_response_secs` of each such stretch. No
    /// action fixes those: only a paged human scales past `max_replicas`, and a page at the stretch's
    /// start is answered no sooner. Later minutes of the stretch count as fixable.
    pub sla_minutes_beyond_ceiling: f64,
    /// Mean seconds from a fault's start to its recovery (open faults count up to the end).
    pub mttr_s: f64,
    /// The same over the faults medic's own actions can end ([`Recovery::fixable`]): dependency
    /// outages left out (they last as long as their cause, whatever a policy does), and traffic spikes
    /// that took demand beyond the replica ceiling (only a paged human ends those before their cause
    /// does, by scaling past `max_replicas`); 0 without such faults.
    pub mttr_fixable_s: f64,
    /// CPU used / CPU requested by scheduled pods, over the run.
    pub mean_cpu_utilisation: f64,
    /// Scheduled pods × minutes.
    pub replica_minutes: f64,
    /// Commands that changed the cluster (not noop, not escalate; human fixes excluded).
    pub actions: u64,
    /// Escalations to a human.
    pub escalations: u64,
    /// Faults that started.
    pub faults: usize,
    /// Faults not recovered by the end.
    pub unrecovered: usize,
    /// Traffic spikes that took demand beyond the replica ceiling (not [`Recovery::fixable`]).
    pub spikes_beyond_ceiling: usize,
    /// Minutes faults were open (sum over faults of their time to recovery).
    pub fault_minutes: f64,
    /// Per fault: kind, start, seconds to recovery.
    pub recoveries: Vec<Recovery>,
    /// Failed share of all requests.
    pub error_rate: f64,
    /// Simulated minutes (summed over deployments).
    pub minutes: f64,
    #[serde(skip)]
    pub(crate) cpu_used_millis: f64,
    #[serde(skip)]
    pub(crate) cpu_requested_millis: f64,
    #[serde(skip)]
    pub(crate) requests: f64,
    #[serde(skip)]
    pub(crate) failed_requests: f64,
}

impl EpisodeReport {
    /// SLA-violation minutes some action could have avoided: those in dependency outages and beyond
    /// the replica ceiling left out.
    #[must_use]
    pub fn fixable_sla_minutes(&self) -> f64 {
        self.sla_violation_minutes
            - self.sla_minutes_in_dependency_outages
            - self.sla_minutes_beyond_ceiling
    }
}

/// One fault's recovery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recovery {
    /// Fault kind.
    pub kind: FaultKind,
    /// Start, simulated seconds.
    pub at_secs: f64,
    /// Seconds to recovery (to the end of the run when it did not recover).
    pub recovery_s: f64,
    /// Whether it recovered.
    pub recovered: bool,
    /// Whether medic's own actions could end it: not a dependency outage, and not a traffic spike during
    /// which demand went beyond what the deployment's replica ceiling serves within its SLA (a paged
    /// human can end that one, no sooner than `human_response_secs` after the page). The same for every
    /// policy: demand does not depend on what a policy does.
    pub fixable: bool,
}

/// Mean seconds to recovery over `recoveries`; 0 when there is none.
fn mean_recovery_s<'a>(recoveries: impl IntoIterator<Item = &'a Recovery>) -> f64 {
    let (sum, n) = recoveries
        .into_iter()
        .fold((0.0, 0usize), |(sum, n), r| (sum + r.recovery_s, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// [`mean_recovery_s`] over the faults an action can fix ([`Recovery::fixable`]).
fn fixable_mttr_s<'a>(recoveries: impl IntoIterator<Item = &'a Recovery>) -> f64 {
    mean_recovery_s(recoveries.into_iter().filter(|r| r.fixable))
}

#[derive(Debug, Clone)]
struct Tracked {
    fault: PlannedFault,
    affected: Vec<usize>,
    expired: bool,
    recovered_at: Option<f64>,
    /// A traffic spike during which demand went beyond the replica ceiling.
    beyond_ceiling: bool,
}

/// Times faults: a fault is recovered at the first step where its cause no longer acts on the service
/// (leak cured, broken revision rolled back, no pods left on the bad node, outage over) and every
/// deployment it affects meets its SLA.
#[derive(Debug, Clone, Default)]
pub struct FaultTracker {
    tracked: Vec<Tracked>,
}

impl FaultTracker {
    pub(crate) fn start(&mut self, fault: PlannedFault, affected: Vec<usize>) {
        self.tracked.push(Tracked {
            fault,
            affected,
            expired: false,
            recovered_at: None,
            beyond_ceiling: false,
        });
    }

    /// Faults whose cause ends now (marked, returned once).
    pub(crate) fn expiring(&mut self, now: f64) -> Vec<PlannedFault> {
        let mut out = Vec::new();
        for t in &mut self.tracked {
            if !t.expired && t.fault.at_secs + t.fault.duration_secs <= now {
                t.expired = true;
                out.push(t.fault.clone());
            }
        }
        out
    }

    /// Unrecovered faults affecting deployment `d`.
    pub(crate) fn open_affecting(&self, d: usize) -> usize {
        self.tracked
            .iter()
            .filter(|t| t.recovered_at.is_none() && t.affected.contains(&d))
            .count()
    }

    /// Unrecovered faults.
    pub(crate) fn open(&self) -> impl Iterator<Item = &PlannedFault> {
        self.tracked
            .iter()
            .filter(|t| t.recovered_at.is_none())
            .map(|t| &t.fault)
    }

    pub(crate) fn update(
        &mut self,
        now: f64,
        nodes: &[NodeState],
        deployments: &[DeploymentState],
        violations: &[f64],
        beyond_ceiling_since: &[Option<f64>],
        on_nodes: &[Vec<usize>],
    ) {
        // Recovered or not: whether a spike is fixable depends on its whole cause, not on a policy.
        for t in &mut self.tracked {
            if let (FaultKind::TrafficSpike, Some(d), false) =
                (t.fault.kind, t.fault.deployment, t.expired)
            {
                t.beyond_ceiling |= beyond_ceiling_since.get(d).is_some_and(Option::is_some);
            }
        }
        for t in self.tracked.iter_mut().filter(|t| t.recovered_at.is_none()) {
            let cause = match (t.fault.kind, t.fault.deployment, t.fault.node) {
                (FaultKind::MemoryLeak, Some(d), _) => deployments[d].leaking,
                (FaultKind::BadRollout, Some(d), _) => {
                    deployments[d].broken_revision || deployments[d].pods.iter().any(|p| p.broken)
                }
                (FaultKind::NodeFailure, _, Some(n)) => !nodes[n].ready && !on_nodes[n].is_empty(),
                (FaultKind::DiskPressure, _, Some(n)) => {
                    nodes[n].disk_pressure && !on_nodes[n].is_empty()
                }
                (FaultKind::DependencyOutage, Some(d), _) => deployments[d].dependency_down,
                _ => false,
            };
            let violating = t
                .affected
                .iter()
                .any(|d| violations.get(*d).is_some_and(|v| *v > 0.0));
            if !cause && !violating {
                t.recovered_at = Some(now);
            }
        }
    }

    pub(crate) fn finish(&self, now: f64, report: &mut EpisodeReport) {
        report.recoveries = self
            .tracked
            .iter()
            .map(|t| Recovery {
                kind: t.fault.kind,
                at_secs: t.fault.at_secs,
                recovery_s: t.recovered_at.unwrap_or(now) - t.fault.at_secs,
                recovered: t.recovered_at.is_some(),
                fixable: t.fault.kind.is_fixable() && !t.beyond_ceiling,
            })
            .collect();
        report.faults = report.recoveries.len();
        report.unrecovered = report.recoveries.iter().filter(|r| !r.recovered).count();
        report.spikes_beyond_ceiling = self.tracked.iter().filter(|t| t.beyond_ceiling).count();
        report.mttr_s = mean_recovery_s(&report.recoveries);
        report.mttr_fixable_s = fixable_mttr_s(&report.recoveries);
        report.fault_minutes = report.recoveries.iter().map(|r| r.recovery_s).sum::<f64>() / 60.0;
        report.mean_cpu_utilisation = if report.cpu_requested_millis > 0.0 {
            report.cpu_used_millis / report.cpu_requested_millis
        } else {
            0.0
        };
        report.error_rate = if report.requests > 0.0 {
            report.failed_requests / report.requests
        } else {
            0.0
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixable_mttr_leaves_dependency_outages_out() {
        let recovery = |kind: FaultKind, recovery_s| Recovery {
            kind,
            at_secs: 0.0,
            recovery_s,
            recovered: true,
            fixable: kind.is_fixable(),
        };
        let recoveries = [
            recovery(FaultKind::NodeFailure, 150.0),
            recovery(FaultKind::DependencyOutage, 1_230.0),
            recovery(FaultKind::MemoryLeak, 450.0),
        ];
        assert_eq!(fixable_mttr_s(&recoveries), 300.0);
        assert_eq!(fixable_mttr_s(&recoveries[1..2]), 0.0);
    }
}
