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
//! at most `--max-in-flight` lines fed but not yet read by diagnose (default: 30 s of the load's event
//! time). The bound matters: the mock cluster keeps only ~5 MB per partition and silently drops older
//! data, and a consumer far behind reads one partition's backlog after another, so event time jumps and
//! diagnose drops lines as late (`late_dropped` in the report shows it).
//!
//! **Clock.** Before the clock starts every stage has read (and dead-lettered) one blank warm-up record,
//! so all consumer groups have joined. After the measured part the bench waits up to [`DRAIN_GRACE`] for
//! decide, act, the actuator and the monitor to catch up (`drained`), then reads each stage's peak memory
//! and stops them with SIGTERM. Windows still open at the end are not flushed into the figures.
//!
//! # The figures
//! - **`lines_per_s`** = lines fed ÷ `seconds`, from the first produce until ingest and enrich have
//!   processed and delivered every record those lines became (records in = records out + dead letters +
//!   drops: each turns one input into exactly one of those) and diagnose has read every parsed record
//!   (its records-in counter, which counts a batch as it is taken up: its work on the last batch is not
//!   inside). Read from the stages' `/metrics` every 20 ms.
//! - **`p50_ms` / `p99_ms` / `max_ms`** (nearest rank): for every command on the actuation topic, the
//!   timestamp of its record (set by the act stage's producer when it sent it) minus the produce time of
//!   the earliest of its source lines (`provenance.sources`: topic, partition, offset; the bench remembers
//!   each line's produce time by partition and offset, and also writes it as the record's timestamp).
//!   `commands_matched` counts the commands traced this way. Both clocks are this machine's wall clock, in
//!   ms. The latency includes event-time windowing: diagnose closes a workload's window once the newest
//!   event time is a window (60 s) past its end, i.e. once enough later lines have been fed, so it shrinks
//!   as the feed gets faster.
//! - **`rss_mb`**: `VmHWM` (peak resident set) of each stage process, from `/proc/<pid>/status`.
//! - **`stages`**: per stage, records in/out, dead letters, drops, late drops, busy seconds (the sum of its
//!   batch durations) and records per busy second (what it sustains while it has work); for ingest, enrich
//!   and diagnose also when each was done (`done_s`) and its records/s up to then.
//!
//! `--wrap STAGE=COMMAND` runs one stage under a wrapper such as `valgrind --tool=callgrind`
//! (`scripts/profile-e2e.sh`).

use crate::config::{PipelineConfig, load_pipeline};
use crate::kafka::{all_topics, consumer_config, ensure_topics, producer_config};
use crate::stages::StageName;
use anyhow::{Context, anyhow, bail};
use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{DefaultProducerContext, FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use schemas::metrics as names;
use schemas::{RecordKind, RemediationCommand, decode_record};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
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
    /// Lines fed but not yet read by diagnose, at most (default: the lines of 30 s of the load's event
    /// time, about 24 × --workloads).
    #[arg(long)]
    pub max_in_flight: Option<u64>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
    /// Run one stage under a wrapper command, for profiling: `STAGE=COMMAND…` (split at whitespace),
    /// e.g. `ingest=valgrind --tool=callgrind`. That stage's figures are then the wrapper's.
    #[arg(long, value_name = "STAGE=COMMAND")]
    pub wrap: Option<String>,
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
    /// Lines fed but not yet read by diagnose, at most (`--max-in-flight` or its default).
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
    /// Peak resident set of this process (feeder, monitor and, when embedded, the broker), MB.
    pub bench_process_rss_mb: Option<f64>,
    /// CPU seconds of this process: is the feeder or the embedded broker a bottleneck?
    pub bench_process_cpu_s: Option<f64>,
    /// Per-stage counters.
    pub stages: BTreeMap<String, StageReport>,
    /// Whether decide, act, the actuator and the monitor caught up with everything before the end (false:
    /// the bench stopped after waiting `DRAIN_GRACE` for them).
    pub drained: bool,
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

/// The default bound on lines in flight, in seconds of the load's event time: half of diagnose's window,
/// so that consumers reading partitions unevenly do not make lines late.
const MAX_LAG_S: u64 = 30;
/// `fetch.wait.max.ms` of every client on the embedded broker (see [`bench_config`]).
const EMBEDDED_FETCH_WAIT_MS: u32 = 10;
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
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run_async(args))
}

