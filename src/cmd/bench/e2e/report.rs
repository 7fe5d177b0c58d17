//! The report: lines/s, latency percentiles from a line to its command, and per-stage figures.

use super::*;

/// What `medic bench e2e` prints.
#[derive(Debug, Clone, Serialize)]
pub struct E2eReport {
    /// `"e2e"`.
    pub bench: &'static str,
    /// Lines fed.
    pub lines: u64,
    /// `--rate`, when paced.
    pub rate: Option<f64>,
    /// The broker (for the embedded one, its address).
    pub brokers: String,
    /// Whether the broker was the embedded mock cluster.
    pub embedded_broker: bool,
    /// Partitions of every topic but the checkpoint topic.
    pub partitions: i32,
    /// Workloads mid-incident at a time.
    pub workloads: usize,
    /// Lines fed but not yet processed by enrich, at most (`--max-in-flight` or its default).
    pub max_in_flight: u64,
    /// `debug` or `release` (of this binary and so of the stage processes).
    pub profile: &'static str,
    /// The pipeline file, or the embedded default.
    pub pipeline: String,
    /// The diagnose model that ran.
    pub diagnose_model: String,
    /// Seconds from the first produce until ingest, enrich and diagnose were done (see the module doc).
    pub seconds: f64,
    /// `lines / seconds`.
    pub lines_per_s: f64,
    /// Median latency from a line's produce time to the command it caused, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile of that latency, ms.
    pub p99_ms: Option<f64>,
    /// Largest of those latencies, ms.
    pub max_ms: Option<f64>,
    /// Commands seen on the actuation topic.
    pub commands: usize,
    /// Commands traced back to a line of this run (the latencies above).
    pub commands_matched: usize,
    /// Commands per action.
    pub commands_by_action: BTreeMap<String, usize>,
    /// Peak resident set (VmHWM) per stage process, MB (null where /proc is missing).
    pub rss_mb: BTreeMap<String, Option<f64>>,
    /// CPU seconds (user + system) of each stage process since it started (start-up included).
    pub cpu_s: BTreeMap<String, Option<f64>>,
    /// `cpu_s` per line fed, µs.
    pub cpu_us_per_line: BTreeMap<String, Option<f64>>,
    /// Peak resident set of this process (feeder, monitor and, when embedded, the broker), MB.
    pub bench_process_rss_mb: Option<f64>,
    /// CPU seconds of this process: is the feeder or the embedded broker a bottleneck?
    pub bench_process_cpu_s: Option<f64>,
    /// Per-stage counters.
    pub stages: BTreeMap<String, StageReport>,
    /// Whether decide, act, the actuator and the monitor caught up with everything before the end (false:
    /// the bench stopped after waiting `DRAIN_GRACE` for them).
    pub drained: bool,
    /// With `--pass-through`: the same load through pass-through stages, run after this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass_through: Option<PassThroughReport>,
}

/// The same load through the same hops with pass-through stages: the limit of the transport.
#[derive(Debug, Clone, Serialize)]
pub struct PassThroughReport {
    /// Seconds from the first produce until the pass-through ingest, enrich and diagnose were done.
    pub seconds: f64,
    /// Lines per second through the pass-through.
    pub lines_per_s: f64,
    /// medic's `lines_per_s` ÷ the pass-through's.
    pub fraction: f64,
    /// CPU seconds of each pass-through stage process.
    pub cpu_s: BTreeMap<String, Option<f64>>,
    /// Those per line fed, µs.
    pub cpu_us_per_line: BTreeMap<String, Option<f64>>,
    /// Per-stage counters of the pass-through run.
    pub stages: BTreeMap<String, StageReport>,
}

impl PassThroughReport {
    /// The pass-through run `limit`, and medic's `lines_per_s` as a fraction of it.
    #[must_use]
    pub fn of(limit: &E2eReport, lines_per_s: f64) -> Self {
        Self {
            seconds: limit.seconds,
            lines_per_s: limit.lines_per_s,
            fraction: if limit.lines_per_s > 0.0 {
                lines_per_s / limit.lines_per_s
            } else {
                0.0
            },
            cpu_s: limit.cpu_s.clone(),
            cpu_us_per_line: limit.cpu_us_per_line.clone(),
            stages: limit.stages.clone(),
        }
    }
}

/// CPU µs per line fed, per stage.
#[allow(clippy::cast_precision_loss, reason = "line counts")]
fn per_line_us(cpu_s: &BTreeMap<String, Option<f64>>, lines: u64) -> BTreeMap<String, Option<f64>> {
    cpu_s
        .iter()
        .map(|(stage, cpu)| (stage.clone(), cpu.map(|s| s * 1e6 / lines.max(1) as f64)))
        .collect()
}

