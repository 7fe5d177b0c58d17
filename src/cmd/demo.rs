//! `medic demo`: the whole loop in one process, on an in-process Kafka-protocol broker (librdkafka's mock
//! cluster, so the same client code runs as in production), fed with the bundled incident — a replay
//! (`crate::cmd::replay`) of `incidents/checkout-oom-crashloop`, embedded so the binary needs no files.

use crate::cmd::replay::{Bundle, Pace, ReplayError, ReplayOptions, replay, story};
use crate::config::{DEFAULT_PIPELINE, PipelineConfig};
use crate::stages::StageName;
use runtime::telemetry::metrics::Metrics;
use schemas::RecordKind;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// The bundled incident: its manifest, `(path in the bundle, CRI lines)` per pod, and the Events.
const INCIDENT_DIR: &str = "incidents/checkout-oom-crashloop";
const MANIFEST: &str = include_str!("../../incidents/checkout-oom-crashloop/incident.toml");
/// Also the load of `medic bench e2e`.
pub(crate) const POD_LOGS: [(&str, &str); 2] = [
    (
        "pods/shop_checkout-6b8f7d9c4d-7xk2p_5f1c9a8e-2b7d-4c3e-9a61-0d2f8b7c6e51/app/0.log",
        include_str!(
            "../../incidents/checkout-oom-crashloop/pods/shop_checkout-6b8f7d9c4d-7xk2p_5f1c9a8e-2b7d-4c3e-9a61-0d2f8b7c6e51/app/0.log"
        ),
    ),
    (
        "pods/shop_checkout-6b8f7d9c4d-q9w4z_a3e47b12-9c5d-4f80-b6e2-7c1d9e0f3a24/app/0.log",
        include_str!(
            "../../incidents/checkout-oom-crashloop/pods/shop_checkout-6b8f7d9c4d-q9w4z_a3e47b12-9c5d-4f80-b6e2-7c1d9e0f3a24/app/0.log"
        ),
    ),
];
pub(crate) const EVENTS: &str = include_str!("../../incidents/checkout-oom-crashloop/events.jsonl");
/// What the observer wrote of the incident's Deployment (`medic.state`).
const STATES: &str = include_str!("../../incidents/checkout-oom-crashloop/states.jsonl");

/// The learned policy the demo runs in the shadow of the rules, when its directory is there (the
/// repository's `models/`; the binary embeds no model).
pub const SHADOW_POLICY: &str = "models/policy-ppo";

/// The bundled incident, from the copy embedded in the binary.
///
/// # Errors
/// Only if the embedded files are broken (a build defect).
pub fn embedded_incident() -> Result<Bundle, crate::cmd::replay::BundleError> {
    let mut files: Vec<(PathBuf, String)> = POD_LOGS
        .iter()
        .map(|(path, text)| (PathBuf::from(path), (*text).to_owned()))
        .collect();
    files.push((PathBuf::from("events.jsonl"), EVENTS.to_owned()));
    files.push((
        PathBuf::from(crate::cmd::replay::STATES_FILE),
        STATES.to_owned(),
    ));
    Bundle::from_files(Path::new(INCIDENT_DIR), MANIFEST, files)
}

/// Options of `medic demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Give up after this long.
    pub timeout: Duration,
    /// The learned policy decide runs in shadow mode beside the rules, if its directory exists
    /// (default [`SHADOW_POLICY`]).
    pub shadow_policy: Option<PathBuf>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(100),
            shadow_policy: Some(PathBuf::from(SHADOW_POLICY)),
        }
    }
}

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The replay failed.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The embedded incident or pipeline did not parse (a build defect).
    #[error("embedded incident: {0}")]
    Embedded(String),
    /// The loop did not close.
    #[error("no remediation result: the loop did not close (see the log above)")]
    NotClosed,
}

/// What the demo saw, for its summary and for tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    /// Records fed into the source topic.
    pub fed: u64,
    /// Diagnoses seen.
    pub diagnoses: u64,
    /// Decisions seen.
    pub decisions: u64,
    /// Commands seen on the actuation topic.
    pub commands: u64,
    /// Action results seen.
    pub results: u64,
    /// Dead letters seen.
    pub dead_letters: u64,
}