async fn run_async(args: &E2eArgs) -> anyhow::Result<E2eReport> {
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let run_id = format!("{}x{}", std::process::id(), wall_ms());
    let (cluster, brokers) = match &args.brokers {
        Some(brokers) => (None, brokers.clone()),
        None => {
            let cluster = MockCluster::new(1).context("starting the embedded broker")?;
            let brokers = cluster.bootstrap_servers();
            (Some(cluster), brokers)
        }
    };
    let prefix = args.brokers.as_ref().map(|_| format!("bench-{run_id}."));
    let config = bench_config(args, &brokers, prefix.as_deref())?;
    create_topics(cluster.as_ref(), &config, args.partitions).await?;
    let dir = std::env::temp_dir().join(format!("medic-bench-e2e-{run_id}"));
    std::fs::create_dir_all(&dir)?;
    let pipeline = write_pipeline(&config, &dir)?;

    let launch = Launch {
        pipeline: &pipeline,
        dir: &dir,
        keys: &act::KeyRing::generate_line("bench"),
        group_prefix: prefix.as_deref(),
        wrap: args.wrap.as_deref().map(parse_wrap).transpose()?,
    };
    let mut stages = StageName::ALL
        .iter()
        .map(|&stage| launch.spawn(stage))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for stage in &mut stages {
        stage.wait_ready(deadline)?;
    }
    let poller = Poller::start(stages.iter().map(|s| (s.stage, s.admin_port)).collect());
    let producer: FutureProducer = producer_config(&config.kafka, &config.runner).create()?;
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
    match cluster {
        Some(cluster) => drop(cluster),
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

// ---------------------------------------------------------------------------------------------------
// The load
// ---------------------------------------------------------------------------------------------------

/// The deployment of the bundled incident; replica `i` is `checkout-w<i>`.
const INCIDENT_WORKLOAD: &str = "checkout";
/// The pod-template hash in the incident's pod names (`<deployment>-<hash>-<suffix>`).
const INCIDENT_POD_HASH: &str = "6b8f7d9c4d";
/// The node the incident's pods run on; replica `i` runs on the node numbered `i % NODES`.
const INCIDENT_NODE: &str = "aks-nodepool1-31415926-vmss000002";
/// Nodes the synthetic workloads are spread over.
const NODES: usize = 16;

/// One line of the incident: its offset from the incident's first line, Kafka key and payload.
#[derive(Debug, Clone)]
struct TemplateLine {
    offset_ns: i64,
    key: String,
    payload: String,
}

/// The bundled incident as a template, ordered by event time.
#[derive(Debug, Clone)]
struct Incident {
    /// Event time of the first line, ns since the epoch.
    start_ns: i64,
    lines: Vec<TemplateLine>,
}

impl Incident {
    /// The incident embedded in the binary (`medic demo`'s): CRI lines keyed by their kubelet log path,
    /// with partial (`P`) chunks joined into their final line so that every line fed is one record, and
    /// Events keyed by their object's name.
    fn bundled() -> Self {
        let mut lines: Vec<(i64, String, String)> = Vec::new();
        for (path, text) in crate::demo::POD_LOGS {
            for line in join_partials(text) {
                let time = rfc3339_ns(line.split(' ').next().unwrap_or_default());
                lines.push((time, format!("/var/log/{path}"), line));
            }
        }
        for line in crate::demo::EVENTS.lines().filter(|l| !l.trim().is_empty()) {
            let value: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            let time = rfc3339_ns(value["lastTimestamp"].as_str().unwrap_or_default());
            let key = value["involvedObject"]["name"].as_str().unwrap_or_default();
            lines.push((time, key.to_owned(), line.to_owned()));
        }
        // Stable: lines of equal time keep their file order.
        lines.sort_by_key(|l| l.0);
        let start_ns = lines.first().map_or(0, |l| l.0);
        let lines = lines
            .into_iter()
            .map(|(time, key, payload)| TemplateLine {
                offset_ns: time - start_ns,
                key,
                payload,
            })
            .collect();
        Self { start_ns, lines }
    }

    /// From the first line to one second past the last, whole seconds.
    fn span_s(&self) -> i64 {
        self.lines.last().map_or(0, |l| l.offset_ns) / 1_000_000_000 + 1
    }
}

/// `time` (RFC 3339) in ns since the epoch; 0 when it does not parse.
fn rfc3339_ns(time: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(time)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or(0)
}

/// CRI lines with each run of partial chunks (`<time> <stream> P <text>`) joined into one full line (`F`)
/// at the time of its first chunk, as ingest would reassemble it.
fn join_partials(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut pending: Option<String> = None;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut fields = line.splitn(4, ' ');
        let (time, stream, tag) = (fields.next(), fields.next(), fields.next());
        let content = fields.next().unwrap_or_default();
        let partial = tag == Some("P");
        match pending.take() {
            Some(mut head) => {
                head.push_str(content);
                if partial {
                    pending = Some(head);
                } else {
                    lines.push(head);
                }
            }
            None if partial => {
                pending = Some(format!(
                    "{} {} F {content}",
                    time.unwrap_or_default(),
                    stream.unwrap_or_default()
                ))
            }
            None => lines.push(line.to_owned()),
        }
    }
    lines.extend(pending);
    lines
}

/// `text` with every `YYYY-MM-DDTHH:MM:SS` or `YYYY-MM-DD HH:MM:SS` in it moved by `shift_s` seconds;
/// fractions and zones after it are kept.
fn shift_timestamps(text: &str, shift_s: i64) -> String {
    const LEN: usize = 19;
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 8);
    let (mut copied, mut at) = (0, 0);
    while at + LEN <= bytes.len() {
        match shifted(&bytes[at..at + LEN], shift_s) {
            // A match starts and ends on ASCII, so both slices fall on character boundaries.
            Some(moved) => {
                out.push_str(&text[copied..at]);
                out.push_str(&moved);
                at += LEN;
                copied = at;
            }
            None => at += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// `window` (19 bytes) moved by `shift_s` seconds, when it is a date and time.
fn shifted(window: &[u8], shift_s: i64) -> Option<String> {
    const SHAPE: &[u8; 19] = b"dddd-dd-dd_dd:dd:dd";
    let fits = SHAPE.iter().zip(window).all(|(&shape, &b)| match shape {
        b'd' => b.is_ascii_digit(),
        b'_' => b == b'T' || b == b' ',
        _ => b == shape,
    });
    if !fits {
        return None;
    }
    let format = if window[10] == b'T' {
        "%Y-%m-%dT%H:%M:%S"
    } else {
        "%Y-%m-%d %H:%M:%S"
    };
    let time =
        chrono::NaiveDateTime::parse_from_str(std::str::from_utf8(window).ok()?, format).ok()?;
    let moved = time.checked_add_signed(chrono::TimeDelta::try_seconds(shift_s)?)?;
    Some(moved.format(format).to_string())
}

/// Line `line` as replica `replica` logs it: pods renamed to its workload and node, times moved by
/// `shift_s`. Returns the key and the payload.
fn render(line: &TemplateLine, replica: usize, shift_s: i64) -> (String, String) {
    let pods = format!("{INCIDENT_WORKLOAD}-{INCIDENT_POD_HASH}");
    let renamed_pods = format!("{INCIDENT_WORKLOAD}-w{replica}-{INCIDENT_POD_HASH}");
    let node_prefix = INCIDENT_NODE.trim_end_matches(|c: char| c.is_ascii_digit());
    let node = format!("{node_prefix}{:06}", replica % NODES);
    let rename = |text: &str| {
        text.replace(&pods, &renamed_pods)
            .replace(INCIDENT_NODE, &node)
    };
    (
        rename(&line.key),
        shift_timestamps(&rename(&line.payload), shift_s),
    )
}

/// The load: the incident replayed by replica after replica, each starting `stagger_s` after the previous
/// one, merged in event-time order (endless: take what is needed). Yields `(key, payload)`.
struct Load<'a> {
    incident: &'a Incident,
    /// Shift of replica 0, seconds.
    first_shift_s: i64,
    stagger_s: i64,
    next_replica: usize,
    /// The next line of every started replica: (ns after replica 0's start, replica, line index).
    heads: BinaryHeap<Reverse<(i64, usize, usize)>>,
}

impl<'a> Load<'a> {
    /// About `workloads` replicas mid-incident at a time; shifted so that the first `lines` lines end
    /// about `now_ns`.
    fn new(incident: &'a Incident, workloads: usize, lines: u64, now_ns: i64) -> Self {
        let span_s = incident.span_s();
        let stagger_s = (span_s / i64::try_from(workloads).unwrap_or(i64::MAX)).max(1);
        let per_replica = incident.lines.len().max(1) as u64;
        let replicas = i64::try_from(lines / per_replica + 1).unwrap_or(i64::MAX);
        let timeline_s = replicas.saturating_mul(stagger_s).saturating_add(span_s);
        let first_start_ns = now_ns - timeline_s.saturating_mul(1_000_000_000);
        Self {
            incident,
            first_shift_s: (first_start_ns - incident.start_ns).div_euclid(1_000_000_000),
            stagger_s,
            next_replica: 0,
            heads: BinaryHeap::new(),
        }
    }

    /// Lines of `seconds` of event time once the load is in full swing (about `workloads` replicas at once).
    fn lines_per_event_time(&self, seconds: u64) -> u64 {
        let per_replica = self.incident.lines.len() as u64;
        let stagger_s = u64::try_from(self.stagger_s).unwrap_or(1).max(1);
        (per_replica * seconds).div_ceil(stagger_s).max(1)
    }

    /// Starts every replica whose first line comes before the earliest pending line.
    fn start_due_replicas(&mut self) {
        loop {
            let replica = i64::try_from(self.next_replica).unwrap_or(i64::MAX);
            let start_ns = replica * self.stagger_s * 1_000_000_000;
            if self
                .heads
                .peek()
                .is_some_and(|Reverse((next, _, _))| *next < start_ns)
            {
                return;
            }
            self.heads.push(Reverse((start_ns, self.next_replica, 0)));
            self.next_replica += 1;
        }
    }
}

impl Iterator for Load<'_> {
    type Item = (String, String);

    fn next(&mut self) -> Option<Self::Item> {
        let lines = &self.incident.lines;
        if lines.is_empty() {
            return None;
        }
        self.start_due_replicas();
        let Reverse((at_ns, replica, index)) = self.heads.pop()?;
        if let Some(following) = lines.get(index + 1) {
            let next_ns = at_ns - lines[index].offset_ns + following.offset_ns;
            self.heads.push(Reverse((next_ns, replica, index + 1)));
        }
        let shift_s = self.first_shift_s + i64::try_from(replica).ok()? * self.stagger_s;
        Some(render(&lines[index], replica, shift_s))
    }
}

// ---------------------------------------------------------------------------------------------------
// Broker, pipeline file and stage processes
// ---------------------------------------------------------------------------------------------------

/// The pipeline the stages run: `--pipeline` (or the embedded default) with the broker, partitions,
/// admin server, log-only actuator and, on an external broker, this run's topic names.
fn bench_config(
    args: &E2eArgs,
    brokers: &str,
    prefix: Option<&str>,
) -> anyhow::Result<PipelineConfig> {
    let mut config = load_pipeline(args.pipeline.as_deref(), std::env::vars())?.config;
    config.kafka.brokers = brokers.to_owned();
    config.kafka.partitions = args.partitions;
    // The mock cluster does not implement CreateTopics: the bench creates them there.
    config.kafka.create_topics = prefix.is_some();
    if prefix.is_none() {
        // The mock cluster answers an empty fetch only after the whole `fetch.wait.max.ms` (500 ms by
        // default), even when data arrives meanwhile; a real broker answers as soon as there is data.
        config
            .kafka
            .properties
            .entry("fetch.wait.max.ms".to_owned())
            .or_insert_with(|| EMBEDDED_FETCH_WAIT_MS.to_string());
    }
    // Group joins take about half the session timeout on some brokers.
    config.kafka.session_timeout_ms = config.kafka.session_timeout_ms.min(6_000);
    config.admin.enabled = true;
    config.act.mode = act::ActuatorMode::Log;
    if let Some(prefix) = prefix {
        let t = &mut config.topics;
        for topic in [
            &mut t.normalized,
            &mut t.parsed,
            &mut t.windows,
            &mut t.diagnoses,
            &mut t.decisions,
            &mut t.actions,
            &mut t.results,
            &mut t.dlq,
            &mut t.checkpoints,
        ] {
            *topic = format!("{prefix}{topic}");
        }
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
    cluster: Option<&MockCluster<'static, DefaultProducerContext>>,
    config: &PipelineConfig,
    partitions: i32,
) -> anyhow::Result<()> {
    let Some(cluster) = cluster else {
        return ensure_topics(config).await.context("creating topics");
    };
    for topic in all_topics(config) {
        let n = if topic == config.topics.checkpoints {
            1
        } else {
            partitions
        };
        cluster.create_topic(&topic, n, 1)?;
    }
    Ok(())
}

/// Deletes this run's topics from an external broker (best effort: a failure is logged).
async fn delete_topics(config: &PipelineConfig) {
    let admin: Result<AdminClient<DefaultClientContext>, _> =
        producer_config(&config.kafka, &config.runner).create();
    let topics = all_topics(config);
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

/// A child process `medic run --stage <stage>` with its admin server on its own port and its log in a
/// file.
struct StageProcess {
    stage: StageName,
    child: Child,
    admin_port: u16,
    log: PathBuf,
    stopped: bool,
}

/// How the stage processes are started.
struct Launch<'a> {
    /// The generated pipeline file.
    pipeline: &'a Path,
    /// Where their logs go.
    dir: &'a Path,
    /// The command keys they share (act signs, the actuator verifies).
    keys: &'a str,
    /// On an external broker, this run's prefix of the consumer groups (`<prefix>medic-<stage>`), so
    /// that the run does not join another medic's groups there.
    group_prefix: Option<&'a str>,
    /// A stage to run under a wrapper command (`--wrap`).
    wrap: Option<(StageName, Vec<String>)>,
}

impl Launch<'_> {
    /// Starts `stage` with its admin server on a free port. `MEDIC__*` overrides were applied to the
    /// pipeline file already and are not passed on.
    fn spawn(&self, stage: StageName) -> anyhow::Result<StageProcess> {
        let admin_port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = self.dir.join(format!("{stage}.log"));
        let medic = std::env::current_exe()?;
        let mut command = match &self.wrap {
            Some((wrapped, words)) if *wrapped == stage => {
                let mut command = std::process::Command::new(&words[0]);
                command.args(&words[1..]).arg(medic);
                command
            }
            _ => std::process::Command::new(medic),
        };
        command
            .args(["run", "--pipeline"])
            .arg(self.pipeline)
            .args(["--stage", stage.as_str()]);
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("MEDIC__")) {
            command.env_remove(name);
        }
        if std::env::var_os("MEDIC_LOG").is_none() {
            command.env("MEDIC_LOG", "info,rdkafka=warn");
        }
        if let Some(prefix) = self.group_prefix {
            // Groups `<prefix>medic-<stage>` (kafka.group_prefix).
            command.env("MEDIC__KAFKA__GROUP_PREFIX", format!("{prefix}medic"));
        }
        let child = command
            .env("MEDIC__ADMIN__LISTEN", format!("127.0.0.1:{admin_port}"))
            .env(act::signing::KEYS_ENV, self.keys)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting the {stage} stage"))?;
        Ok(StageProcess {
            stage,
            child,
            admin_port,
            log,
            stopped: false,
        })
    }
}

