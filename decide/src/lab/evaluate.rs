//! Policy evaluation: run a policy on a trace and scenario over several seeds and summarise the
//! measurements with 95 % confidence intervals; load any policy by name or directory.

use crate::lab::arbitration::SafetyConfig;
use crate::lab::baselines::{Hpa, HpaConfig, Manual, ThresholdRules};
use crate::lab::control::{Controller, EpisodeSpec, run_episode};
use crate::lab::rl::LearnedPolicy;
use crate::lab::twin::{ClusterSpec, EpisodeReport, Scenario, Trace, TwinOptions};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The file a calibrated rule policy is saved in (`spec.json` with `{"algo":"rules","target":…}`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RulesSpec {
    /// Always `rules`.
    pub algo: String,
    /// The calibrated utilisation target.
    pub target: f64,
}

/// Loads a policy: `hpa`, `manual`, `rules` (the calibrated rules in `models/policy-rules`, or target 0.7
/// when that is missing), or a directory written by `medic train policy`.
///
/// # Errors
/// Unknown names, unreadable or incompatible policy directories.
pub fn load_controller(name: &str, models_dir: &Path) -> Result<Box<dyn Controller>, String> {
    match name {
        "hpa" => return Ok(Box::new(Hpa::new(HpaConfig::default()))),
        "manual" => return Ok(Box::new(Manual::new(HpaConfig::default()))),
        _ => {}
    }
    // The rules at a utilisation target of their own (`rules@cpu45`: 45 %), for sweeps of their front.
    if let Some(percent) = name.strip_prefix("rules@cpu") {
        return match percent.parse::<u32>() {
            Ok(p) if (10..=95).contains(&p) => {
                Ok(Box::new(ThresholdRules::new(f64::from(p) / 100.0)))
            }
            _ => Err(format!(
                "policy {name:?}: the rules' target is a whole percentage from 10 to 95 (rules@cpu60)"
            )),
        };
    }
    let dir = match name {
        "rules" | "ppo" | "dqn" => models_dir.join(format!("policy-{name}")),
        path => Path::new(path).to_path_buf(),
    };
    let spec_path = dir.join("spec.json");
    let text = match std::fs::read_to_string(&spec_path) {
        Ok(text) => text,
        Err(_) if name == "rules" => return Ok(Box::new(ThresholdRules::new(0.7))),
        Err(e) => {
            return Err(format!(
                "policy {name:?}: cannot read {} ({e}); use hpa, manual, rules, ppo, dqn or a directory written by `medic train policy`",
                spec_path.display()
            ));
        }
    };
    if let Ok(rules) = serde_json::from_str::<RulesSpec>(&text)
        && rules.algo == "rules"
    {
        return Ok(Box::new(ThresholdRules::new(rules.target)));
    }
    LearnedPolicy::load(&dir)
        .map(|p| Box::new(p) as Box<dyn Controller>)
        .map_err(|e| format!("policy {name:?}: {e}"))
}

/// A mean with the half-width of its 95 % confidence interval (Student t over the seeds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Mean over seeds.
    pub mean: f64,
    /// Half-width of the 95 % interval (0 with one seed).
    pub ci95: f64,
}

