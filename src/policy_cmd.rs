//! `medic train policy`, `medic eval policy`, `medic simulate` and `medic bench twin`: the decide
//! issue's commands over the digital twin.

use anyhow::{Context, anyhow};
use decide::arbitration::SafetyConfig;
use decide::evaluate::{EvalSetup, PolicyEvaluation, evaluate, load_controller};
use decide::rl::Progress;
use decide::training::{Learner, TrainJob, train_policy};
use decide::twin::{ClusterSpec, Scenario, Trace, TwinOptions};
use schemas::span::Span;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where the committed policies live.
#[must_use]
pub fn models_dir() -> PathBuf {
    PathBuf::from("models")
}

/// The cluster of `--cluster FILE`, or the built-in three-service shop.
///
/// # Errors
/// Unreadable or invalid cluster files.
pub fn cluster(path: Option<&Path>) -> anyhow::Result<ClusterSpec> {
    match path {
        Some(path) => ClusterSpec::load(path).map_err(|e| anyhow!(e)),
        None => Ok(ClusterSpec::default()),
    }
}

/// Loads every `--trace`/`--column` pair, scaled to `peak_rps`.
///
/// # Errors
/// Mismatched pairs, unreadable traces.
pub fn traces(files: &[PathBuf], columns: &[String], peak_rps: f64) -> anyhow::Result<Vec<Trace>> {
    if files.len() != columns.len() || files.is_empty() {
        anyhow::bail!(
            "give one --column per --trace ({} traces, {} columns)",
            files.len(),
            columns.len()
        );
    }
    files
        .iter()
        .zip(columns)
        .map(|(f, c)| {
            Trace::load(f, c)
                .map(|t| t.scaled_to_peak(peak_rps))
                .map_err(|e| anyhow!(e))
        })
        .collect()
}

fn scenario(path: &Path, cluster: &ClusterSpec) -> anyhow::Result<(String, Scenario)> {
    let scenario = Scenario::load(path, cluster).map_err(|e| anyhow!(e))?;
    Ok((path.display().to_string(), scenario))
}

/// Settings of `medic train policy`.
#[derive(Debug, Clone)]
pub struct TrainArgs {
    /// `ppo`, `dqn` or `rules`.
    pub algo: String,
    /// Traces.
    pub traces: Vec<PathBuf>,
    /// Their columns.
    pub columns: Vec<String>,
    /// Training scenario.
    pub scenario: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// Seed.
    pub seed: u64,
    /// Peak request rate the traces are scaled to.
    pub peak_rps: f64,
    /// Hours per episode.
    pub episode_hours: f64,
    /// PPO iterations / DQN environment steps (0: the default).
    pub budget: usize,
    /// DQN actor threads.
    pub actors: usize,
    /// Cluster file.
    pub cluster: Option<PathBuf>,
}

/// `medic train policy`.
///
/// # Errors
/// Bad arguments, training or file errors.
pub fn train(args: &TrainArgs) -> anyhow::Result<serde_json::Value> {
    let cluster = cluster(args.cluster.as_deref())?;
    let learner = Learner::named(&args.algo, args.budget, args.actors).map_err(|e| anyhow!(e))?;
    let job = TrainJob {
        learner,
        traces: traces(&args.traces, &args.columns, args.peak_rps)?,
        scenario: scenario(&args.scenario, &cluster)?,
        cluster,
        episode_hours: args.episode_hours,
        safety: SafetyConfig::default(),
        options: TwinOptions::default(),
        seed: args.seed,
    };
    let card = train_policy(&job, &args.out, &mut |p: &Progress| {
        crate::progress::redraw(&format!(
            "{} {}  reward/step {:+.3}  loss {:.3}  {}",
            args.algo,
            crate::progress::bar(p.iteration, p.iterations),
            p.mean_reward,
            p.loss,
            if args.algo == "dqn" {
                format!("eps {:.2}", p.entropy)
            } else {
                format!("entropy {:.2}", p.entropy)
            }
        ));
    })
    .map_err(|e| anyhow!(e))?;
    eprintln!();
    Ok(card)
}