impl StageProcess {
    /// The end of the stage's log, for error messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        text[start..].to_owned()
    }

    /// An error when the process has exited.
    fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "the {} stage exited ({status}); its log ({}) ends:\n{}",
                self.stage,
                self.log.display(),
                self.log_tail()
            );
        }
        Ok(())
    }

    /// Waits until `/readyz` answers 200 (the stage has subscribed).
    fn wait_ready(&mut self, deadline: Instant) -> anyhow::Result<()> {
        while http_get(self.admin_port, "/readyz").map(|(status, _)| status) != Some(200) {
            self.check_alive()?;
            if Instant::now() > deadline {
                bail!(
                    "the {} stage never became ready; its log ends:\n{}",
                    self.stage,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// SIGTERM: the stage stops fetching, drains, commits and exits.
    fn terminate(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Waits for the process to exit after [`StageProcess::terminate`]; SIGKILL after 30 s.
    fn wait_stopped(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_)) | Err(_)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for StageProcess {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What each stage process used, read from `/proc` at the end of the run (`None` without `/proc`).
#[derive(Debug, Clone, Default)]
struct Usage {
    /// Peak resident set (`VmHWM`), MB.
    rss_mb: BTreeMap<String, Option<f64>>,
    /// User + system CPU seconds since the process started.
    cpu_s: BTreeMap<String, Option<f64>>,
}

impl Usage {
    fn of(stages: &[StageProcess]) -> Self {
        let mut usage = Self::default();
        for stage in stages {
            let (name, pid) = (stage.stage.as_str().to_owned(), stage.child.id());
            usage.rss_mb.insert(name.clone(), peak_rss_mb(pid));
            usage
                .cpu_s
                .insert(name, cpu_seconds(&format!("/proc/{pid}/stat")));
        }
        usage
    }
}

/// User + system CPU seconds of a process from its `/proc/<pid>/stat` (clock ticks of 1/100 s, the
/// Linux `USER_HZ`).
fn cpu_seconds(stat_file: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_file).ok()?;
    // Fields after the command name (which may hold spaces), starting at field 3 (state).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |field: usize| fields.get(field - 3)?.parse::<f64>().ok();
    Some((ticks(14)? + ticks(15)?) / 100.0)
}

/// Peak resident set (`VmHWM`) of process `pid`, MB; `None` without `/proc`.
fn peak_rss_mb(pid: u32) -> Option<f64> {
    read_peak_rss_mb(&format!("/proc/{pid}/status"))
}

fn read_peak_rss_mb(status_file: &str) -> Option<f64> {
    let status = std::fs::read_to_string(status_file).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// `GET path` on 127.0.0.1:`port`: status and body.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    Some((status, body.unwrap_or_default()))
}

// ---------------------------------------------------------------------------------------------------
// Metrics of the stage processes
// ---------------------------------------------------------------------------------------------------

/// One read of a stage's `/metrics`: every sample with its labels.
#[derive(Debug, Clone, Default)]
struct Scrape(Vec<(String, BTreeMap<String, String>, f64)>);

impl Scrape {
    /// Parses the Prometheus text format (comments skipped).
    fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let value: f64 = value.parse().ok()?;
                let (name, labels) = match series.split_once('{') {
                    Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
                    None => (series, BTreeMap::new()),
                };
                Some((name.to_owned(), labels, value))
            })
            .collect();
        Self(samples)
    }

    /// The sum of the samples of `name` whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).is_some_and(|x| x == v))
            })
            .map(|(_, _, v)| v)
            .sum()
    }

    /// [`Scrape::sum`] as a count.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "counters are non-negative integers"
    )]
    fn count(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.sum(name, labels).round() as u64
    }

    /// The sum of the stage events whose name ends with `suffix`.
    fn events_ending(&self, suffix: &str) -> u64 {
        let total: f64 = self
            .0
            .iter()
            .filter(|(n, l, _)| {
                n == names::STAGE_EVENTS_TOTAL
                    && l.get("event").is_some_and(|e| e.ends_with(suffix))
            })
            .map(|(_, _, v)| v)
            .sum();
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "counters are non-negative integers"
        )]
        let total = total.round() as u64;
        total
    }
}

