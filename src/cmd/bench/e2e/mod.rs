//! `medic bench e2e`: the whole pipeline, end to end, through a real Kafka-protocol broker, with every stage
//! in its own `medic run --stage X` process (as in production); prints one JSON object.
//!
//! ```text
//!  this process                         child processes (medic run --pipeline <generated> --stage X)
//!  feeder ─► source topic ─► ingest ─► enrich ─► diagnose ─► decide ─► act ─► actuator
//!  monitor ◄─ actuation topic ◄──────────────────────────────────────────┘
//!  poller ◄─ every child's /metrics          [embedded broker: librdkafka's mock cluster, in this process]
//! ```
//!
//! **Broker.** `--brokers`, or by default librdkafka's mock cluster in this process (it listens on a real
//! localhost TCP port, so the children connect to it like to any broker; the bench creates the topics
//! there, `--partitions` each, and sets `fetch.wait.max.ms` = 10 for every client, because the mock answers
//! an empty fetch only after the whole wait, 500 ms by default, where a real broker answers as soon as
//! data arrives). On an external broker the topics and consumer groups are named for the run
//! (`bench-<run>.…`) and the topics are deleted at the end.
//!
//! **Load.** The bundled incident (`incidents/checkout-oom-crashloop/`: a JVM Deployment leaks memory, is
//! OOM-killed and crash-loops; CRI lines keyed by kubelet log path, partial chunks joined, and Events)
//! replayed by workload after workload (`checkout-w<i>`, pods renamed, spread over 16 nodes), each
//! starting a fixed stagger after the previous one so that about `--workloads` (default `--lines / 2500`,
//! 8 to 512) are mid-incident at any time, merged in event-time order; timestamps are shifted so that the
//! timeline ends about now. Templates repeat as in production, and every workload's faults cause
//! diagnoses and commands. Lines are fed at `--rate` lines/s, or as fast as the pipeline takes them with
//! at most `--max-in-flight` lines fed but not yet processed by enrich (default: 30 s of the load's event
//! time). The bound matters: the mock cluster keeps only ~5 MB per partition and silently drops older
//! data, and a consumer far behind reads one partition's backlog after another (enrich's watermark waits
//! for the slowest partition, but one silent for its idle timeout stops holding it back; `late_dropped`
//! in the report shows any line dropped as late).
//!
//! **Clock.** Before the clock starts every stage has read (and dead-lettered) one blank warm-up record,
//! so all consumer groups have joined. After the measured part the bench waits up to `DRAIN_GRACE` for
//! decide, act, the actuator and the monitor to catch up (`drained`), then reads each stage's peak memory
//! and stops them with SIGTERM. Windows still open at the end are not flushed into the figures.
//!
//! # The figures
//! - **`lines_per_s`** = lines fed ÷ `seconds`, from the first produce until ingest and enrich have
//!   processed and delivered every record those lines became (records in = records out + dead letters +
//!   drops: each turns one input into exactly one of those) and diagnose has read every window enrich
//!   closed by then (its records-in counter, which counts a batch as it is taken up: its work on the last
//!   batch is not inside). Read from the stages' `/metrics` every 20 ms.
//! - **`p50_ms` / `p99_ms` / `max_ms`** (nearest rank): for every command on the actuation topic, the
//!   timestamp of its record (set by the act stage's producer when it sent it) minus the produce time of
//!   the earliest of its source lines (`provenance.sources`: topic, partition, offset; the bench remembers
//!   each line's produce time by partition and offset, and also writes it as the record's timestamp).
//!   `commands_matched` counts the commands traced this way. Both clocks are this machine's wall clock, in
//!   ms. The latency includes event-time windowing: enrich closes a workload's window once every
//!   partition's newest event time is `allowed_lateness` (10 s) past its end, i.e. once enough later
//!   lines have been fed, so it shrinks as the feed gets faster.
//! - **`rss_mb`**: `VmHWM` (peak resident set) of each stage process, from `/proc/<pid>/status`.
//! - **`stages`**: per stage, records in/out, dead letters, drops, late drops, busy seconds (the sum of its
//!   batch durations) and records per busy second (what it sustains while it has work); for ingest, enrich
//!   and diagnose also when each was done (`done_s`) and its records/s up to then.
//!
//! - **`cpu_us_per_line`**: `cpu_s` per line fed (start-up included).
//! - **`pass_through`** (with `--pass-through`): the same load, then, through the same hops on a fresh
//!   broker of the same kind with every stage a [pass-through](crate::pass_through): its lines/s, CPU and
//!   counters, and medic's lines/s as a `fraction` of its lines/s — the transport's own limit.
//!
//! `--wrap STAGE=COMMAND` runs one stage under a wrapper such as `valgrind --tool=callgrind`
//! (`scripts/profile-e2e.sh`).

