//! `medic train policy`, `medic eval policy` and `medic simulate`: remediation policies trained, scored
//! and run on the digital twin (`decide::lab::twin`).

use anyhow::{Context, anyhow};
use decide::features::Remedies;
use decide::lab::arbitration::SafetyConfig;
use decide::lab::evaluate::{EvalSetup, PolicyEvaluation, evaluate, load_controller};
use decide::lab::rl::Progress;
use decide::lab::training::{Learner, TrainJob, train_policy};
use decide::lab::twin::{ClusterSpec, Scenario, Trace, TwinOptions};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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

/// The flags of `medic train policy`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// `ppo`, `dqn` or `rules`.
    #[arg(long)]
    pub algo: String,
    /// Training trace CSV; repeatable (pair each with a --column).
    #[arg(long, required = true)]
    pub trace: Vec<PathBuf>,
    /// Column of each trace (`row:N` for wide files).
    #[arg(long, required = true)]
    pub column: Vec<String>,
    /// Training scenario (its `[random]` faults are drawn per episode).
    #[arg(long, default_value = "decide/scenarios/train.toml")]
    pub scenario: PathBuf,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// The price of one replica-minute in the reward, in SLA-violation minutes (lower: a policy that
    /// keeps more replicas and fewer SLA-violation minutes).
    #[arg(long, default_value_t = decide::lab::objective::REPLICA_MINUTE_COST)]
    pub replica_minute_cost: f64,
    /// Traces are scaled so their peak is this many requests/s.
    #[arg(long, default_value_t = 1000.0)]
    pub peak_rps: f64,
    /// Simulated hours per training episode.
    #[arg(long, default_value_t = 12.0)]
    pub episode_hours: f64,
    /// PPO iterations or DQN environment steps (default: the algorithm's).
    #[arg(long, default_value_t = 0)]
    pub budget: usize,
    /// DQN actor threads.
    #[arg(long, default_value_t = 2)]
    pub actors: usize,
    /// Cluster TOML (default: the built-in shop).
    #[arg(long)]
    pub cluster: Option<PathBuf>,
    /// Who answers a confident diagnosis: `learned` (the network), `table` (the remedy table, as the
    /// rules do; the network decides everything else) or `table-fixes` (the table's remedies, but where
    /// its answer is a page the network chooses between paging and capacity). For ppo and dqn; saved in
    /// the policy's spec and served so.
    #[arg(long, value_enum, default_value = "learned")]
    pub remedies: RemediesArg,
}

/// `--remedies`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RemediesArg {
    /// The network answers every diagnosis.
    Learned,
    /// The remedy table answers confident diagnoses.
    Table,
    /// The remedy table answers confident diagnoses with its fixes; the network decides on pages.
    #[value(alias = "table_fixes")]
    TableFixes,
}

impl From<RemediesArg> for Remedies {
    fn from(arg: RemediesArg) -> Self {
        match arg {
            RemediesArg::Learned => Remedies::Learned,
            RemediesArg::Table => Remedies::Table,
            RemediesArg::TableFixes => Remedies::TableFixes,
        }
    }
}