/// `a="x",b="y"` → {a: x, b: y} (escaped quotes and backslashes in values understood).
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(if escaped == 'n' { '\n' } else { escaped });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(key.trim_start_matches(',').trim().to_owned(), value);
        rest = &after[end..];
    }
    labels
}

/// The counters of one stage that the bench follows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counters {
    records_in: u64,
    /// Records out of the stage's main kind (log, parsed, diagnosis, …).
    out_main: u64,
    out_all: u64,
    dead_letters: u64,
    dropped: u64,
    late_dropped: u64,
    batches: u64,
    busy_s: f64,
}

impl Counters {
    /// Reads them from a scrape of `stage`.
    fn of(stage: StageName, scrape: &Scrape) -> Self {
        Self {
            records_in: scrape.count(names::RECORDS_IN_TOTAL, &[]),
            out_main: scrape.count(
                names::RECORDS_OUT_TOTAL,
                &[("kind", main_output(stage).as_str())],
            ),
            out_all: scrape.count(names::RECORDS_OUT_TOTAL, &[]),
            dead_letters: scrape.count(names::DLQ_RECORDS_TOTAL, &[]),
            dropped: scrape.count(names::RECORDS_DROPPED_TOTAL, &[]),
            late_dropped: scrape.events_ending("late_dropped"),
            batches: scrape.count(names::BATCHES_TOTAL, &[]),
            busy_s: scrape.sum(&format!("{}_sum", names::BATCH_DURATION_SECONDS), &[]),
        }
    }