/// One stage's counters over the measured run (the warm-up record left out).
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageReport {
    /// Records read.
    pub records_in: u64,
    /// Records produced (every kind).
    pub records_out: u64,
    /// Records dead-lettered.
    pub dead_letters: u64,
    /// Records dropped on purpose.
    pub dropped: u64,
    /// Lines or records dropped as late (`*.late_dropped` stage events).
    pub late_dropped: u64,
    /// Seconds spent in batches (process, deliver, commit).
    pub busy_s: f64,
    /// `records_in / busy_s`: what the stage sustains while it has work.
    pub busy_records_per_s: Option<f64>,
    /// Seconds from the first produce until the stage was done (ingest, enrich, diagnose).
    pub done_s: Option<f64>,
    /// `records_in / done_s`.
    pub records_per_s: Option<f64>,
}

/// Latency of each command traced back to a line of this run: its record's timestamp minus the produce
/// time of the earliest of its source lines, ms.
pub(super) fn latencies_ms(observed: &[Observed], fed: &Fed, source_topic: &str) -> Vec<f64> {
    observed
        .iter()
        .filter_map(|o| {
            let earliest = o
                .command
                .provenance
                .sources
                .iter()
                .filter(|s| s.topic == source_topic)
                .filter_map(|s| fed.produced_ms.get(s.partition, s.offset))
                .min()?;
            #[allow(clippy::cast_precision_loss, reason = "milliseconds")]
            Some((o.timestamp_ms - earliest) as f64)
        })
        .collect()
}

/// The nearest-rank `p`-th percentile of sorted `values`.
pub(super) fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a short list"
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// One stage's part of the report.
#[allow(clippy::cast_precision_loss, reason = "record counts")]
pub(super) fn stage_report(counters: &Counters, done_s: Option<f64>) -> StageReport {
    let per = |seconds: f64| (seconds > 0.0).then(|| counters.records_in as f64 / seconds);
    StageReport {
        records_in: counters.records_in,
        records_out: counters.out_all,
        dead_letters: counters.dead_letters,
        dropped: counters.dropped,
        late_dropped: counters.late_dropped,
        busy_s: counters.busy_s,
        busy_records_per_s: per(counters.busy_s),
        done_s,
        records_per_s: done_s.and_then(per),
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "assembles the report from every part of the run"
)]
pub(super) fn report(
    args: &E2eArgs,
    config: &PipelineConfig,
    brokers: String,
    fed: &Fed,
    progress: &Progress,
    delta: &BTreeMap<StageName, Counters>,
    observed: &[Observed],
    source_topic: &str,
    usage: Usage,
) -> E2eReport {
    let mut latencies = latencies_ms(observed, fed, source_topic);
    latencies.sort_by(f64::total_cmp);
    let seconds = progress
        .done_s
        .get(&StageName::Diagnose)
        .copied()
        .unwrap_or_default();
    let mut by_action = BTreeMap::new();
    for o in observed {
        *by_action
            .entry(o.command.action.name().to_owned())
            .or_insert(0) += 1;
    }
    let stages = StageName::ALL
        .iter()
        .map(|&stage| {
            let counters = delta.get(&stage).copied().unwrap_or_default();
            let done = progress.done_s.get(&stage).copied();
            (stage.as_str().to_owned(), stage_report(&counters, done))
        })
        .collect();
    #[allow(clippy::cast_precision_loss, reason = "line counts")]
    let lines_per_s = if seconds > 0.0 {
        fed.lines as f64 / seconds
    } else {
        0.0
    };
    E2eReport {
        bench: "e2e",
        lines: fed.lines,
        rate: args.rate,
        brokers,
        embedded_broker: args.brokers.is_none(),
        partitions: args.partitions,
        workloads: fed.workloads,
        max_in_flight: fed.max_in_flight,
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        pipeline: args.pipeline.as_ref().map_or_else(
            || "the embedded default".to_owned(),
            |p| p.display().to_string(),
        ),
        diagnose_model: serde_json::to_value(config.diagnose.model)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        seconds,
        lines_per_s,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        max_ms: latencies.last().copied(),
        commands: observed.len(),
        commands_matched: latencies.len(),
        commands_by_action: by_action,
        rss_mb: usage.rss_mb,
        cpu_us_per_line: per_line_us(&usage.cpu_s, fed.lines),
        cpu_s: usage.cpu_s,
        bench_process_rss_mb: testkit::process::peak_rss_mb(std::process::id()),
        bench_process_cpu_s: testkit::process::cpu_seconds("/proc/self/stat"),
        stages,
        drained: progress.drained,
        pass_through: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&[3.0], 99.0), Some(3.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
