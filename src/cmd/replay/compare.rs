//! Counterfactual scoring: the same incident under different policies, on the digital twin.
//!
//! Recorded logs cannot say what would have happened had someone acted differently, so the incident is
//! re-enacted on the twin (`[twin]` of `incident.toml`): the built-in three-service cluster, its
//! `checkout` Deployment renamed after the incident's workload, the incident's fault starting after a
//! ten-minute warm-up, a steady load. Over the span the recording covers, the twin's diagnosis channel
//! is replaced by what the pipeline really concluded from the logs (each diagnosis of the workload at
//! its window's end, relative to the fault); outside it, the twin's own diagnosis model speaks. Every
//! policy runs through the arbiter on the same twin, the same seed and the same diagnoses, and is
//! scored on detection delay, time to its first action, MTTR, SLA-violation minutes and actions.

use super::bundle::Bundle;
use super::recording::Recording;
use decide::lab::arbitration::SafetyConfig;
use decide::lab::control::{EpisodeSpec, run_episode_observed};
use decide::lab::evaluate::load_controller;
use decide::lab::twin::{
    ClusterSpec, ExternalDiagnoses, PlannedFault, RecordedSpan, Signal, Trace, TwinOptions,
};
use schemas::FaultClass;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Simulated seconds before the fault starts.
pub const WARM_UP_SECS: f64 = 600.0;
/// Simulated seconds after the fault starts.
pub const AFTER_SECS: f64 = 5_400.0;
/// The twin's Deployment that plays the incident's workload.
const PLAYED_DEPLOYMENT: usize = 2;
/// Steady load at the frontend, requests/s (the built-in shop peaks at about 1000).
const LOAD_RPS: f64 = 600.0;

/// One step of one deployment, for the report's plots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Simulated seconds from the fault's start (negative before it).
    pub t_secs: f64,
    /// Requests/s arriving.
    pub demand_rps: f64,
    /// Desired replicas.
    pub desired: u32,
    /// Replicas serving.
    pub serving: u32,
    /// Replicas crash-looping.
    pub crashing: u32,
    /// Whether the SLA was violated in this step.
    pub violated: bool,
    /// The diagnosis the policy saw.
    pub diagnosis: String,
}

/// One action a policy took on the twin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TakenAction {
    /// Simulated seconds from the fault's start.
    pub t_secs: f64,
    /// The action (`rollout_restart`, `scale`, `escalate`, …).
    pub action: String,
    /// The arbiter's and policy's explanation.
    pub why: String,
}

/// One policy's run of the incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counterfactual {
    /// Policy id with version.
    pub policy: String,
    /// Seconds from the fault to the first non-normal diagnosis of the workload.
    pub detection_delay_s: Option<f64>,
    /// Seconds from the fault to the policy's first action on the workload (escalations included).
    pub first_action_s: Option<f64>,
    /// Seconds from the fault to recovery (to the end of the run when it did not recover).
    pub mttr_s: f64,
    /// Whether the fault was recovered within the run.
    pub recovered: bool,
    /// Minutes in which a deployment violated its SLA.
    pub sla_violation_minutes: f64,
    /// Commands that changed the cluster.
    pub actions: u64,
    /// Escalations to a human.
    pub escalations: u64,
    /// Every step of the incident's workload.
    pub steps: Vec<Step>,
    /// Every action on any deployment.
    pub taken: Vec<TakenAction>,
}