    /// `self - before`, counter by counter.
    fn minus(&self, before: &Self) -> Self {
        Self {
            records_in: self.records_in.saturating_sub(before.records_in),
            out_main: self.out_main.saturating_sub(before.out_main),
            out_all: self.out_all.saturating_sub(before.out_all),
            dead_letters: self.dead_letters.saturating_sub(before.dead_letters),
            dropped: self.dropped.saturating_sub(before.dropped),
            late_dropped: self.late_dropped.saturating_sub(before.late_dropped),
            batches: self.batches.saturating_sub(before.batches),
            busy_s: self.busy_s - before.busy_s,
        }
    }

    /// Every record read is accounted for by an output of the main kind, a dead letter or a drop: no
    /// batch is in flight (for ingest and enrich, which turn each input into exactly one of these).
    fn settled(&self) -> bool {
        self.out_main + self.dead_letters + self.dropped == self.records_in
    }

    /// Per stage: `now - before`.
    fn diff(
        now: &BTreeMap<StageName, Scrape>,
        before: &BTreeMap<StageName, Counters>,
    ) -> BTreeMap<StageName, Counters> {
        StageName::ALL
            .iter()
            .map(|&stage| {
                let now = now
                    .get(&stage)
                    .map(|s| Counters::of(stage, s))
                    .unwrap_or_default();
                let before = before.get(&stage).copied().unwrap_or_default();
                (stage, now.minus(&before))
            })
            .collect()
    }
}

/// The kind of record each stage hands to the next.
fn main_output(stage: StageName) -> RecordKind {
    match stage {
        StageName::Ingest => RecordKind::Log,
        StageName::Enrich => RecordKind::Parsed,
        StageName::Diagnose => RecordKind::Diagnosis,
        StageName::Decide => RecordKind::Decision,
        StageName::Act => RecordKind::Command,
        StageName::Actuator => RecordKind::ActionResult,
    }
}