/// Mean and 95 % interval of `values`.
#[must_use]
pub fn estimate(values: &[f64]) -> Estimate {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n.max(1) as f64;
    if n < 2 {
        return Estimate { mean, ci95: 0.0 };
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    // Two-sided 97.5 % Student t quantiles for 1..=30 degrees of freedom, then the normal value.
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    let t = T.get(n - 2).copied().unwrap_or(1.96);
    Estimate {
        mean,
        ci95: t * (var / n as f64).sqrt(),
    }
}

/// What `medic eval policy` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyEvaluation {
    /// The policy id.
    pub policy: String,
    /// The trace (file#column).
    pub trace: String,
    /// The scenario file, if any.
    pub scenario: Option<String>,
    /// Seeds run.
    pub seeds: Vec<u64>,
    /// Minutes a deployment violated its SLA (summed over deployments), mean over seeds.
    pub sla_violation_minutes: f64,
    /// The part of it spent in dependency outages (no local action fixes those), mean over seeds.
    pub sla_minutes_in_dependency_outages: f64,
    /// The part of it outside outages with demand beyond the replica ceiling, in the first
    /// `human_response_secs` of each such stretch (no action fixes those either), mean over seeds.
    pub sla_minutes_beyond_ceiling: f64,
    /// SLA-violation minutes some action could have avoided (neither of the two above), mean over
    /// seeds.
    pub fixable_sla_minutes: f64,
    /// Traffic spikes that took demand beyond the replica ceiling, mean over seeds.
    pub spikes_beyond_ceiling: f64,
    /// Mean seconds from fault start to recovery, mean over seeds.
    pub mttr_s: f64,
    /// The same over the faults an action can fix (dependency outages and spikes beyond the replica
    /// ceiling left out, as from the fixable SLA minutes), mean over seeds.
    pub mttr_fixable_s: f64,
    /// CPU used / requested, mean over seeds.
    pub mean_cpu_utilisation: f64,
    /// Scheduled pods × minutes, mean over seeds.
    pub replica_minutes: f64,
    /// Commands that changed the cluster, mean over seeds.
    pub actions: f64,
    /// Escalations, mean over seeds.
    pub escalations: f64,
    /// Faults not recovered by the end, mean over seeds.
    pub unrecovered: f64,
    /// Failed share of requests, mean over seeds.
    pub error_rate: f64,
    /// The training objective's cost ([`crate::lab::objective::cost`]; lower is better), mean over seeds.
    pub objective: f64,
    /// Mean seconds to recovery per fault kind, over every seed's faults (`traffic_spike_beyond_ceiling`: the
    /// spikes that were not [`Recovery::fixable`](crate::lab::twin::Recovery::fixable)).
    pub mttr_s_by_kind: BTreeMap<String, f64>,
    /// The same measurements with their 95 % intervals.
    pub ci95: BTreeMap<String, Estimate>,
    /// Every seed's report.
    pub per_seed: Vec<EpisodeReport>,
}

/// Reads one measurement from a report.
type Measure = fn(&EpisodeReport) -> f64;

/// One evaluation setting.
#[derive(Debug, Clone)]
pub struct EvalSetup {
    /// The cluster.
    pub cluster: ClusterSpec,
    /// The trace, scaled.
    pub trace: Trace,
    /// The scenario and its file name.
    pub scenario: Option<(String, Scenario)>,
    /// Simulated seconds (default: the whole trace).
    pub horizon_secs: f64,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Twin options (the seed is replaced per run).
    pub options: TwinOptions,
    /// Arbiter limits.
    pub safety: SafetyConfig,
}

impl EvalSetup {
    /// The run for `seed`: the scenario's faults drawn with it, the twin seeded with it.
    ///
    /// # Errors
    /// A scenario that does not fit the cluster.
    pub fn episode(&self, seed: u64) -> Result<EpisodeSpec, String> {
        let plan = match &self.scenario {
            Some((_, scenario)) => scenario.plan(&self.cluster, seed, self.horizon_secs)?,
            None => Vec::new(),
        };
        Ok(EpisodeSpec {
            cluster: self.cluster.clone(),
            trace: self.trace.clone(),
            plan,
            horizon_secs: self.horizon_secs,
            options: TwinOptions {
                seed,
                ..self.options.clone()
            },
        })
    }
}