/// The twin's re-enactment of `bundle`, with the pipeline's diagnoses of its workload from `recording`.
///
/// # Errors
/// A bundle without `[twin]`, `[expected]` or a fault in its timeline.
pub fn episode(bundle: &Bundle, recording: &Recording) -> Result<EpisodeSpec, String> {
    let manifest = &bundle.manifest;
    let reenactment = manifest
        .twin
        .as_ref()
        .ok_or("the bundle's incident.toml has no [twin] section: nothing to re-enact")?;
    let expected = manifest
        .expected
        .as_ref()
        .ok_or("the bundle's incident.toml has no [expected] section: which workload is faulty?")?;
    let fault_ns = bundle
        .fault_start_ns()
        .ok_or("the bundle's timeline has no `fault` entry")?;
    let (namespace, workload) = expected
        .workload
        .split_once('/')
        .unwrap_or(("", expected.workload.as_str()));
    let mut cluster = ClusterSpec::default();
    cluster.deployments[PLAYED_DEPLOYMENT].name = workload.to_owned();
    if !namespace.is_empty() {
        cluster.deployments[PLAYED_DEPLOYMENT].namespace = namespace.to_owned();
    }
    let duration_secs = match &reenactment.duration {
        Some(text) => {
            schemas::span::Span::parse(text)
                .map_err(|e| format!("[twin] duration {text:?}: {e}"))?
                .as_nanos() as f64
                / 1e9
        }
        None => reenactment.fault.default_duration_secs(),
    };
    let on_node = reenactment.fault.on_node();
    let plan = vec![PlannedFault {
        kind: reenactment.fault,
        at_secs: WARM_UP_SECS,
        duration_secs,
        deployment: (!on_node).then_some(PLAYED_DEPLOYMENT),
        node: on_node.then_some(0),
        factor: 3.0,
    }];
    let to_twin = |ns: i64| WARM_UP_SECS + (ns - fault_ns) as f64 / 1e9;
    let first = bundle.inputs.first().map_or(fault_ns, |i| i.event_time_ns);
    let last = bundle.inputs.last().map_or(fault_ns, |i| i.event_time_ns);
    let diagnoses = recording
        .diagnoses
        .iter()
        .filter(|d| {
            d.target.name == workload
                && (namespace.is_empty() || d.target.namespace.as_deref() == Some(namespace))
        })
        .map(|d| {
            let node = (reenactment.fault.on_node() && d.target.node.is_some()).then_some(0);
            let signal = Signal {
                fault: d.fault,
                confidence: d.confidence,
                node,
            };
            (to_twin(d.window_end_ns), signal)
        })
        .collect();
    let span = RecordedSpan {
        from_secs: to_twin(first),
        to_secs: to_twin(last),
        diagnoses,
    };
    let horizon_secs = WARM_UP_SECS + AFTER_SECS;
    Ok(EpisodeSpec {
        cluster,
        trace: Trace {
            source: format!("steady {LOAD_RPS} requests/s"),
            step_secs: 60.0,
            rps: vec![LOAD_RPS; (horizon_secs / 60.0) as usize + 2],
        },
        plan,
        horizon_secs,
        options: TwinOptions {
            seed: 1,
            external_diagnoses: ExternalDiagnoses {
                deployments: BTreeMap::from([(PLAYED_DEPLOYMENT, span)]),
                hold_secs: 60.0,
            },
            ..TwinOptions::default()
        },
    })
}

/// Runs each of `policies` (`hpa`, `manual`, `rules`, `ppo`, `dqn` or a policy directory) on the
/// re-enactment of `bundle`.
///
/// # Errors
/// A bundle that cannot be re-enacted (see [`episode`]) or a policy that cannot be loaded.
pub fn compare(
    bundle: &Bundle,
    recording: &Recording,
    policies: &[String],
    models_dir: &Path,
) -> Result<Vec<Counterfactual>, String> {
    let spec = episode(bundle, recording)?;
    policies
        .iter()
        .map(|name| {
            let mut controller = load_controller(name, models_dir)?;
            Ok(run(&spec, controller.as_mut()))
        })
        .collect()
}

fn run(
    spec: &EpisodeSpec,
    controller: &mut dyn decide::lab::control::Controller,
) -> Counterfactual {
    let since_fault = |at: f64| at - WARM_UP_SECS;
    let mut taken = Vec::new();
    let mut steps = Vec::new();
    let mut first_action_s = None;
    let (report, _) = run_episode_observed(
        spec,
        controller,
        &SafetyConfig::default(),
        |at, proposal| {
            let t = since_fault(at);
            if proposal.command.deployment == PLAYED_DEPLOYMENT && t >= 0.0 {
                first_action_s.get_or_insert(t);
            }
            taken.push(TakenAction {
                t_secs: t,
                action: proposal.command.action.action().to_string(),
                why: proposal.explanation.summary(),
            });
        },
        |views| {
            if let Some(v) = views.get(PLAYED_DEPLOYMENT) {
                steps.push(Step {
                    t_secs: since_fault(v.at_secs),
                    demand_rps: v.demand_rps,
                    desired: v.desired,
                    serving: v.serving,
                    crashing: v.crashing,
                    violated: v.violated,
                    diagnosis: v.signal.map_or(FaultClass::Normal, |s| s.fault).to_string(),
                });
            }
        },
    );
    let detection_delay_s = steps
        .iter()
        .find(|s| s.t_secs >= 0.0 && s.diagnosis != FaultClass::Normal.to_string())
        .map(|s| s.t_secs);
    let recovery = report.recoveries.first();
    Counterfactual {
        policy: controller.id(),
        detection_delay_s,
        first_action_s,
        mttr_s: recovery.map_or(0.0, |r| r.recovery_s),
        recovered: recovery.is_some_and(|r| r.recovered),
        sla_violation_minutes: report.sla_violation_minutes,
        actions: report.actions,
        escalations: report.escalations,
        steps,
        taken,
    }
}