/// Reads every stage's `/metrics` every [`SCRAPE_INTERVAL`] on a thread of its own.
struct Poller {
    latest: Arc<Mutex<BTreeMap<StageName, Scrape>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Poller {
    fn start(ports: Vec<(StageName, u16)>) -> Self {
        let latest = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (latest, stop) = (Arc::clone(&latest), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for &(stage, port) in &ports {
                        if let Some((200, body)) = http_get(port, "/metrics") {
                            let scrape = Scrape::parse(&body);
                            if let Ok(mut latest) = latest.lock() {
                                latest.insert(stage, scrape);
                            }
                        }
                    }
                    std::thread::sleep(SCRAPE_INTERVAL);
                }
            })
        };
        Self {
            latest,
            stop,
            thread: Some(thread),
        }
    }

    /// The latest scrape of every stage.
    fn snapshot(&self) -> BTreeMap<StageName, Scrape> {
        self.latest.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The latest counters of every stage.
    fn counters(&self) -> BTreeMap<StageName, Counters> {
        self.latest
            .lock()
            .map(|latest| {
                latest
                    .iter()
                    .map(|(&stage, scrape)| (stage, Counters::of(stage, scrape)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sends one blank record to every stage's input topic and waits until every stage has read and
/// dead-lettered it, so that all have joined their consumer groups before the clock starts. Returns
/// every stage's counters after it.
async fn warm_up(
    producer: &FutureProducer,
    config: &PipelineConfig,
    poller: &Poller,
    stages: &mut [StageProcess],
    deadline: Instant,
) -> anyhow::Result<BTreeMap<StageName, Counters>> {
    for stage in StageName::ALL {
        let topic = stage
            .input_topics(config)
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("the {stage} stage reads no topic"))?;
        let record = FutureRecord::to(&topic)
            .key("medic-bench-warm-up")
            .payload(WARM_UP_PAYLOAD);
        producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| e)
            .with_context(|| format!("producing the warm-up record to {topic}"))?;
    }
    loop {
        let counters = poller.counters();
        let warm = |stage| {
            counters
                .get(&stage)
                .is_some_and(|c: &Counters| c.records_in >= 1 && c.dead_letters >= 1)
        };
        if StageName::ALL.into_iter().all(warm) {
            return Ok(counters);
        }
        for stage in stages.iter_mut() {
            stage.check_alive()?;
        }
        if Instant::now() > deadline {
            bail!("the stages did not all read their warm-up record in time: {counters:?}");
        }
        tokio::time::sleep(SCRAPE_INTERVAL).await;
    }
}

// ---------------------------------------------------------------------------------------------------
// Feeding, watching commands, waiting for the end
// ---------------------------------------------------------------------------------------------------

/// What was fed.
struct Fed {
    lines: u64,
    /// Workloads mid-incident at a time.
    workloads: usize,
    /// The bound on lines in flight it was fed under.
    max_in_flight: u64,
    /// When the first line was handed to the producer.
    first_produce: Instant,
    /// Produce time (ms since the epoch) of every line, by (partition, offset) on the source topic.
    produced_ms: HashMap<(i32, i64), i64>,
}

/// Feeds lines into the source topic, paced or bounded by what diagnose has not read yet.
struct Feeder<'a> {
    producer: &'a FutureProducer,
    workloads: usize,
    topic: &'a str,
    rate: Option<f64>,
    max_in_flight: u64,
    poller: &'a Poller,
    baseline: &'a BTreeMap<StageName, Counters>,
    deadline: Instant,
}

/// One line's delivery report with its produce time.
type Delivered = (
    Result<
        rdkafka::producer::future_producer::OwnedDeliveryResult,
        futures::channel::oneshot::Canceled,
    >,
    i64,
);

impl Feeder<'_> {
    /// Lines the measured stages are done with: read by diagnose, or dead-lettered or dropped before.
    fn settled_lines(&self) -> u64 {
        let now = self.poller.counters();
        let delta = |stage: StageName| {
            let before = self.baseline.get(&stage).copied().unwrap_or_default();
            now.get(&stage)
                .map(|c| c.minus(&before))
                .unwrap_or_default()
        };
        let (ingest, enrich, diagnose) = (
            delta(StageName::Ingest),
            delta(StageName::Enrich),
            delta(StageName::Diagnose),
        );
        diagnose.records_in
            + ingest.dead_letters
            + ingest.dropped
            + enrich.dead_letters
            + enrich.dropped
    }

    /// Produces every line of `load`; returns when every delivery is acknowledged.
    async fn feed(&self, load: impl Iterator<Item = (String, String)>) -> anyhow::Result<Fed> {
        let mut fed = Fed {
            lines: 0,
            workloads: self.workloads,
            max_in_flight: self.max_in_flight,
            first_produce: Instant::now(),
            produced_ms: HashMap::new(),
        };
        let mut pending = FuturesUnordered::new();
        let mut settled = 0;
        for (i, (key, payload)) in load.enumerate() {
            let i = i as u64;
            if i == 0 {
                fed.first_produce = Instant::now();
            }
            if let Some(rate) = self.rate {
                let due = fed.first_produce + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
            }
            // `settled` only grows: a stale value errs on the safe side and is refreshed when it binds.
            while i.saturating_sub(settled) >= self.max_in_flight {
                settled = self.settled_lines();
                if i.saturating_sub(settled) < self.max_in_flight {
                    break;
                }
                Self::collect_ready(&mut pending, &mut fed)?;
                anyhow::ensure!(
                    Instant::now() < self.deadline,
                    "timed out feeding: the pipeline stopped reading"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let sent_ms = wall_ms();
            let delivery = self.send(&key, &payload, sent_ms).await?;
            pending.push(delivery.map(move |result| (result, sent_ms)));
            fed.lines += 1;
            Self::collect_ready(&mut pending, &mut fed)?;
        }
        while let Some(delivered) = pending.next().await {
            Self::record(delivered, &mut fed)?;
        }
        Ok(fed)
    }

    /// Hands one line to the producer (waiting while its queue is full).
    async fn send(
        &self,
        key: &str,
        payload: &str,
        sent_ms: i64,
    ) -> anyhow::Result<rdkafka::producer::DeliveryFuture> {
        let mut record = FutureRecord::to(self.topic)
            .key(key)
            .payload(payload)
            .timestamp(sent_ms);
        loop {
            match self.producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((error, _)) => return Err(error).context("producing a line"),
            }
        }
    }

    /// Records the deliveries that have completed, without waiting.
    fn collect_ready(
        pending: &mut FuturesUnordered<impl std::future::Future<Output = Delivered> + Unpin>,
        fed: &mut Fed,
    ) -> anyhow::Result<()> {
        while let Some(Some(delivered)) = pending.next().now_or_never() {
            Self::record(delivered, fed)?;
        }
        Ok(())
    }

    fn record(delivered: Delivered, fed: &mut Fed) -> anyhow::Result<()> {
        match delivered {
            (Ok(Ok(delivery)), sent_ms) => {
                fed.produced_ms
                    .insert((delivery.partition, delivery.offset), sent_ms);
                Ok(())
            }
            (Ok(Err((error, _))), _) => Err(error).context("a line was not delivered"),
            (Err(_), _) => bail!("a line's delivery was cancelled"),
        }
    }
}

/// A command seen on the actuation topic, with its record's timestamp (ms since the epoch).
#[derive(Debug, Clone)]
struct Observed {
    command: RemediationCommand,
    timestamp_ms: i64,
}

/// Reads the actuation topic from its start (partitions assigned: no group join) in the background.
struct Monitor {
    seen: Arc<Mutex<Vec<Observed>>>,
}

impl Monitor {
    fn start(
        config: &PipelineConfig,
        partitions: i32,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let consumer: StreamConsumer =
            consumer_config(&config.kafka, "medic-bench-monitor").create()?;
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions {
            assignment.add_partition_offset(
                &config.topics.actions,
                partition,
                Offset::Beginning,
            )?;
        }
        consumer.assign(&assignment)?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    () = shutdown.cancelled() => break,
                    message = consumer.recv() => message,
                };
                let Ok(message) = message else { continue };
                let Ok(command) =
                    decode_record::<RemediationCommand>(message.payload().unwrap_or_default())
                else {
                    continue;
                };
                let timestamp_ms = message.timestamp().to_millis().unwrap_or_else(wall_ms);
                if let Ok(mut seen) = sink.lock() {
                    seen.push(Observed {
                        command,
                        timestamp_ms,
                    });
                }
            }
        });
        Ok(Self { seen })
    }

    fn count(&self) -> u64 {
        self.seen.lock().map_or(0, |s| s.len() as u64)
    }

    fn observed(&self) -> Vec<Observed> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// When each measured stage was done, and whether the rest caught up.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// Seconds after the first produce: ingest, enrich, diagnose.
    done_s: BTreeMap<StageName, f64>,
    drained: bool,
}