/// Settings of `medic eval policy` and `medic simulate`.
#[derive(Debug, Clone)]
pub struct EvalArgs {
    /// `hpa`, `manual`, `rules`, `ppo`, `dqn` or a directory.
    pub policy: String,
    /// Trace.
    pub trace: PathBuf,
    /// Its column.
    pub column: String,
    /// Scenario.
    pub scenario: Option<PathBuf>,
    /// First seed.
    pub seed: u64,
    /// Number of seeds (seed, seed+1, …).
    pub seeds: usize,
    /// Peak request rate.
    pub peak_rps: f64,
    /// Simulated hours (default: the whole trace).
    pub hours: Option<f64>,
    /// Cluster file.
    pub cluster: Option<PathBuf>,
    /// Probability the diagnosis names the wrong class.
    pub diagnosis_error: f64,
    /// Human response time to an escalation.
    pub human_response: Span,
}

fn eval_setup(args: &EvalArgs) -> anyhow::Result<EvalSetup> {
    let cluster = cluster(args.cluster.as_deref())?;
    let trace = traces(
        std::slice::from_ref(&args.trace),
        std::slice::from_ref(&args.column),
        args.peak_rps,
    )?
    .remove(0);
    let horizon_secs = args.hours.map_or(trace.duration_secs(), |h| h * 3_600.0);
    Ok(EvalSetup {
        scenario: args
            .scenario
            .as_deref()
            .map(|p| scenario(p, &cluster))
            .transpose()?,
        cluster,
        trace,
        horizon_secs,
        seeds: (0..args.seeds.max(1) as u64)
            .map(|i| args.seed + i)
            .collect(),
        options: TwinOptions {
            diagnosis_error: args.diagnosis_error,
            human_response_secs: args.human_response.as_nanos() as f64 / 1e9,
            ..TwinOptions::default()
        },
        safety: SafetyConfig::default(),
    })
}

/// `medic eval policy`.
///
/// # Errors
/// Bad arguments or policies.
pub fn eval(args: &EvalArgs) -> anyhow::Result<PolicyEvaluation> {
    let setup = eval_setup(args)?;
    let models = models_dir();
    evaluate(&|| load_controller(&args.policy, &models), &setup).map_err(|e| anyhow!(e))
}

/// One decision of a simulation, as written to `decisions.jsonl`.
#[derive(Debug, Serialize)]
struct SimDecision<'a> {
    at_secs: f64,
    deployment: &'a str,
    action: String,
    explanation: &'a decide::control::Explanation,
}

/// `medic simulate`: one run (first seed) writing the twin's logs (CRI container files and
/// `events.jsonl`) and every decision with its explanation under `out`; returns the run's report.
///
/// # Errors
/// Bad arguments, unwritable output.
pub fn simulate(args: &EvalArgs, out: &Path) -> anyhow::Result<decide::twin::EpisodeReport> {
    let setup = eval_setup(args)?;
    let plan = match &setup.scenario {
        Some((_, s)) => s
            .plan(&setup.cluster, args.seed, setup.horizon_secs)
            .map_err(|e| anyhow!(e))?,
        None => Vec::new(),
    };
    let spec = decide::control::EpisodeSpec {
        cluster: setup.cluster.clone(),
        trace: setup.trace.clone(),
        plan,
        horizon_secs: setup.horizon_secs,
        options: TwinOptions {
            seed: args.seed,
            record_events: true,
            ..setup.options.clone()
        },
    };
    let mut controller = load_controller(&args.policy, &models_dir()).map_err(|e| anyhow!(e))?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut decisions = String::new();
    let (report, events) = decide::control::run_episode_recording(
        &spec,
        controller.as_mut(),
        &setup.safety,
        |at, p| {
            let line = SimDecision {
                at_secs: at,
                deployment: &setup.cluster.deployments[p.command.deployment].name,
                action: p.command.action.action().to_string(),
                explanation: &p.explanation,
            };
            decisions.push_str(&serde_json::to_string(&line).unwrap_or_default());
            decisions.push('\n');
        },
    );
    let start = chrono::Utc::now().timestamp() - setup.horizon_secs as i64;
    decide::twin::logs::render(&events, &setup.cluster, start)
        .write_to(out)
        .with_context(|| format!("writing logs under {}", out.display()))?;
    std::fs::write(out.join("decisions.jsonl"), decisions)?;
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    Ok(report)
}