/// Runs `load()` (a fresh controller per seed) over every seed of `setup`.
///
/// # Errors
/// A scenario that does not fit the cluster.
pub fn evaluate(
    load: &dyn Fn() -> Result<Box<dyn Controller>, String>,
    setup: &EvalSetup,
) -> Result<PolicyEvaluation, String> {
    let mut reports = Vec::new();
    let mut policy = String::new();
    for seed in &setup.seeds {
        let spec = setup.episode(*seed)?;
        let mut controller = load()?;
        policy = controller.id();
        reports.push(run_episode(
            &spec,
            controller.as_mut(),
            &setup.safety,
            |_, _| {},
        ));
    }
    let field = |f: fn(&EpisodeReport) -> f64| estimate(&reports.iter().map(f).collect::<Vec<_>>());
    let fields: [(&str, Measure); 14] = [
        ("objective", crate::lab::objective::cost),
        ("sla_violation_minutes", |r| r.sla_violation_minutes),
        ("sla_minutes_in_dependency_outages", |r| {
            r.sla_minutes_in_dependency_outages
        }),
        ("sla_minutes_beyond_ceiling", |r| {
            r.sla_minutes_beyond_ceiling
        }),
        ("fixable_sla_minutes", EpisodeReport::fixable_sla_minutes),
        ("spikes_beyond_ceiling", |r| r.spikes_beyond_ceiling as f64),
        ("mttr_s", |r| r.mttr_s),
        ("mttr_fixable_s", |r| r.mttr_fixable_s),
        ("mean_cpu_utilisation", |r| r.mean_cpu_utilisation),
        ("replica_minutes", |r| r.replica_minutes),
        ("actions", |r| r.actions as f64),
        ("escalations", |r| r.escalations as f64),
        ("unrecovered", |r| r.unrecovered as f64),
        ("error_rate", |r| r.error_rate),
    ];
    let ci95: BTreeMap<String, Estimate> = fields
        .iter()
        .map(|(k, f)| ((*k).to_owned(), field(*f)))
        .collect();
    let mean = |k: &str| ci95.get(k).map_or(0.0, |e| e.mean);
    let mut by_kind: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for r in reports.iter().flat_map(|r| &r.recoveries) {
        // Spikes beyond the replica ceiling apart from the others (only a paged human ends them early).
        let kind = if r.kind.is_fixable() && !r.fixable {
            format!("{}_beyond_ceiling", r.kind.name())
        } else {
            r.kind.name().to_owned()
        };
        let entry = by_kind.entry(kind).or_default();
        entry.0 += r.recovery_s;
        entry.1 += 1;
    }
    let mttr_s_by_kind = by_kind
        .into_iter()
        .map(|(k, (sum, n))| (k, sum / n as f64))
        .collect();
    Ok(PolicyEvaluation {
        policy,
        trace: setup.trace.source.clone(),
        scenario: setup.scenario.as_ref().map(|(name, _)| name.clone()),
        seeds: setup.seeds.clone(),
        sla_violation_minutes: mean("sla_violation_minutes"),
        sla_minutes_in_dependency_outages: mean("sla_minutes_in_dependency_outages"),
        sla_minutes_beyond_ceiling: mean("sla_minutes_beyond_ceiling"),
        spikes_beyond_ceiling: mean("spikes_beyond_ceiling"),
        fixable_sla_minutes: mean("fixable_sla_minutes"),
        mttr_s: mean("mttr_s"),
        mttr_fixable_s: mean("mttr_fixable_s"),
        mean_cpu_utilisation: mean("mean_cpu_utilisation"),
        replica_minutes: mean("replica_minutes"),
        actions: mean("actions"),
        escalations: mean("escalations"),
        unrecovered: mean("unrecovered"),
        error_rate: mean("error_rate"),
        objective: mean("objective"),
        mttr_s_by_kind,
        ci95,
        per_seed: reports,
    })
}

/// The demo's comparison: every policy on the same day — a diurnal trace peaking at 1000 requests/s
/// with `decide/scenarios/mixed.toml`'s faults (embedded) — one seed. Policies that cannot be loaded
/// are reported as errors in their row.
#[must_use]
pub fn demo_comparison(models_dir: &Path) -> Vec<(String, Result<EpisodeReport, String>)> {
    let scenario: Scenario = match toml::from_str(include_str!("../../scenarios/mixed.toml")) {
        Ok(s) => s,
        Err(e) => return vec![("mixed.toml".into(), Err(e.to_string()))],
    };
    let spec = EpisodeSpec::diurnal_day(&scenario, 1);
    ["hpa", "manual", "rules", "ppo", "dqn"]
        .iter()
        .map(|name| match load_controller(name, models_dir) {
            Ok(mut controller) => (
                controller.id(),
                Ok(run_episode(
                    &spec,
                    controller.as_mut(),
                    &SafetyConfig::default(),
                    |_, _| {},
                )),
            ),
            Err(e) => ((*name).to_owned(), Err(e)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_use_student_t() {
        let e = estimate(&[1.0, 2.0, 3.0]);
        assert!((e.mean - 2.0).abs() < 1e-12);
        assert!((e.ci95 - 4.303 * (1.0f64 / 3.0).sqrt()).abs() < 1e-9);
        assert_eq!(estimate(&[5.0]).ci95, 0.0);
    }

    #[test]
    fn the_rules_load_at_any_target_of_a_sweep() {
        let models = Path::new("/nonexistent");
        let id = |name: &str| load_controller(name, models).map(|c| c.id());
        assert_eq!(id("rules@cpu45"), Ok("rules@cpu45".to_owned()));
        assert!(id("rules@cpu5").is_err());
        assert!(id("rules@cpuX").is_err());
    }
}