mod feeder;
mod load;
mod monitor;
mod process;
mod report;
mod template;

use feeder::*;
use load::*;
use monitor::*;
use process::*;
use report::*;
pub use report::{E2eReport, PassThroughReport, StageReport};

use crate::app::create_topics as ensure_topics;
use crate::config::{PipelineConfig, load_pipeline};
use crate::stages::StageName;
use anyhow::{Context, anyhow, bail};
use rdkafka::ClientContext;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};
use runtime::embedded::EmbeddedBroker;
use runtime::kafka::{consumer_config, producer_config};
use schemas::metrics as names;
use schemas::{RecordKind, RemediationCommand, decode_record};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Options of `medic bench e2e`.
#[derive(Debug, Clone, clap::Args)]
pub struct E2eArgs {
    /// Log lines to feed.
    #[arg(long)]
    pub lines: u64,
    /// Lines per second to feed (default: as fast as the pipeline takes them, see --max-in-flight).
    #[arg(long)]
    pub rate: Option<f64>,
    /// A Kafka-protocol broker (`HOST:PORT`) to run through, with topics and consumer groups named for
    /// this run (`bench-<run>.…`; the topics are deleted at the end). Default: an embedded broker,
    /// librdkafka's mock cluster.
    #[arg(long)]
    pub brokers: Option<String>,
    /// Pipeline file, layered over the embedded default; the bench sets the brokers, topic names,
    /// partitions, admin listeners and `act.mode = "log"`.
    #[arg(long, short)]
    pub pipeline: Option<PathBuf>,
    /// Partitions of every topic (the checkpoint topic has one).
    #[arg(long, default_value_t = 8)]
    pub partitions: i32,
    /// About this many workloads are mid-incident at any time, each replaying the incident, staggered
    /// (default: --lines / 2500, at least 8, at most 512: every slot replays the incident about six
    /// times, and larger runs get a denser event-time stream, so more lines can be in flight).
    #[arg(long)]
    pub workloads: Option<usize>,
    /// Lines fed but not yet processed by enrich, at most (default: the lines of 30 s of the load's
    /// event time, about 24 × --workloads).
    #[arg(long)]
    pub max_in_flight: Option<u64>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
    /// Run one stage under a wrapper command, for profiling: `STAGE=COMMAND…` (split at whitespace),
    /// e.g. `ingest=valgrind --tool=callgrind`. That stage's figures are then the wrapper's.
    #[arg(long, value_name = "STAGE=COMMAND")]
    pub wrap: Option<String>,
    /// Then run the same load through the same hops on a fresh broker of the same kind with every stage
    /// a pass-through (ingest and enrich forward records unchanged, the rest read and drop), and report
    /// medic's lines/s as a fraction of that limit (`pass_through`). Not with `--rate`.
    #[arg(long)]
    pub pass_through: bool,
}

/// `--wrap`'s stage and command words.
fn parse_wrap(wrap: &str) -> anyhow::Result<(StageName, Vec<String>)> {
    let (stage, command) = wrap
        .split_once('=')
        .ok_or_else(|| anyhow!("--wrap takes STAGE=COMMAND, not {wrap:?}"))?;
    let words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
    anyhow::ensure!(!words.is_empty(), "--wrap {wrap:?} names no command");
    Ok((stage.trim().parse()?, words))
}

/// The default bound on lines in flight, in seconds of the load's event time: half of a window, so that
/// the broker's memory stays bounded and partitions read unevenly stay within the watermark's reach.
const MAX_LAG_S: u64 = 30;
/// The feeder's producer `linger.ms`. The feeder stands for the log shipper (Vector, Fluent Bit), which
/// produces with librdkafka's default (5 ms), not the stages' 1 ms. Fewer, larger message sets also
/// keep the embedded broker's fetches cheap: librdkafka's mock cluster finds a fetch's offset by walking
/// a partition's message sets from the oldest (`rd_kafka_mock_msgset_find`, 19–31 % of the bench
/// process's CPU with the feeder at 1 ms).
const FEEDER_LINGER_MS: &str = "5";
/// How long the bench waits, after ingest, enrich and diagnose are done, for the rest to catch up.
const DRAIN_GRACE: Duration = Duration::from_secs(30);
/// How often the stages' `/metrics` are read.
const SCRAPE_INTERVAL: Duration = Duration::from_millis(20);
/// What each stage reads once before the clock starts: blank, so every stage dead-letters it.
const WARM_UP_PAYLOAD: &[u8] = b" \n \t";

