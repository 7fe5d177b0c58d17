//! [`run_episode`]: one controller, one twin, from start to horizon.

use super::{Controller, Proposal};
use crate::lab::arbitration::{Arbiter, SafetyConfig};
use crate::lab::twin::{
    ClusterSpec, DeploymentView, EpisodeReport, PlannedFault, Scenario, Trace, Twin, TwinEvent,
    TwinOptions,
};

/// Everything that defines a run of the twin.
#[derive(Debug, Clone)]
pub struct EpisodeSpec {
    /// The cluster.
    pub cluster: ClusterSpec,
    /// The workload, scaled to its peak.
    pub trace: Trace,
    /// The faults.
    pub plan: Vec<PlannedFault>,
    /// Simulated seconds (at most the trace's length).
    pub horizon_secs: f64,
    /// Seed and the rest.
    pub options: TwinOptions,
}

impl EpisodeSpec {
    /// One day of the built-in cluster on a diurnal trace peaking at 1000 requests/s, with `scenario`'s
    /// faults and the twin both drawn from `seed` (the demo's and the benchmark's run).
    #[must_use]
    pub fn diurnal_day(scenario: &Scenario, seed: u64) -> Self {
        let cluster = ClusterSpec::default();
        Self {
            plan: scenario.plan(&cluster, seed, 86_400.0).unwrap_or_default(),
            cluster,
            trace: Trace::diurnal(1).scaled_to_peak(1_000.0),
            horizon_secs: 86_400.0,
            options: TwinOptions {
                seed,
                ..TwinOptions::default()
            },
        }
    }

    /// A fresh twin for this run.
    #[must_use]
    pub fn twin(&self) -> Twin {
        Twin::new(
            self.cluster.clone(),
            self.trace.clone(),
            self.plan.clone(),
            self.horizon_secs,
            self.options.clone(),
        )
    }
}

/// Runs `controller` through the twin of `spec`, its proposals reviewed by an arbiter with `safety`
/// (unless the controller bypasses it). `on_decision` sees every command that is not a noop, after
/// arbitration, with the simulated time.
pub fn run_episode(
    spec: &EpisodeSpec,
    controller: &mut dyn Controller,
    safety: &SafetyConfig,
    on_decision: impl FnMut(f64, &Proposal),
) -> EpisodeReport {
    run_episode_recording(spec, controller, safety, on_decision).0
}

/// [`run_episode`], also returning the twin's events (empty unless `spec.options.record_events`).
pub fn run_episode_recording(
    spec: &EpisodeSpec,
    controller: &mut dyn Controller,
    safety: &SafetyConfig,
    on_decision: impl FnMut(f64, &Proposal),
) -> (EpisodeReport, Vec<TwinEvent>) {
    run_episode_observed(spec, controller, safety, on_decision, |_| {})
}

/// [`run_episode_recording`], also showing `on_step` the deployments' views after every step (and
/// before the first).
pub fn run_episode_observed(
    spec: &EpisodeSpec,
    controller: &mut dyn Controller,
    safety: &SafetyConfig,
    mut on_decision: impl FnMut(f64, &Proposal),
    mut on_step: impl FnMut(&[DeploymentView]),
) -> (EpisodeReport, Vec<TwinEvent>) {
    let mut twin = spec.twin();
    let mut arbiter = Arbiter::new(safety.clone());
    let mut views = twin.views();
    on_step(&views);
    while !twin.done() {
        let cluster = twin.cluster_view();
        let mut proposals = controller.propose(&views, &cluster);
        if controller.arbitrated() {
            proposals = proposals
                .into_iter()
                .map(|p| {
                    let view = &views[p.command.deployment.min(views.len() - 1)];
                    arbiter.review(p, view, &cluster)
                })
                .collect();
        }
        for proposal in &proposals {
            if proposal.command.action != crate::lab::twin::TwinAction::Noop {
                on_decision(twin.now(), proposal);
            }
        }
        let commands: Vec<_> = proposals.iter().map(|p| p.command).collect();
        controller.applied(&commands);
        twin.step(&commands);
        views = twin.views();
        on_step(&views);
    }
    (twin.report(), twin.take_events())
}