/// `medic train policy`.
///
/// # Errors
/// Bad arguments, training or file errors.
pub fn train(args: &TrainArgs) -> anyhow::Result<serde_json::Value> {
    let cluster = cluster(args.cluster.as_deref())?;
    let learner = Learner::named(&args.algo, args.budget, args.actors).map_err(|e| anyhow!(e))?;
    let remedies = Remedies::from(args.remedies);
    let job = TrainJob {
        learner,
        traces: traces(&args.trace, &args.column, args.peak_rps)?,
        scenario: scenario(&args.scenario, &cluster)?,
        cluster,
        episode_hours: args.episode_hours,
        safety: SafetyConfig::default(),
        options: TwinOptions::default(),
        seed: args.seed,
        replica_minute_cost: args.replica_minute_cost,
        remedies,
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

/// The trace, scenario and cluster flags of `medic eval policy` and `medic simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct TwinArgs {
    /// Workload trace CSV (a long file with a value column, or a wide file with `--column row:N`).
    #[arg(long)]
    pub trace: PathBuf,
    /// The trace's column (`row:N` for wide files).
    #[arg(long)]
    pub column: String,
    /// Scenario TOML with the faults to inject (see decide/scenarios/).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// First seed; runs use seed, seed+1, … (`--seeds`).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of seeds.
    #[arg(long, default_value_t = 1)]
    pub seeds: usize,
    /// The trace is scaled so its peak is this many requests/s (to the frontend).
    #[arg(long, default_value_t = 1000.0)]
    pub peak_rps: f64,
    /// Simulated hours (default: the whole trace).
    #[arg(long)]
    pub hours: Option<f64>,
    /// Cluster TOML (default: the built-in 4-node, 3-deployment shop).
    #[arg(long)]
    pub cluster: Option<PathBuf>,
    /// Probability that the simulated diagnosis names the wrong fault class.
    #[arg(long, default_value_t = 0.1)]
    pub diagnosis_error: f64,
    /// How long a human takes to apply the fix after an escalation.
    #[arg(long, default_value = "15m", value_parser = schemas::span::Span::parse)]
    pub human_response: schemas::span::Span,
}

fn eval_setup(args: &TwinArgs) -> anyhow::Result<EvalSetup> {
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
pub fn eval(policy: &str, args: &TwinArgs) -> anyhow::Result<PolicyEvaluation> {
    let setup = eval_setup(args)?;
    let models = models_dir();
    evaluate(&|| load_controller(policy, &models), &setup).map_err(|e| anyhow!(e))
}

/// One decision of a simulation, as written to `decisions.jsonl`.
#[derive(Debug, Serialize)]
struct SimDecision<'a> {
    at_secs: f64,
    deployment: &'a str,
    action: String,
    explanation: &'a decide::lab::control::Explanation,
}

/// `medic simulate`: one run (first seed) writing the twin's logs (CRI container files and
/// `events.jsonl`) and every decision with its explanation under `out`; returns the run's report.
///
/// # Errors
/// Bad arguments, unwritable output.
pub fn simulate(
    policy: &str,
    args: &TwinArgs,
    out: &Path,
) -> anyhow::Result<decide::lab::twin::EpisodeReport> {
    let setup = eval_setup(args)?;
    let mut spec = setup.episode(args.seed).map_err(|e| anyhow!(e))?;
    spec.options.record_events = true;
    let mut controller = load_controller(policy, &models_dir()).map_err(|e| anyhow!(e))?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut decisions = String::new();
    let (report, events) = decide::lab::control::run_episode_recording(
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
    decide::lab::twin::logs::render(&events, &setup.cluster, start)
        .write_to(out)
        .with_context(|| format!("writing logs under {}", out.display()))?;
    std::fs::write(out.join("decisions.jsonl"), decisions)?;
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    Ok(report)
}

/// `medic train policy`.
///
/// # Errors
/// As [`train`].
pub fn train_command(args: &TrainArgs) -> anyhow::Result<ExitCode> {
    train(args)?;
    eprintln!("policy written to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

/// The flags of `medic eval policy`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// `hpa`, `manual`, `rules`, `ppo`, `dqn` (the committed models/policy-*) or a policy directory.
    #[arg(long)]
    pub policy: String,
    /// The trace, scenario and cluster of the run.
    #[command(flatten)]
    pub twin: TwinArgs,
}

/// `medic eval policy`: the evaluation as JSON.
///
/// # Errors
/// As [`eval`].
pub fn eval_command(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    super::print_json(&eval(&args.policy, &args.twin)?)
}

/// The flags of `medic simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// `hpa`, `manual`, `rules`, `ppo`, `dqn` or a policy directory.
    #[arg(long, default_value = "ppo")]
    pub policy: String,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// The trace, scenario and cluster of the run.
    #[command(flatten)]
    pub twin: TwinArgs,
}

/// `medic simulate`: the run's report as JSON.
///
/// # Errors
/// As [`simulate`].
pub fn simulate_command(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    let report = simulate(&args.policy, &args.twin, &args.out)?;
    eprintln!(
        "logs, decisions.jsonl and report.json written under {}",
        args.out.display()
    );
    super::print_json(&report)
}