/// Runs the demo, printing the timeline to `out`.
///
/// # Errors
/// [`DemoError`] when the broker, a stage or the loop fails.
pub async fn run_demo(
    options: &DemoOptions,
    out: &mut (dyn Write + Send),
) -> Result<DemoSummary, DemoError> {
    let bundle = embedded_incident().map_err(|e| DemoError::Embedded(e.to_string()))?;
    let mut config: PipelineConfig =
        toml::from_str(DEFAULT_PIPELINE).map_err(|e| DemoError::Embedded(e.to_string()))?;
    let source_topic = config.ingest.sources[0].topic();
    let _ = writeln!(
        out,
        "medic demo: replaying incident `{}` ({} records: CRI container lines and Kubernetes Events, and \
         {} workload states as the observer wrote them)\nthrough an in-process Kafka broker: {} → {}",
        bundle.name(),
        bundle.inputs.len(),
        bundle.states.len(),
        source_topic,
        StageName::ALL.map(StageName::as_str).join(" → ")
    );
    let mut shadowed = config.decide.clone();
    match options.shadow_policy.as_deref().filter(|p| p.is_dir()) {
        Some(policy) => {
            shadowed.policy = policy.display().to_string();
            shadowed.mode = decide::DecideMode::Shadow;
            match shadowed.build() {
                Ok(_) => {
                    config.decide = shadowed;
                    let _ = writeln!(
                        out,
                        "decide: the rules act; the learned policy {} decides each diagnosis too, in \
                         shadow mode (SHADOW lines: through its arbiter, never acted on)\n",
                        policy.display()
                    );
                }
                Err(problems) => {
                    let _ = writeln!(
                        out,
                        "decide: the rules (the learned policy {} cannot be served: {})\n",
                        policy.display(),
                        problems
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; ")
                    );
                }
            }
        }
        None => {
            let why = options.shadow_policy.as_deref().map_or_else(
                || "alone, as asked".to_owned(),
                |p| {
                    format!(
                        "alone: no learned policy at {} (run from the repository)",
                        p.display()
                    )
                },
            );
            let _ = writeln!(out, "decide: the rules {why}\n");
        }
    }
    let replay_options = ReplayOptions {
        pace: Pace::AsFastAsPossible,
        timeout: options.timeout,
        partitions: 1,
    };
    let replayed = replay(
        config,
        &bundle.inputs,
        &bundle.states,
        &replay_options,
        &mut |_| {},
    )
    .await?;
    let _ = write!(out, "{}", story::render(&replayed.recording));
    let seen = &replayed.recording;
    let summary = DemoSummary {
        fed: replayed.fed,
        diagnoses: seen.diagnoses.len() as u64,
        decisions: seen.decisions.len() as u64,
        commands: seen.commands.len() as u64,
        results: seen.results.len() as u64,
        dead_letters: seen.dead_letters.len() as u64,
    };
    if summary.results == 0 {
        return Err(DemoError::NotClosed);
    }
    print_summary(out, &replayed.metrics, &summary, replayed.elapsed);
    print_twin_comparison(out);
    Ok(summary)
}

/// The policies on the digital twin: one simulated day with every fault type.
fn print_twin_comparison(out: &mut (dyn Write + Send)) {
    let _ = writeln!(
        out,
        "\ndigital twin: one simulated day (diurnal trace, peak 1000 req/s, every fault type of \
         decide/scenarios/mixed.toml), same seed for every policy:"
    );
    let _ = writeln!(
        out,
        "  {:<18} {:>9} {:>8} {:>9} {:>13} {:>8} {:>12}",
        "policy", "SLA min", "MTTR s", "CPU util", "replica-min", "actions", "escalations"
    );
    for (policy, report) in decide::lab::evaluate::demo_comparison(std::path::Path::new("models")) {
        let _ = match report {
            Ok(r) => writeln!(
                out,
                "  {policy:<18} {:>9.1} {:>8.0} {:>9.3} {:>13.0} {:>8} {:>12}",
                r.sla_violation_minutes,
                r.mttr_s,
                r.mean_cpu_utilisation,
                r.replica_minutes,
                r.actions,
                r.escalations
            ),
            Err(e) => writeln!(out, "  {policy:<18} not available: {e}"),
        };
    }
}

fn print_summary(
    out: &mut (dyn Write + Send),
    metrics: &Metrics,
    summary: &DemoSummary,
    elapsed: Duration,
) {
    let stage_line = |stage: StageName, kind: RecordKind| {
        let name = stage.as_str();
        format!(
            "  {name:<9} {:>4} in → {:>4} {} out, {} dead-lettered{}",
            metrics.records_in(name),
            metrics.records_out(name, kind),
            kind.as_str(),
            metrics.dead_lettered(name),
            if stage == StageName::Decide {
                " (in: diagnoses and workload states)"
            } else {
                ""
            }
        )
    };
    let _ = writeln!(out, "\nsummary ({:.1}s):", elapsed.as_secs_f64());
    let _ = writeln!(
        out,
        "  fed       {:>4} records into the source topic",
        summary.fed
    );
    for (stage, kind) in crate::cmd::replay::summary::STAGE_OUTPUTS {
        let _ = writeln!(out, "{}", stage_line(stage, kind));
    }
    let _ = writeln!(
        out,
        "  enrich    {:>4} window_features out\n\nThe actuator ran in `log` mode: nothing was changed; each command above is what medic would apply.",
        metrics.records_out(StageName::Enrich.as_str(), RecordKind::Window)
    );
}

/// The flags of `medic demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 100)]
    pub timeout_secs: u64,
    /// The learned policy to run in shadow mode beside the rules (skipped when the directory is
    /// missing).
    #[arg(long, default_value = SHADOW_POLICY)]
    pub shadow_policy: PathBuf,
    /// Run the rules alone, without a learned policy in their shadow.
    #[arg(long)]
    pub rules_only: bool,
}

/// Runs the demo, printing the timeline on stdout.
///
/// # Errors
/// As [`run_demo`].
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let options = DemoOptions {
        timeout: Duration::from_secs(args.timeout_secs),
        shadow_policy: (!args.rules_only).then(|| args.shadow_policy.clone()),
    };
    let mut stdout = std::io::stdout();
    super::tokio_runtime()?.block_on(run_demo(&options, &mut stdout))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_incident_is_the_bundle_on_disk() {
        let embedded = embedded_incident().expect("embedded bundle");
        let on_disk = Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(INCIDENT_DIR))
            .expect("bundle on disk");
        assert_eq!(embedded.inputs, on_disk.inputs);
        assert_eq!(embedded.states, on_disk.states);
        assert!(!embedded.states.is_empty());
        assert_eq!(embedded.manifest, on_disk.manifest);
        assert!(
            embedded
                .inputs
                .iter()
                .any(|i| String::from_utf8_lossy(&i.payload).contains("OutOfMemoryError"))
        );
    }
}