/// Runs the benchmark.
///
/// # Errors
/// When the broker, a stage process or the pipeline fails, or the run does not finish in time.
pub fn run(args: &E2eArgs) -> anyhow::Result<E2eReport> {
    anyhow::ensure!(args.lines > 0, "--lines must be at least 1");
    anyhow::ensure!(args.partitions > 0, "--partitions must be at least 1");
    anyhow::ensure!(args.workloads != Some(0), "--workloads must be at least 1");
    anyhow::ensure!(
        args.max_in_flight != Some(0),
        "--max-in-flight must be at least 1"
    );
    anyhow::ensure!(args.rate.is_none_or(|r| r > 0.0), "--rate must be positive");
    anyhow::ensure!(
        !(args.pass_through && args.rate.is_some()),
        "--pass-through measures the most each pipeline takes: not with --rate"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut report = runtime.block_on(run_async(args, false))?;
    if args.pass_through {
        let limit = runtime.block_on(run_async(args, true))?;
        report.pass_through = Some(PassThroughReport::of(&limit, report.lines_per_s));
    }
    Ok(report)
}

/// One run of the load through the stages, or through their pass-through.
async fn run_async(args: &E2eArgs, pass_through: bool) -> anyhow::Result<E2eReport> {
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let run_id = format!("{}x{}", std::process::id(), wall_ms());
    let broker = match &args.brokers {
        Some(_) => None,
        None => Some(EmbeddedBroker::start().context("starting the embedded broker")?),
    };
    let prefix = args.brokers.as_ref().map(|_| format!("bench-{run_id}."));
    let config = bench_config(args, broker.as_ref(), prefix.as_deref())?;
    create_topics(broker.as_ref(), &config, args.partitions).await?;
    let dir = std::env::temp_dir().join(format!("medic-bench-e2e-{run_id}"));
    std::fs::create_dir_all(&dir)?;
    let pipeline = write_pipeline(&config, &dir)?;

    let launch = Stages {
        pipeline: &pipeline,
        dir: &dir,
        keys: &act::KeyRing::generate_line("bench"),
        group_prefix: prefix.as_deref(),
        // A profile is of medic's stages, not of their pass-through.
        wrap: if pass_through {
            None
        } else {
            args.wrap.as_deref().map(parse_wrap).transpose()?
        },
        pass_through,
    };
    let mut stages = StageName::ALL
        .iter()
        .map(|&stage| launch.spawn(stage))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for stage in &mut stages {
        stage.wait_ready(deadline)?;
    }
    let poller = Poller::start(stages.iter().map(|s| (s.stage, s.admin_port)).collect());
    let producer = feed_producer(&config)?;
    let baseline = warm_up(&producer, &config, &poller, &mut stages, deadline).await?;

    let shutdown = CancellationToken::new();
    let monitor = Monitor::start(&config, args.partitions, shutdown.clone())?;
    let source_topic = config.ingest.sources[0].topic();
    let incident = Incident::bundled();
    let workloads = args
        .workloads
        .unwrap_or_else(|| default_workloads(args.lines));
    let load = Load::new(
        &incident,
        workloads,
        args.lines,
        schemas::clock::wall_clock_ns(),
    );
    let max_in_flight = args
        .max_in_flight
        .unwrap_or_else(|| load.lines_per_event_time(MAX_LAG_S));
    let feed = Feeder {
        producer: &producer,
        workloads,
        topic: &source_topic,
        rate: args.rate,
        max_in_flight,
        poller: &poller,
        baseline: &baseline,
        deadline,
    }
    .feed(load.take(usize::try_from(args.lines)?))
    .await?;
    let progress =
        wait_until_done(&feed, &poller, &baseline, &monitor, &mut stages, deadline).await?;

    let usage = Usage::of(&stages);
    let last = poller.snapshot();
    drop(poller);
    shutdown.cancel();
    let observed = monitor.observed();
    // All at once: each drains (diagnose classifies its open windows) before it exits.
    for stage in &mut stages {
        stage.terminate();
    }
    for stage in &mut stages {
        stage.wait_stopped();
    }
    let brokers = config.kafka.brokers.clone();
    match broker {
        Some(broker) => drop(broker),
        None => delete_topics(&config).await,
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(report(
        args,
        &config,
        brokers,
        &feed,
        &progress,
        &Counters::diff(&last, &baseline),
        &observed,
        &source_topic,
        usage,
    ))
}

/// The first `count` lines of the load `medic bench e2e --lines count` feeds (its default workloads,
/// ending now), as `(key, payload)`: for benches of the stages without a broker.
pub(super) fn load_lines(count: u64) -> Vec<(String, String)> {
    let incident = Incident::bundled();
    let load = Load::new(
        &incident,
        default_workloads(count),
        count,
        schemas::clock::wall_clock_ns(),
    );
    load.take(usize::try_from(count).unwrap_or(usize::MAX))
        .collect()
}

/// `--workloads` by default: `lines / 2500`, at least 8, at most 512.
fn default_workloads(lines: u64) -> usize {
    usize::try_from(lines / 2500)
        .unwrap_or(usize::MAX)
        .clamp(8, 512)
}

/// Milliseconds since the Unix epoch, by the wall clock.
fn wall_ms() -> i64 {
    schemas::clock::wall_clock_ns() / 1_000_000
}

/// The pipeline the stages run: `--pipeline` (or the embedded default) with the broker, partitions,
/// admin server, log-only actuator and, on an external broker, this run's topic names.
fn bench_config(
    args: &E2eArgs,
    broker: Option<&EmbeddedBroker>,
    prefix: Option<&str>,
) -> anyhow::Result<PipelineConfig> {
    let mut config = load_pipeline(args.pipeline.as_deref(), std::env::vars())?
        .warned()
        .config;
    config.kafka.partitions = args.partitions;
    match (broker, &args.brokers) {
        (Some(broker), _) => broker.configure(&mut config.kafka),
        (None, Some(brokers)) => {
            config.kafka.brokers.clone_from(brokers);
            config.kafka.create_topics = true;
            // Group joins take about half the session timeout on some brokers.
            config.kafka.session_timeout = config
                .kafka
                .session_timeout
                .min(runtime::embedded::SESSION_TIMEOUT);
        }
        (None, None) => bail!("neither --brokers nor the embedded broker"),
    }
    config.admin.enabled = true;
    config.act.mode = act::ActuatorMode::Log;
    if let Some(prefix) = prefix {
        config.topics.prefix_all(prefix);
        for source in &mut config.ingest.sources {
            source.topic = Some(format!("{prefix}{}", source.topic()));
        }
    }
    anyhow::ensure!(
        !config.ingest.sources.is_empty(),
        "the pipeline has no [[ingest.sources]] to feed"
    );
    Ok(config)
}

/// Creates every topic: on the embedded broker directly, elsewhere with the admin API.
async fn create_topics(
    broker: Option<&EmbeddedBroker>,
    config: &PipelineConfig,
    partitions: i32,
) -> anyhow::Result<()> {
    match broker {
        Some(broker) => {
            Ok(broker.create_topics(&config.topics, &config.all_topics(), partitions)?)
        }
        None => ensure_topics(config).await.context("creating topics"),
    }
}

/// Deletes this run's topics from an external broker (best effort: a failure is logged).
async fn delete_topics(config: &PipelineConfig) {
    let admin: Result<AdminClient<DefaultClientContext>, _> =
        producer_config(&config.kafka, &config.runner).create();
    let topics = config.all_topics();
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let deleted = match admin {
        Ok(admin) => admin.delete_topics(&names, &options).await,
        Err(error) => Err(error),
    };
    if let Err(error) = deleted {
        tracing::warn!(error = %error, "could not delete this run's topics");
    }
}

/// Writes `config` as the stages' pipeline file and checks that it reads back the same.
fn write_pipeline(config: &PipelineConfig, dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, toml::to_string(config)?)?;
    let read_back = load_pipeline(Some(&path), std::iter::empty())?.config;
    anyhow::ensure!(
        read_back == *config,
        "the generated pipeline file {} does not read back as written",
        path.display()
    );
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_stage_names_a_stage_and_a_command() {
        let (stage, words) = parse_wrap("ingest=valgrind --tool=callgrind").expect("parses");
        assert_eq!(stage, StageName::Ingest);
        assert_eq!(words, ["valgrind", "--tool=callgrind"]);
        assert!(parse_wrap("ingest").is_err());
        assert!(parse_wrap("ingest= ").is_err());
        assert!(parse_wrap("nope=perf").is_err());
    }

    #[test]
    fn larger_runs_get_more_workloads_at_once() {
        assert_eq!(default_workloads(2_000), 8);
        assert_eq!(default_workloads(100_000), 40);
        assert_eq!(default_workloads(10_000_000), 512);
    }

    #[test]
    fn the_generated_pipeline_reads_back_as_written() {
        let args = E2eArgs {
            lines: 1,
            rate: None,
            brokers: Some("127.0.0.1:1".to_owned()),
            pipeline: None,
            partitions: 8,
            workloads: None,
            max_in_flight: Some(10),
            timeout_secs: 1,
            wrap: None,
            pass_through: false,
        };
        let config = bench_config(&args, None, Some("bench-x.")).expect("config");
        assert_eq!(config.topics.actions, "bench-x.medic.actions");
        assert_eq!(config.ingest.sources[0].topic(), "bench-x.medic.logs.k8s");
        let dir = std::env::temp_dir().join(format!("medic-bench-e2e-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        write_pipeline(&config, &dir).expect("reads back");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