/// Whether decide, act, the actuator and the monitor have caught up with everything upstream produced.
fn rest_caught_up(delta: &BTreeMap<StageName, Counters>, commands_seen: u64) -> bool {
    let get = |stage| delta.get(&stage).copied().unwrap_or_default();
    let handoffs = [
        (StageName::Diagnose, StageName::Decide),
        (StageName::Decide, StageName::Act),
        (StageName::Act, StageName::Actuator),
    ];
    handoffs
        .iter()
        .all(|&(from, to)| get(to).records_in >= get(from).out_main)
        && commands_seen >= get(StageName::Act).out_main
}

/// Marks ingest, enrich and diagnose done as they finish (see the module doc); returns whether all are.
fn mark_done(
    delta: &BTreeMap<StageName, Counters>,
    lines: u64,
    elapsed_s: f64,
    done: &mut BTreeMap<StageName, f64>,
) -> bool {
    let get = |stage| delta.get(&stage).copied().unwrap_or_default();
    let (ingest, enrich, diagnose) = (
        get(StageName::Ingest),
        get(StageName::Enrich),
        get(StageName::Diagnose),
    );
    let ingest_done = ingest.records_in >= lines && ingest.settled();
    let enrich_done = ingest_done && enrich.records_in >= ingest.out_main && enrich.settled();
    let diagnose_done = enrich_done && diagnose.records_in >= enrich.out_main;
    for (stage, is_done) in [
        (StageName::Ingest, ingest_done),
        (StageName::Enrich, enrich_done),
        (StageName::Diagnose, diagnose_done),
    ] {
        if is_done {
            done.entry(stage).or_insert(elapsed_s);
        }
    }
    diagnose_done
}

/// Waits until ingest, enrich and diagnose are done, then up to [`DRAIN_GRACE`] until the rest has caught
/// up and nothing has changed for a second.
async fn wait_until_done(
    fed: &Fed,
    poller: &Poller,
    baseline: &BTreeMap<StageName, Counters>,
    monitor: &Monitor,
    stages: &mut [StageProcess],
    deadline: Instant,
) -> anyhow::Result<Progress> {
    let mut progress = Progress::default();
    let mut measured_at: Option<Instant> = None;
    let (mut last_change, mut last) = (Instant::now(), (BTreeMap::new(), 0));
    loop {
        let delta = Counters::diff(&poller.snapshot(), baseline);
        let elapsed_s = fed.first_produce.elapsed().as_secs_f64();
        if mark_done(&delta, fed.lines, elapsed_s, &mut progress.done_s) && measured_at.is_none() {
            measured_at = Some(Instant::now());
        }
        let seen = monitor.count();
        if (delta.clone(), seen) != last {
            last = (delta.clone(), seen);
            last_change = Instant::now();
        }
        if let Some(at) = measured_at {
            let quiet = last_change.elapsed() >= Duration::from_secs(1);
            if rest_caught_up(&delta, seen) && quiet {
                progress.drained = true;
                return Ok(progress);
            }
            if at.elapsed() >= DRAIN_GRACE {
                tracing::warn!("decide, act or the actuator did not catch up in time; stopping");
                return Ok(progress);
            }
        }
        for stage in stages.iter_mut() {
            stage.check_alive()?;
        }
        if Instant::now() > deadline {
            bail!("timed out before the pipeline consumed every line: {delta:?}");
        }
        tokio::time::sleep(SCRAPE_INTERVAL).await;
    }
}

// ---------------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------------

/// Latency of each command traced back to a line of this run: its record's timestamp minus the produce
/// time of the earliest of its source lines, ms.
fn latencies_ms(observed: &[Observed], fed: &Fed, source_topic: &str) -> Vec<f64> {
    observed
        .iter()
        .filter_map(|o| {
            let earliest = o
                .command
                .provenance
                .sources
                .iter()
                .filter(|s| s.topic == source_topic)
                .filter_map(|s| fed.produced_ms.get(&(s.partition, s.offset)))
                .min()?;
            #[allow(clippy::cast_precision_loss, reason = "milliseconds")]
            Some((o.timestamp_ms - earliest) as f64)
        })
        .collect()
}

