//! `medic replay`: a historical incident (a bundle directory, or a window of a Kafka topic) through the
//! whole pipeline on an in-process broker, with counterfactual policies and the report.

use crate::cmd::replay::{
    Bundle, Manifest, Pace, ReplayOptions, ReplaySummary, compare, replay, report, story,
};
use crate::config::load_pipeline;
use anyhow::{Context, anyhow, bail};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `medic replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Incident bundle directory (see incidents/README.md).
    #[arg(required_unless_present = "from_kafka", conflicts_with = "from_kafka")]
    pub bundle: Option<PathBuf>,
    /// Replay this topic of the pipeline's Kafka (`[kafka] brokers`) instead, between --start and
    /// --end, found by record timestamp.
    #[arg(long, requires_all = ["start", "end"])]
    pub from_kafka: Option<String>,
    /// With --from-kafka: also replay the workload states the observer wrote to this topic (the
    /// pipeline's `medic.state`), from `decide.state_max_age` before --start to --end, so decide
    /// decides on the states it had.
    #[arg(long, requires = "from_kafka")]
    pub state_topic: Option<String>,
    /// Start of the Kafka window (RFC 3339).
    #[arg(long)]
    pub start: Option<String>,
    /// End of the Kafka window (RFC 3339).
    #[arg(long)]
    pub end: Option<String>,
    /// Producers stamp their own times, so a partition is not in time order: it is read past --end
    /// until a record this many seconds later than --end turns up (or its end is reached).
    #[arg(long, default_value_t = 300)]
    pub lateness_secs: u64,
    /// Pipeline file layered over the embedded default (stage settings; its brokers are only read for
    /// --from-kafka: the replay itself always runs on an in-process broker, actuator in log mode).
    #[arg(long, short)]
    pub pipeline: Option<PathBuf>,
    /// Feed at the original pace × this factor (1 = real time). Default: as fast as possible.
    #[arg(long)]
    pub speed: Option<f64>,
    /// Also run the incident on the digital twin under each of these policies (comma-separated:
    /// hpa, manual, rules, ppo, dqn or a policy directory) and score them.
    #[arg(long, value_delimiter = ',')]
    pub compare: Vec<String>,
    /// Write the HTML report here (and the JSON summary next to it, as .json).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Print the JSON summary instead of the timeline.
    #[arg(long)]
    pub json: bool,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
}

fn millis(text: &str) -> anyhow::Result<i64> {
    Ok(chrono::DateTime::parse_from_rfc3339(text)
        .with_context(|| format!("{text:?} is not an RFC 3339 time (e.g. 2026-03-14T09:00:00Z)"))?
        .timestamp_millis())
}

fn load_bundle(args: &Args, config: &crate::config::PipelineConfig) -> anyhow::Result<Bundle> {
    let kafka = &config.kafka;
    if let Some(dir) = &args.bundle {
        return Bundle::load(dir).map_err(|e| anyhow!(e));
    }
    let topic = args.from_kafka.as_deref().unwrap_or_default();
    let (start, end) = (
        args.start.as_deref().unwrap_or_default(),
        args.end.as_deref().unwrap_or_default(),
    );
    let (start_ms, end_ms) = (millis(start)?, millis(end)?);
    if end_ms < start_ms {
        bail!("--end {end} is before --start {start}");
    }
    let read = |topic: &str, window: std::ops::RangeInclusive<i64>| {
        crate::cmd::replay::from_kafka::read_window(
            kafka,
            topic,
            window,
            Duration::from_secs(args.lateness_secs),
            Duration::from_secs(args.timeout_secs),
        )
        .with_context(|| format!("reading {topic} from {}", kafka.brokers))
    };
    let inputs = read(topic, start_ms..=end_ms)?;
    if inputs.is_empty() {
        bail!("no record of {topic} has a timestamp between {start} and {end}");
    }
    let mut states = Vec::new();
    if let Some(state_topic) = &args.state_topic {
        let since_ms = start_ms.saturating_sub(config.decide.state_max_age.as_nanos() / 1_000_000);
        let mut refused = 0;
        for input in read(state_topic, since_ms..=end_ms)? {
            match crate::cmd::replay::bundle::workload_state(&input.payload) {
                Ok(state) => states.push(state),
                Err(error) => {
                    refused += 1;
                    tracing::warn!(topic = %state_topic, %error, "not a workload state: left out");
                }
            }
        }
        if refused > 0 {
            eprintln!(
                "medic replay: {refused} record(s) of {state_topic} are not workload states of this \
                 version and were left out"
            );
        }
        states.sort_by_key(|s| s.event_time_ns);
    }
    Ok(Bundle {
        dir: PathBuf::from(format!("kafka-{topic}")),
        manifest: Manifest {
            title: format!("{topic} from {start} to {end}"),
            source: format!("Kafka {} topic {topic}", kafka.brokers),
            ..Manifest::default()
        },
        inputs,
        states,
    })
}

/// Runs `medic replay`.
///
/// # Errors
/// Invalid arguments, an unreadable bundle or topic, a failed replay, an unwritable report.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let loaded = load_pipeline(args.pipeline.as_deref(), std::env::vars())?.warned();
    let config = loaded.config;
    let bundle = load_bundle(args, &config)?;
    let pace = match args.speed {
        Some(f) if f > 0.0 && f.is_finite() => Pace::Speed(f),
        Some(f) => bail!("--speed {f}: give a factor above 0"),
        None => Pace::AsFastAsPossible,
    };
    let options = ReplayOptions {
        pace,
        timeout: Duration::from_secs(args.timeout_secs),
        ..ReplayOptions::default()
    };
    let mut stdout = std::io::stdout();
    if !args.json {
        let _ = writeln!(
            stdout,
            "medic replay: {} — {} records ({}), in-process broker, actuator in log mode\n",
            bundle.manifest.title,
            bundle.inputs.len(),
            match pace {
                Pace::AsFastAsPossible => "as fast as possible".to_owned(),
                Pace::Speed(f) => format!("original pace × {f}"),
            }
        );
    }
    let replayed = crate::cmd::tokio_runtime()?.block_on(replay(
        config,
        &bundle.inputs,
        &bundle.states,
        &options,
        &mut |_| {},
    ))?;
    if !args.json {
        let _ = write!(stdout, "{}", story::render(&replayed.recording));
    }
    let counterfactual = if args.compare.is_empty() {
        Vec::new()
    } else {
        compare::compare(
            &bundle,
            &replayed.recording,
            &args.compare,
            &crate::cmd::policy::models_dir(),
        )
        .map_err(|e| anyhow!(e))?
    };
    let summary = ReplaySummary::new(&bundle, &replayed, pace, counterfactual);
    if let Some(path) = &args.report {
        write_report(path, &bundle, &replayed.recording, &summary)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_outcome(&mut stdout, &summary, args.report.as_deref());
    }
    Ok(ExitCode::SUCCESS)
}

fn write_report(
    path: &Path,
    bundle: &Bundle,
    recording: &crate::cmd::replay::Recording,
    summary: &ReplaySummary,
) -> anyhow::Result<()> {
    let html = report::render(bundle, recording, summary);
    std::fs::write(path, html).with_context(|| format!("writing {}", path.display()))?;
    let json_path = path.with_extension("json");
    std::fs::write(&json_path, serde_json::to_string_pretty(summary)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    Ok(())
}

fn print_outcome(out: &mut dyn Write, summary: &ReplaySummary, report: Option<&Path>) {
    let _ = writeln!(out, "\nstages:");
    for (stage, c) in &summary.stages {
        let _ = writeln!(
            out,
            "  {stage:<9} {:>5} in → {:>5} out, {} dead-lettered",
            c.records_in, c.records_out, c.dead_lettered
        );
    }
    if let Some(v) = &summary.verdict {
        let secs = |d: Option<f64>| d.map_or_else(|| "—".to_owned(), |d| format!("{d:.0} s"));
        let _ = writeln!(
            out,
            "\nverdict ({} from {}): detected {} {} after {}; remedied {} {} after {}; {} other alarms; \
             {} wrong actions{}",
            v.workload,
            v.fault_at,
            if v.detected { "yes" } else { "NO" },
            v.detected_as.as_deref().unwrap_or(""),
            secs(v.detection_delay_s),
            if v.remedied { "yes" } else { "NO" },
            v.remedy.as_deref().unwrap_or(""),
            secs(v.remedy_delay_s),
            v.other_alarms,
            v.wrong_actions.len(),
            if v.wrong_actions.is_empty() {
                String::new()
            } else {
                format!(" ({})", v.wrong_actions.join("; "))
            }
        );
    }
    if !summary.counterfactual.is_empty() {
        let _ = writeln!(
            out,
            "\ncounterfactual on the digital twin (same diagnoses, seed and load):\n  {:<16} {:>10} {:>12} {:>8} {:>9} {:>8} {:>8} {:>11}",
            "policy",
            "detected",
            "first act",
            "MTTR s",
            "recovered",
            "SLA min",
            "actions",
            "escalations"
        );
        for r in &summary.counterfactual {
            let secs = |d: Option<f64>| d.map_or_else(|| "—".to_owned(), |d| format!("{d:.0} s"));
            let _ = writeln!(
                out,
                "  {:<16} {:>10} {:>12} {:>8.0} {:>9} {:>8.1} {:>8} {:>11}",
                r.policy,
                secs(r.detection_delay_s),
                secs(r.first_action_s),
                r.mttr_s,
                if r.recovered { "yes" } else { "no" },
                r.sla_violation_minutes,
                r.actions,
                r.escalations
            );
        }
    }
    if let Some(path) = report {
        let _ = writeln!(
            out,
            "\nreport: {} (summary: {})",
            path.display(),
            path.with_extension("json").display()
        );
    }
}