/// The nearest-rank `p`-th percentile of sorted `values`.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
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
fn stage_report(counters: &Counters, done_s: Option<f64>) -> StageReport {
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
fn report(
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
        cpu_s: usage.cpu_s,
        bench_process_rss_mb: read_peak_rss_mb("/proc/self/status"),
        bench_process_cpu_s: cpu_seconds("/proc/self/stat"),
        stages,
        drained: progress.drained,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_chunks_join_into_one_full_line() {
        let text = "2026-01-01T00:00:00.1Z stdout P abc\n2026-01-01T00:00:00.2Z stdout P def\n\
                    2026-01-01T00:00:00.3Z stdout F ghi\n2026-01-01T00:00:01Z stderr F x y\n";
        assert_eq!(
            join_partials(text),
            [
                "2026-01-01T00:00:00.1Z stdout F abcdefghi",
                "2026-01-01T00:00:01Z stderr F x y"
            ]
        );
    }

    #[test]
    fn timestamps_move_and_keep_their_shape() {
        let line =
            "2026-03-14T09:00:02.585000000Z stdout F 2026-03-14 09:00:02.585  INFO ü 2026-03-14";
        assert_eq!(
            shift_timestamps(line, 86_400 + 3_600),
            "2026-03-15T10:00:02.585000000Z stdout F 2026-03-15 10:00:02.585  INFO ü 2026-03-14"
        );
        assert_eq!(shift_timestamps("no time 12:00:00", 5), "no time 12:00:00");
    }

    #[test]
    fn the_incident_is_a_template_with_the_names_the_bench_renames() {
        let incident = Incident::bundled();
        assert!(incident.lines.len() > 400);
        assert!(
            incident
                .lines
                .windows(2)
                .all(|w| w[0].offset_ns <= w[1].offset_ns)
        );
        assert!(incident.lines.iter().all(|l| !l.payload.contains(" P ")));
        let pods = format!("{INCIDENT_WORKLOAD}-{INCIDENT_POD_HASH}");
        // CRI lines are keyed by their pod's log path, Events by their object (a pod or the node).
        assert!(
            incident
                .lines
                .iter()
                .all(|l| l.key.contains(&pods) || l.key == INCIDENT_NODE)
        );
        assert!(
            incident
                .lines
                .iter()
                .any(|l| l.payload.contains(INCIDENT_NODE))
        );
        assert!((500..700).contains(&incident.span_s()));
    }

    #[test]
    fn the_load_is_in_event_time_order_across_renamed_workloads_ending_about_now() {
        let incident = Incident::bundled();
        let now_ns = rfc3339_ns("2026-11-30T12:00:00Z");
        let lines: Vec<(String, String)> =
            Load::new(&incident, 8, 3000, now_ns).take(3000).collect();
        assert_eq!(lines.len(), 3000);
        let time = |(_, payload): &(String, String)| {
            if payload.starts_with('{') {
                let v: serde_json::Value = serde_json::from_str(payload).expect("event json");
                rfc3339_ns(v["lastTimestamp"].as_str().expect("lastTimestamp"))
            } else {
                rfc3339_ns(payload.split(' ').next().expect("time"))
            }
        };
        let times: Vec<i64> = lines.iter().map(time).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "event-time order");
        assert!(*times.last().expect("lines") <= now_ns);
        assert!(
            now_ns - times[0] < 3 * 3_600 * 1_000_000_000,
            "ends about now"
        );
        let workloads: std::collections::BTreeSet<&str> = lines
            .iter()
            .filter_map(|(key, _)| key.split("checkout-w").nth(1)?.split('-').next())
            .collect();
        assert!(workloads.len() >= 5, "{workloads:?}");
        assert!(
            lines
                .iter()
                .all(|(key, payload)| !key.contains("checkout-6b8f7d9c4d")
                    && !payload.contains("checkout-6b8f7d9c4d"))
        );
    }

    #[test]
    fn prometheus_text_is_read_with_labels() {
        let scrape = Scrape::parse(
            "# HELP x\nmedic_records_out_total{kind=\"log_record\",stage=\"ingest\"} 7\n\
             medic_records_out_total{kind=\"window_features\",stage=\"ingest\"} 2\n\
             medic_stage_events_total{event=\"windows.late_dropped\",stage=\"enrich\"} 3\n\
             medic_batch_duration_seconds_sum{stage=\"ingest\"} 0.5\n",
        );
        assert_eq!(scrape.count("medic_records_out_total", &[]), 9);
        assert_eq!(
            scrape.count("medic_records_out_total", &[("kind", "log_record")]),
            7
        );
        assert_eq!(scrape.events_ending("late_dropped"), 3);
        assert!((scrape.sum("medic_batch_duration_seconds_sum", &[]) - 0.5).abs() < 1e-9);
        assert_eq!(
            parse_labels(r#"a="x\"y",b="z""#),
            BTreeMap::from([("a".into(), "x\"y".into()), ("b".into(), "z".into())])
        );
    }

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
    fn cpu_seconds_come_from_proc_stat() {
        let dir = std::env::temp_dir().join(format!("medic-bench-stat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("stat");
        std::fs::write(
            &file,
            "42 (medic run) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0",
        )
        .expect("write");
        assert_eq!(cpu_seconds(&file.display().to_string()), Some(3.0));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(cpu_seconds("/proc/self/stat").is_some_and(|s| s >= 0.0));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&[3.0], 99.0), Some(3.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn the_generated_pipeline_reads_back_as_written() {
        let args = E2eArgs {
            lines: 1,
            rate: None,
            brokers: None,
            pipeline: None,
            partitions: 8,
            workloads: None,
            max_in_flight: Some(10),
            timeout_secs: 1,
            wrap: None,
        };
        let config = bench_config(&args, "127.0.0.1:1", Some("bench-x.")).expect("config");
        assert_eq!(config.topics.actions, "bench-x.medic.actions");
        assert_eq!(config.ingest.sources[0].topic(), "bench-x.medic.logs.k8s");
        let dir = std::env::temp_dir().join(format!("medic-bench-e2e-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        write_pipeline(&config, &dir).expect("reads back");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
