//! Crash safety, tested: `medic run --stage X` child processes (one stage each, as on Kubernetes)
//! against Apache Kafka (the test broker).
//!
//! - ingest and enrich killed with SIGKILL mid-stream and restarted: every input accounted for, enrich's
//!   output identical to an uninterrupted run's, its state counting each record once;
//! - the whole chain (ingest → … → actuator in `log` mode) with enrich and diagnose scaled from one
//!   instance to three and back to one while the stream runs (one of each SIGKILLed on the way down),
//!   and diagnose, decide and act killed and restarted: every input accounted for, template ids as an
//!   uninterrupted run gives them, windows emitted again only with the same counts, each idempotency
//!   key applied once, replays refused, cooldowns kept;
//! - the broker killed with SIGKILL mid-stream and restarted on its log dirs ([`testkit::durable`]): the stages ride
//!   it out and nothing is lost or counted twice;
//! - a burst of ten times the steady phase's records: ingest's memory stays within what its prefetch
//!   bounds allow (peak RSS printed; run with `--nocapture`).

use rdkafka::message::{BorrowedMessage, Message};
use schemas::{
    Action, ActionOutcome, ActionResult, Decision, Diagnosis, LogRecord, ParsedRecord, RecordKind,
    RemediationCommand, SourceRecord, Stage, WindowFeatures,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use testkit::incident;
use testkit::kafka::{
    brokers, create_topic, headers, observer, payloads, produce_all, read_until, run_pipeline,
};
use testkit::process::{Medic, spawn_medic_with, wait_ready};
use testkit::scrape::metric;
use testkit::scratch::{free_port, run_id, scratch_dir};

use super::common::MACHINE;

/// One test's pipeline file, topics, consumer groups and stage processes (each with its own admin port
/// and log). A process is named by its stage, or `<stage>-<n>` for a further replica of it.
struct Rig {
    run_id: String,
    dir: PathBuf,
    pipeline: PathBuf,
    brokers: String,
    ports: BTreeMap<&'static str, u16>,
    /// Environment overrides per stage (`MEDIC__<SECTION>__<KEY>`).
    env: BTreeMap<&'static str, Vec<(&'static str, String)>>,
}

impl Rig {
    /// A pipeline on `brokers` whose topics are this run's own; `extra` is appended to the file, with
    /// `{dir}` standing for the run's directory.
    fn new(name: &str, brokers: &str, extra: &str) -> Self {
        let run_id = run_id(name);
        let dir = std::env::temp_dir().join(&run_id);
        std::fs::create_dir_all(&dir).expect("dir");
        let extra = extra.replace("{dir}", &dir.display().to_string());
        let head = run_pipeline(&run_id, brokers, 3);
        let pipeline = dir.join("pipeline.toml");
        std::fs::write(
            &pipeline,
            format!(
                r#"{head}
[runner]
batch_max_records = 100
batch_linger = "20ms"
tick_interval = "200ms"
checkpoint_interval = "1s"

[[ingest.sources]]
name = "{run_id}"
{extra}
"#
            ),
        )
        .expect("pipeline");
        let ports = [
            "ingest",
            "enrich",
            "enrich-2",
            "enrich-3",
            "diagnose",
            "diagnose-2",
            "diagnose-3",
            "decide",
            "act",
            "actuator",
        ]
        .into_iter()
        .map(|process| (process, free_port()))
        .collect();
        Self {
            run_id,
            dir,
            pipeline,
            brokers: brokers.to_owned(),
            ports,
            env: BTreeMap::new(),
        }
    }

    /// Sets `MEDIC__<SECTION>__<KEY>` = `value` for `stage`'s processes.
    fn with_env(mut self, stage: &'static str, key: &'static str, value: &str) -> Self {
        self.env
            .entry(stage)
            .or_default()
            .push((key, value.to_owned()));
        self
    }

    fn topic(&self, name: &str) -> String {
        format!("{}.{name}", self.run_id)
    }

    fn source(&self) -> String {
        format!("medic.logs.{}", self.run_id)
    }

    fn config(&self) -> medic::config::PipelineConfig {
        medic::config::load_pipeline(Some(&self.pipeline), std::iter::empty())
            .expect("valid pipeline")
            .config
    }

    fn log(&self, stage: &str) -> PathBuf {
        self.dir.join(format!("{stage}.log"))
    }

    fn logs(&self) -> String {
        self.ports
            .keys()
            .filter_map(|process| {
                let text = std::fs::read_to_string(self.log(process)).ok()?;
                Some(format!("--- {process}\n{text}"))
            })
            .collect()
    }

    /// Starts `process` (a stage, or `<stage>-<n>`: another replica of it) in its own process and waits
    /// until it has subscribed.
    fn start(&self, process: &'static str) -> Medic {
        let stage = process.split('-').next().unwrap_or(process);
        let port = self.ports[process];
        let listen = format!("127.0.0.1:{port}");
        let mut env = vec![("MEDIC__ADMIN__LISTEN", listen.as_str())];
        env.extend(
            self.env
                .get(stage)
                .into_iter()
                .flatten()
                .map(|(k, v)| (*k, v.as_str())),
        );
        let mut medic = spawn_medic_with(&self.pipeline, &[stage], &self.log(process), &env);
        wait_ready(&mut medic, port);
        medic
    }

    /// A sample of `process`'s metrics, e.g. `checkpoints_total{stage="enrich"}` (without the
    /// `medic_` prefix); 0 while the process does not answer.
    fn metric(&self, process: &str, sample: &str) -> f64 {
        metric(self.ports[process], &format!("medic_{sample}")).unwrap_or(0.0)
    }

    /// Records of `kind` `process` has delivered (`medic_records_out_total`).
    fn out(&self, process: &str, kind: schemas::RecordKind) -> f64 {
        let stage = process.split('-').next().unwrap_or(process);
        self.metric(
            process,
            &format!(
                "records_out_total{{kind=\"{}\",stage=\"{stage}\"}}",
                kind.as_str()
            ),
        )
    }

    /// Records `process` has read (`medic_records_in_total`).
    fn read(&self, process: &str) -> f64 {
        let stage = process.split('-').next().unwrap_or(process);
        self.metric(process, &format!("records_in_total{{stage=\"{stage}\"}}"))
    }

    /// Waits until `ready` holds, polling every 20 ms.
    async fn wait_for(&self, what: &str, limit: Duration, ready: impl Fn() -> bool) {
        let deadline = Instant::now() + limit;
        while !ready() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; logs:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no drain, no checkpoint, no commit of anything in flight.
    fn kill(medic: Medic) {
        let mut medic = medic;
        medic.kill();
    }
}

/// One record read back from a topic.
#[derive(Debug, Clone)]
struct Out {
    partition: i32,
    offset: i64,
    payload: Vec<u8>,
    headers: HashMap<String, String>,
}

/// Everything read back, by topic.
#[derive(Default)]
struct Seen(HashMap<String, Vec<Out>>);

impl Seen {
    /// Keeps `message` under its topic.
    /// Keeps every record of `message` (a frame holds several) under its topic.
    fn record(&mut self, message: &BorrowedMessage<'_>) {
        let seen = self.0.entry(message.topic().to_owned()).or_default();
        for payload in payloads(message) {
            seen.push(Out {
                partition: message.partition(),
                offset: message.offset(),
                payload,
                headers: headers(message),
            });
        }
    }

    /// Records read per topic, and the stages' logs, for a timeout.
    fn report(&self, rig: &Rig) -> String {
        let dead: BTreeSet<String> = self
            .on(&rig.topic("dlq"))
            .iter()
            .map(|o| {
                let header = |k: &str| o.headers.get(k).map_or("?", String::as_str);
                format!(
                    "{}: {}",
                    header("medic.stage"),
                    header("medic.error.reason")
                )
            })
            .collect();
        let diagnose: Vec<(&str, f64)> = [
            "diagnose.windows_classified",
            "diagnose.windows_normal",
            "diagnose.decided_by_line",
            "diagnose.decided_by_change",
            "diagnose.window_corrections",
            "diagnose.evidence_lines_left_out",
        ]
        .into_iter()
        .map(|e| {
            let sample = format!("stage_events_total{{event=\"{e}\",stage=\"diagnose\"}}");
            (e, rig.metric("diagnose", &sample))
        })
        .collect();
        let chain = Chain::of(self, rig);
        let mut last_diagnosed: BTreeMap<&str, i64> = BTreeMap::new();
        for d in &chain.diagnoses {
            let end = last_diagnosed
                .entry(d.target.name.as_str())
                .or_insert(i64::MIN);
            *end = (*end).max(d.window_end_ns / 1_000_000_000);
        }
        format!(
            "read so far: {:?}\ndiagnose: {diagnose:?}\nlast window diagnosed (s): {last_diagnosed:?}\n\
             remedied: {:?}, caught up: {}\ndead letters: {dead:#?}\nlogs:\n{}",
            self.0.iter().map(|(t, v)| (t, v.len())).collect::<Vec<_>>(),
            chain.remedied(),
            chain.caught_up(),
            rig.logs()
        )
    }

    fn on(&self, topic: &str) -> &[Out] {
        self.0.get(topic).map_or(&[], Vec::as_slice)
    }

    fn decoded<R: schemas::WireRecord>(&self, topic: &str) -> Vec<R> {
        self.on(topic)
            .iter()
            .map(|o| schemas::decode_record(&o.payload).expect("a pipeline record"))
            .collect()
    }
}

/// Reads the normalised, parsed and dead-letter topics (and `more` of the run's topics) until every
/// `landed` input came out of ingest (normalised or dead-lettered) and enrich has caught up with it.
async fn read_ingested(rig: &Rig, landed: &[(i32, i64)], more: &[&str], limit: Duration) -> Seen {
    let mut names = vec!["normalized", "parsed", "dlq"];
    names.extend_from_slice(more);
    let topics: Vec<String> = names.iter().map(|n| rig.topic(n)).collect();
    let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    let consumer = observer(
        &rig.brokers,
        &format!("{}-observer", rig.run_id),
        &topic_refs,
    );
    let mut seen = Seen::default();
    let (normalized_topic, parsed_topic) = (rig.topic("normalized"), rig.topic("parsed"));
    read_until(
        &consumer,
        &mut seen,
        Seen::record,
        |s| {
            let identities: BTreeSet<(i32, i64)> = ingest_identities(s, rig).into_iter().collect();
            landed.iter().all(|i| identities.contains(i))
                && s.on(&parsed_topic).len() >= s.on(&normalized_topic).len()
        },
        Duration::from_secs(3),
        limit,
        |s| s.report(rig),
    )
    .await;
    seen
}

/// Ten Deployments' crash-loops (renamed copies of the demo incident), with a record no stage can read
/// every 500.
fn crash_loops_with_unreadable() -> Vec<(String, Vec<u8>)> {
    let mut inputs = incident::copies(10);
    for at in (0..inputs.len()).step_by(500).rev() {
        inputs.insert(at, ("bad".to_owned(), b"{\"kind\":\"Event\"".to_vec()));
    }
    inputs
}

/// Whether enrich has parsed every source identity ingest normalised.
fn enrich_caught_up(seen: &Seen, rig: &Rig) -> bool {
    let parsed: BTreeSet<(i32, i64)> = seen
        .decoded::<ParsedRecord>(&rig.topic("parsed"))
        .iter()
        .map(|p| (p.log.source.partition, p.log.source.offset))
        .collect();
    seen.decoded::<LogRecord>(&rig.topic("normalized"))
        .iter()
        .all(|r| parsed.contains(&(r.source.partition, r.source.offset)))
}

/// Source identity (partition, offset) of every record ingest wrote or dead-lettered.
fn ingest_identities(seen: &Seen, rig: &Rig) -> Vec<(i32, i64)> {
    let mut identities: Vec<(i32, i64)> = seen
        .decoded::<LogRecord>(&rig.topic("normalized"))
        .into_iter()
        .map(|r| {
            assert_eq!(r.source.topic, rig.source(), "the source topic is carried");
            (r.source.partition, r.source.offset)
        })
        .collect();
    identities.extend(ingest_dead_letters(seen, rig));
    identities
}

/// Source identity of every record ingest dead-lettered (each copy).
fn ingest_dead_letters(seen: &Seen, rig: &Rig) -> Vec<(i32, i64)> {
    seen.on(&rig.topic("dlq"))
        .iter()
        .filter(|dead| dead.headers.get("medic.stage").map(String::as_str) == Some("ingest"))
        .map(|dead| {
            let header = |k: &str| dead.headers.get(k).expect("dlq source header").clone();
            assert_eq!(header("medic.source.topic"), rig.source());
            (
                header("medic.source.partition").parse().expect("partition"),
                header("medic.source.offset").parse().expect("offset"),
            )
        })
        .collect()
}

/// Asserts that every input identity is accounted for, nothing else appears, and duplicates are only the
/// at-least-once redelivery of one contiguous run of offsets per partition (each at most `max_copies`
/// times). Inside that run, an input of `dead` (dead-lettered) may have come out once: a stage killed
/// while delivering a batch may have had its outputs acknowledged but not its dead letter, which goes
/// to another topic, and the redelivered batch writes that one once. Returns the number of duplicates.
fn assert_accounted(
    inputs: &[(i32, i64)],
    outputs: &[(i32, i64)],
    dead: &[(i32, i64)],
    max_copies: usize,
) -> usize {
    let mut counts: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    for identity in outputs {
        *counts.entry(*identity).or_default() += 1;
    }
    let expected: BTreeSet<(i32, i64)> = inputs.iter().copied().collect();
    assert_eq!(
        expected.len(),
        inputs.len(),
        "inputs landed at distinct offsets"
    );
    let missing: Vec<_> = expected
        .iter()
        .filter(|i| !counts.contains_key(i))
        .collect();
    assert!(
        missing.is_empty(),
        "lost {} of {} inputs, e.g. {:?}",
        missing.len(),
        inputs.len(),
        &missing[..missing.len().min(5)]
    );
    let unknown: Vec<_> = counts.keys().filter(|i| !expected.contains(i)).collect();
    assert!(unknown.is_empty(), "outputs of no input: {unknown:?}");
    let mut duplicated: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for (&(partition, offset), &n) in &counts {
        assert!(n <= max_copies, "{partition}/{offset} came out {n} times");
        if n > 1 {
            duplicated.entry(partition).or_default().push(offset);
        }
    }
    // Within a partition, inputs are offsets 0.. in order: a redelivered run is contiguous.
    let on_partition = |p: i32| -> BTreeSet<i64> {
        expected
            .iter()
            .filter(|(q, _)| *q == p)
            .map(|(_, o)| *o)
            .collect()
    };
    let dead: BTreeSet<&(i32, i64)> = dead.iter().collect();
    for (partition, offsets) in &duplicated {
        let all = on_partition(*partition);
        let (first, last) = (offsets[0], offsets[offsets.len() - 1]);
        let run = all
            .range(first..=last)
            .filter(|o| offsets.binary_search(o).is_ok() || !dead.contains(&(*partition, **o)))
            .count();
        assert_eq!(
            run,
            offsets.len(),
            "partition {partition}: duplicates {offsets:?} are not one redelivered run"
        );
    }
    outputs.len() - counts.len()
}

/// What an uninterrupted enrich stage gives.
struct Uninterrupted {
    /// Per source identity, the set of (template id, version, template, params) its parsed records carry.
    templates: HashMap<(i32, i64), BTreeSet<String>>,
    /// Per window ([`window_key`]), its record count, every window flushed at the end.
    windows: HashMap<String, u64>,
}

/// What an uninterrupted enrich stage, configured as `rig`'s, gives for the normalised topic, each
/// partition read in offset order by its own state (as enrich keeps it).
fn uninterrupted_enrich(rig: &Rig, normalized: &[Out]) -> Uninterrupted {
    let mut ordered = normalized.to_vec();
    // Stable: a frame's records keep their order.
    ordered.sort_by_key(|o| (o.partition, o.offset));
    let mut parsed: Vec<ParsedRecord> = Vec::new();
    let mut windows = HashMap::new();
    for partition in ordered.chunk_by(|a, b| a.partition == b.partition) {
        let mut stage = rig.config().enrich.build().expect("enrich builds");
        let batch: Vec<SourceRecord> = partition
            .iter()
            .map(|o| {
                let topic = rig.topic("normalized");
                SourceRecord::new(&topic, o.partition, o.offset, o.payload.clone())
            })
            .collect();
        let mut out = schemas::Emitter::new();
        stage.process_batch(&batch, &mut out);
        stage.flush(&mut out);
        parsed.extend(out.decode_all::<ParsedRecord>().expect("parsed"));
        for w in out.decode_all::<WindowFeatures>().expect("windows") {
            windows.insert(window_key(&w), w.record_count);
        }
    }
    assert_eq!(parsed.len(), ordered.len(), "one parsed record per input");
    Uninterrupted {
        templates: templates_by_identity(parsed),
        windows,
    }
}

/// A window's identity: workload, template (for per-template windows), start and revision.
fn window_key(w: &WindowFeatures) -> String {
    format!(
        "{} {:?} {} {}",
        w.target, w.template_id, w.window_start_ns, w.revision
    )
}

/// Asserts that the parsed records carry exactly the template ids, versions and parameters an
/// uninterrupted enrich stage gives for the normalised records, and that every window emitted (once or
/// more: again after a restart, or by a partition's next owner) carries the counts it gives; returns
/// the windows seen.
fn assert_enrich_as_uninterrupted(rig: &Rig, seen: &Seen) -> usize {
    let uninterrupted = uninterrupted_enrich(rig, seen.on(&rig.topic("normalized")));
    let reference = uninterrupted.templates;
    let observed = templates_by_identity(seen.decoded::<ParsedRecord>(&rig.topic("parsed")));
    assert_eq!(observed.len(), reference.len(), "every identity was parsed");
    let mut differing = 0;
    for (identity, expected) in &reference {
        if observed.get(identity) != Some(expected) {
            differing += 1;
            if differing <= 3 {
                eprintln!(
                    "{identity:?}: expected {expected:?}, got {:?}",
                    observed.get(identity)
                );
            }
        }
    }
    assert_eq!(
        differing, 0,
        "parsed records differ from an uninterrupted run's"
    );
    let mut windows: BTreeSet<String> = BTreeSet::new();
    for w in seen.decoded::<WindowFeatures>(&rig.topic("windows")) {
        let key = window_key(&w);
        assert_eq!(
            uninterrupted.windows.get(&key),
            Some(&w.record_count),
            "window {key} emitted with other counts than an uninterrupted run's"
        );
        windows.insert(key);
    }
    windows.len()
}

fn templates_by_identity(
    parsed: impl IntoIterator<Item = ParsedRecord>,
) -> HashMap<(i32, i64), BTreeSet<String>> {
    let mut by_identity: HashMap<(i32, i64), BTreeSet<String>> = HashMap::new();
    for p in parsed {
        by_identity
            .entry((p.log.source.partition, p.log.source.offset))
            .or_default()
            .insert(format!(
                "{} v{} {:?} {:?}",
                p.template_id, p.template_version, p.template, p.params
            ));
    }
    by_identity
}

/// Asserts that enrich's last checkpoints (written at its graceful stop, one per partition) cover every
/// normalised message (a frame holds several records: the distinct partitions and offsets are the
/// messages) and that its template miners absorbed each record exactly once: the cluster sizes add up to
/// the records on the normalised topic — a record read twice into a state (after a restart, a rebalance
/// or a partition moving between replicas) would count twice.
fn assert_enrich_state_counts_each_record_once(rig: &Rig, seen: &[Out]) {
    let normalized = seen.len();
    let messages = seen
        .iter()
        .map(|o| (o.partition, o.offset))
        .collect::<BTreeSet<_>>()
        .len();
    let (covered, absorbed) = super::common::enrich_checkpointed(
        &rig.brokers,
        &rig.topic("checkpoints"),
        &format!("{}-enrich", rig.run_id),
        &rig.topic("normalized"),
    );
    assert_eq!(
        covered, messages,
        "the checkpoints cover every normalised message"
    );
    assert_eq!(
        absorbed, normalized as u64,
        "the miner absorbed each normalised record once"
    );
}

#[ignore = "needs the test broker: run scripts/test.sh, or scripts/kafka-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_and_enrich_killed_mid_stream_lose_nothing_and_keep_their_template_ids() {
    let _shared = MACHINE.read().await;
    let started = Instant::now();
    let rig = Rig::new("crash", &brokers(), "");
    // The normalised topic has one partition, so the enrich stage's input order is fixed and its
    // output can be compared with an uninterrupted run's.
    create_topic(&rig.brokers, &rig.topic("normalized"), 1).await;
    medic::app::create_topics(&rig.config())
        .await
        .expect("topics");

    let inputs = crash_loops_with_unreadable();
    let n = inputs.len();
    let mut ingest = rig.start("ingest");
    let mut enrich = rig.start("enrich");

    // Inputs arrive over ~3 s, in ten slices, as a cluster would ship them.
    let feeder = {
        let (brokers, source, inputs) = (rig.brokers.clone(), rig.source(), inputs.clone());
        tokio::spawn(async move {
            let mut landed = Vec::new();
            for slice in inputs.chunks(n.div_ceil(10)) {
                landed.extend(produce_all(&brokers, &source, slice).await);
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            landed
        })
    };

    // SIGKILL ingest once it has delivered a third, mid-stream.
    let ingested = || rig.out("ingest", RecordKind::Log);
    rig.wait_for("ingest's first third", Duration::from_secs(60), || {
        ingested() >= (n / 3) as f64
    })
    .await;
    let at_kill = ingested();
    Rig::kill(ingest);
    assert!(
        at_kill < n as f64,
        "ingest was killed mid-stream ({at_kill} of {n})"
    );
    eprintln!("ingest killed after {at_kill} of {n} records");
    ingest = rig.start("ingest");

    // SIGKILL enrich once it has checkpointed and delivered half, mid-stream.
    let parsed = || rig.out("enrich", RecordKind::Parsed);
    rig.wait_for("enrich's first half", Duration::from_secs(90), || {
        rig.metric("enrich", "checkpoints_total{stage=\"enrich\"}") >= 1.0
            && parsed() >= (n / 2) as f64
    })
    .await;
    let at_kill = parsed();
    Rig::kill(enrich);
    assert!(
        at_kill < n as f64,
        "enrich was killed mid-stream ({at_kill} of {n})"
    );
    eprintln!("enrich killed after {at_kill} of {n} records");
    enrich = rig.start("enrich");

    let landed = feeder.await.expect("feeder");
    assert_eq!(landed.len(), n);
    let seen = read_ingested(&rig, &landed, &["windows"], Duration::from_secs(120)).await;
    let (normalized_topic, parsed_topic) = (rig.topic("normalized"), rig.topic("parsed"));

    // Ingest: every input came out (normalised or dead-lettered), duplicates only as redelivery.
    let duplicates = assert_accounted(
        &landed,
        &ingest_identities(&seen, &rig),
        &ingest_dead_letters(&seen, &rig),
        2,
    );
    let dead = seen.on(&rig.topic("dlq")).len();
    assert!(
        dead >= n.div_ceil(500),
        "the unreadable inputs are dead-lettered"
    );
    eprintln!(
        "ingest: {n} inputs, {} normalised, {dead} dead-lettered, {duplicates} redelivered",
        seen.on(&normalized_topic).len()
    );

    // Enrich: every normalised record was parsed, with exactly the template ids, versions and
    // parameters an uninterrupted stage gives — the restarted stage continued from its checkpoint.
    let windows = assert_enrich_as_uninterrupted(&rig, &seen);
    assert!(windows > 0);
    let parsed_total = seen.on(&parsed_topic).len();
    assert!(
        parsed_total > seen.on(&normalized_topic).len(),
        "the restarted enrich re-delivered what its last checkpoint did not cover"
    );
    let enrich_log = std::fs::read_to_string(rig.log("enrich")).unwrap_or_default();
    assert!(
        enrich_log.contains("partition state restored"),
        "{enrich_log}"
    );

    for medic in [ingest, enrich] {
        let mut medic = medic;
        let exit = testkit::process::terminate(&mut medic, Duration::from_secs(30));
        assert!(exit.success(), "{exit:?}\n{}", rig.logs());
    }
    assert_enrich_state_counts_each_record_once(&rig, seen.on(&normalized_topic));
    eprintln!(
        "parsed {parsed_total} records for {} normalised; {} windows; {:?}",
        seen.on(&normalized_topic).len(),
        windows,
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// What the chain test saw, decoded.
struct Chain {
    diagnoses: Vec<Diagnosis>,
    decisions: Vec<Decision>,
    commands: Vec<RemediationCommand>,
    results: Vec<ActionResult>,
    /// Dead letters of the actuator: (idempotency key, reason).
    refused: Vec<(String, String)>,
}

impl Chain {
    fn of(seen: &Seen, rig: &Rig) -> Self {
        let refused = seen
            .on(&rig.topic("dlq"))
            .iter()
            .filter(|d| d.headers.get("medic.stage").map(String::as_str) == Some("actuator"))
            .map(|d| {
                let command: RemediationCommand =
                    schemas::decode_record(&d.payload).expect("a refused command");
                let reason = d.headers.get("medic.error.reason").cloned();
                (command.idempotency_key, reason.unwrap_or_default())
            })
            .collect();
        Self {
            diagnoses: seen.decoded(&rig.topic("diagnoses")),
            decisions: seen.decoded(&rig.topic("decisions")),
            commands: seen.decoded(&rig.topic("actions")),
            results: seen.decoded(&rig.topic("results")),
            refused,
        }
    }

    /// The Deployments diagnosed at least once.
    fn diagnosed(&self) -> usize {
        self.diagnoses
            .iter()
            .map(|d| d.target.name.as_str())
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// The Deployments whose remedy (rollout restart or rollback) the actuator applied.
    fn remedied(&self) -> BTreeSet<&str> {
        let applied: BTreeSet<&str> = self
            .results
            .iter()
            .filter(|r| r.outcome == ActionOutcome::Logged)
            .map(|r| r.idempotency_key.as_str())
            .collect();
        self.commands
            .iter()
            .filter(|c| {
                matches!(c.action, Action::RolloutRestart | Action::Rollback)
                    && applied.contains(c.idempotency_key.as_str())
            })
            .map(|c| c.target.name.as_str())
            .collect()
    }

    /// Every stage after diagnose has caught up with what its upstream wrote: each diagnosis has a
    /// decision, each actionable decision a command, each command a result or a dead letter.
    fn caught_up(&self) -> bool {
        let decided: BTreeSet<&str> = self
            .decisions
            .iter()
            .map(|d| d.diagnosis_id.as_str())
            .collect();
        let issued: BTreeSet<&str> = self
            .commands
            .iter()
            .map(|c| c.idempotency_key.as_str())
            .collect();
        self.diagnoses
            .iter()
            .all(|d| decided.contains(d.diagnosis_id.as_str()))
            && self
                .decisions
                .iter()
                .filter(|d| d.action != Action::Noop)
                .all(|d| issued.contains(d.decision_id.as_str()))
            && self.results.len() + self.refused.len() >= self.commands.len()
    }
}

#[ignore = "needs the test broker: run scripts/test.sh, or scripts/kafka-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_scaled_and_with_stages_killed_mid_stream_applies_each_command_once() {
    let _alone = MACHINE.write().await;
    let started = Instant::now();
    // diagnose and decide checkpoint (and so commit) every 20 s: a partition that moves, or a restart,
    // replays what they delivered since, and the replayed commands must be refused by the actuator as
    // replays.
    let rig = Rig::new(
        "chain",
        &brokers(),
        "[act]\nmode = \"log\"\nkeys_file = \"{dir}/keys\"\njournal = \"{dir}/journal\"\n",
    )
    .with_env("diagnose", "MEDIC__RUNNER__CHECKPOINT_INTERVAL", "20s")
    .with_env("decide", "MEDIC__RUNNER__CHECKPOINT_INTERVAL", "20s");
    std::fs::write(rig.dir.join("keys"), act::KeyRing::generate_line("ops-1")).expect("keys");
    medic::app::create_topics(&rig.config())
        .await
        .expect("topics");
    let inputs = crash_loops_with_unreadable();
    let n = inputs.len();
    let mut running: BTreeMap<&'static str, Medic> = BTreeMap::new();
    for stage in ["ingest", "enrich", "diagnose", "decide", "act", "actuator"] {
        running.insert(stage, rig.start(stage));
    }
    eprintln!("chain started after {:?}", started.elapsed());
    // Inputs arrive over ~10 s, so that the stages scale while the stream runs.
    let feeder = {
        let (brokers, source, inputs) = (rig.brokers.clone(), rig.source(), inputs.clone());
        tokio::spawn(async move {
            let mut landed = Vec::new();
            for slice in inputs.chunks(n.div_ceil(30)) {
                landed.extend(produce_all(&brokers, &source, slice).await);
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            landed
        })
    };

    // enrich and diagnose scale out to three instances, then in to one (the third of each SIGKILLed);
    // then diagnose and decide die once commands flow; then act.
    let restart = |running: &mut BTreeMap<&'static str, Medic>, stages: &[&'static str]| {
        for stage in stages {
            Rig::kill(running.remove(stage).expect("running"));
        }
        for stage in stages {
            running.insert(stage, rig.start(stage));
        }
    };
    rig.wait_for("enrich's first quarter", Duration::from_secs(90), || {
        rig.metric("enrich", "checkpoints_total{stage=\"enrich\"}") >= 1.0
            && rig.out("enrich", RecordKind::Parsed) >= (n / 4) as f64
    })
    .await;
    let replicas = ["enrich-2", "enrich-3", "diagnose-2", "diagnose-3"];
    for process in replicas {
        running.insert(process, rig.start(process));
    }
    // Each new instance has taken over a partition and worked on it for a while.
    rig.wait_for("the new replicas to read", Duration::from_secs(90), || {
        replicas.iter().all(|process| {
            let enough = if process.starts_with("enrich") {
                50.0
            } else {
                1.0
            };
            rig.read(process) >= enough
        })
    })
    .await;
    let parsed_by_replicas =
        rig.out("enrich-2", RecordKind::Parsed) + rig.out("enrich-3", RecordKind::Parsed);
    eprintln!(
        "enrich and diagnose scaled out to 3 after {:?}; {} of {n} inputs landed by then",
        started.elapsed(),
        rig.out("ingest", RecordKind::Log)
    );
    Rig::kill(running.remove("enrich-3").expect("running"));
    Rig::kill(running.remove("diagnose-3").expect("running"));
    for process in ["enrich-2", "diagnose-2"] {
        let mut medic = running.remove(process).expect("running");
        let exit = testkit::process::terminate(&mut medic, Duration::from_secs(60));
        assert!(exit.success(), "{process}: {exit:?}\n{}", rig.logs());
    }
    eprintln!(
        "enrich and diagnose scaled in to 1 after {:?} (the replicas had parsed {parsed_by_replicas})",
        started.elapsed()
    );
    rig.wait_for("the first command", Duration::from_secs(120), || {
        rig.out("act", RecordKind::Command) >= 1.0
    })
    .await;
    restart(&mut running, &["diagnose", "decide"]);
    eprintln!(
        "diagnose and decide killed and restarted after {:?}",
        started.elapsed()
    );
    let issued = rig.out("act", RecordKind::Command);
    rig.wait_for("more commands", Duration::from_secs(120), || {
        rig.out("act", RecordKind::Command) > issued
    })
    .await;
    restart(&mut running, &["act"]);
    eprintln!("act killed and restarted after {:?}", started.elapsed());

    let landed = feeder.await.expect("feeder");
    let topics: Vec<String> = [
        "normalized",
        "parsed",
        "windows",
        "diagnoses",
        "decisions",
        "actions",
        "results",
        "dlq",
    ]
    .iter()
    .map(|t| rig.topic(t))
    .collect();
    let consumer = observer(
        &rig.brokers,
        &format!("{}-observer", rig.run_id),
        &topics.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut seen = Seen::default();
    loop {
        read_until(
            &consumer,
            &mut seen,
            Seen::record,
            |s| {
                let identities: BTreeSet<(i32, i64)> =
                    ingest_identities(s, &rig).into_iter().collect();
                let chain = Chain::of(s, &rig);
                // Every input is through ingest, every Deployment diagnosed and remedied, every stage
                // after diagnose caught up. (Which of a crash-loop's last windows still read as faulty is
                // the model's judgement, so it is not waited for.)
                landed.iter().all(|i| identities.contains(i))
                    && enrich_caught_up(s, &rig)
                    && chain.diagnosed() == 10
                    && chain.remedied().len() == 10
                    && chain.caught_up()
            },
            Duration::from_secs(3),
            Duration::from_secs(180),
            |s| s.report(&rig),
        )
        .await;
        // Anything that arrived while settling must be caught up with too.
        if Chain::of(&seen, &rig).caught_up() {
            break;
        }
    }
    eprintln!("caught up after {:?}", started.elapsed());

    let duplicates = assert_accounted(
        &landed,
        &ingest_identities(&seen, &rig),
        &ingest_dead_letters(&seen, &rig),
        2,
    );
    // The state followed the partitions: what the replicas parsed carries the template ids, versions
    // and parameters one uninterrupted instance per partition gives, and every window (also one
    // emitted again by a partition's next owner, from its last checkpoint) its counts.
    let windows = assert_enrich_as_uninterrupted(&rig, &seen);
    assert!(windows > 0);
    let logged = |process: &str, line: &str| {
        std::fs::read_to_string(rig.log(process)).is_ok_and(|log| log.contains(line))
    };
    for stage in ["enrich", "diagnose"] {
        assert!(
            [2, 3]
                .iter()
                .any(|n| logged(&format!("{stage}-{n}"), "partition state restored")),
            "no {stage} replica restored a partition's state:\n{}",
            rig.logs()
        );
    }
    assert!(logged("enrich", "state of revoked partitions released"));
    let chain = Chain::of(&seen, &rig);
    let keys: BTreeSet<&str> = chain
        .commands
        .iter()
        .map(|c| c.idempotency_key.as_str())
        .collect();
    // Every command record is accounted for: one result, or a dead letter.
    assert_eq!(
        chain.results.len() + chain.refused.len(),
        chain.commands.len(),
        "one result or dead letter per command record"
    );
    // Each idempotency key is applied (logged) exactly once; its other deliveries are refused as replays.
    let mut logged: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &chain.results {
        assert_eq!(r.outcome, ActionOutcome::Logged, "{r:?}");
        *logged.entry(r.idempotency_key.as_str()).or_default() += 1;
    }
    assert_eq!(
        logged.keys().copied().collect::<BTreeSet<_>>(),
        keys,
        "every key applied"
    );
    assert!(
        logged.values().all(|n| *n == 1),
        "a key applied twice: {logged:?}"
    );
    assert!(
        chain
            .refused
            .iter()
            .all(|(_, reason)| reason.contains("replayed")),
        "{:?}",
        chain.refused
    );
    assert!(
        chain.commands.len() > keys.len() && !chain.refused.is_empty(),
        "the restarts replayed commands, and the actuator refused them"
    );
    // The journal file holds the key of every command that changes something (escalations and noops are
    // remembered in memory only), once.
    let changes: BTreeSet<&str> = chain
        .commands
        .iter()
        .filter(|c| !matches!(c.action, Action::Noop | Action::Escalate))
        .map(|c| c.idempotency_key.as_str())
        .collect();
    let journal = std::fs::read_to_string(rig.dir.join("journal")).expect("journal");
    let journalled: Vec<&str> = journal.lines().collect();
    assert_eq!(
        journalled.iter().copied().collect::<BTreeSet<_>>(),
        changes,
        "the journal holds every key of a change"
    );
    assert_eq!(journalled.len(), changes.len(), "each key journalled once");
    // The cooldown holds across the restarts: no two remedies applied on one Deployment within 300 s of
    // event time.
    let mut remedies: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for c in &chain.commands {
        if logged.contains_key(c.idempotency_key.as_str())
            && matches!(c.action, Action::RolloutRestart | Action::Rollback)
        {
            remedies
                .entry(c.target.name.clone())
                .or_default()
                .push(c.provenance.window_ns.expect("window").1);
        }
    }
    for ends in remedies.values_mut() {
        ends.sort_unstable();
        ends.dedup();
    }
    eprintln!(
        "{n} inputs ({duplicates} redelivered by ingest), {} parsed records for {} normalised, {windows} \
         windows, {} diagnoses, {} decisions, {} command records for {} keys, {} replays refused; \
         remedies per Deployment: {:?}; {:?}",
        seen.on(&rig.topic("parsed")).len(),
        seen.on(&rig.topic("normalized")).len(),
        chain.diagnoses.len(),
        chain.decisions.len(),
        chain.commands.len(),
        keys.len(),
        chain.refused.len(),
        remedies.values().map(Vec::len).collect::<Vec<_>>(),
        started.elapsed()
    );
    for (name, ends) in &remedies {
        assert!(
            ends.windows(2).all(|w| w[1] - w[0] >= 300_000_000_000),
            "{name}: two remedies within the cooldown: {ends:?}"
        );
    }
    assert_eq!(
        remedies.len(),
        10,
        "each Deployment got a remedy: {remedies:?}"
    );

    for (stage, mut medic) in running {
        let exit = testkit::process::terminate(&mut medic, Duration::from_secs(60));
        assert!(exit.success(), "{stage}: {exit:?}\n{}", rig.logs());
    }
    assert_enrich_state_counts_each_record_once(&rig, seen.on(&rig.topic("normalized")));
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// Peak memory of one stage process while it drains.
#[derive(Debug, Default, Clone, Copy)]
struct Peak {
    /// Highest VmRSS sampled, KiB.
    rss_kib: u64,
    /// VmHWM at the end: the highest resident set since the process started, KiB.
    hwm_kib: u64,
}

/// Samples `pid`'s memory every 20 ms until `stage` has delivered `records` records of `kind`.
async fn drain_sampling(
    rig: &Rig,
    stage: &str,
    kind: RecordKind,
    pid: u32,
    records: usize,
    limit: Duration,
) -> Peak {
    let mut peak = Peak::default();
    let deadline = Instant::now() + limit;
    loop {
        let (rss, hwm) = testkit::process::memory_kib(pid).expect("the stage is alive");
        peak.rss_kib = peak.rss_kib.max(rss);
        peak.hwm_kib = hwm;
        if rig.out(stage, kind) >= records as f64 {
            return peak;
        }
        assert!(
            Instant::now() < deadline,
            "{stage} delivered {} of {records} in time; logs:\n{}",
            rig.out(stage, kind),
            rig.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a stage may add to its steady-phase peak while it drains a burst, from its configuration:
/// librdkafka's prefetch queue (`consumer_queue_bytes`, which it may overshoot by one partition's fetch,
/// 1 MiB) and the fetch response being received (capped at the same size); per queued record (at most
/// `consumer_queue_records` per partition) about 1 KiB of bookkeeping; two batches with their outputs,
/// the one in the stage and the one in flight (2 × `batch_max_records` × 8 KiB); and 16 MiB for the allocator (tokio hands the stage's work to
/// blocking threads, each with its own heap) and heap growth — measured: the prefetch bounds keep the
/// rise at 14–18 MiB alone and 24 MiB beside three other crash tests, librdkafka's defaults let it reach
/// 54 MiB.
fn burst_allowance_kib(config: &medic::config::PipelineConfig, partitions: u64) -> u64 {
    let kafka = &config.kafka;
    2 * kafka.consumer_queue_kib()
        + 1024
        + u64::from(kafka.consumer_queue_records) * partitions
        + 2 * config.runner.batch_max_records as u64 * 8
        + 16 * 1024
}

#[ignore = "needs the test broker: run scripts/test.sh, or scripts/kafka-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_ten_times_the_steady_rate_drains_in_bounded_memory() {
    let _alone = MACHINE.write().await;
    let started = Instant::now();
    // medic's default prefetch bounds (pipelines/default.toml), set here as MEDIC_TEST_BURST_KAFKA
    // overrides them (e.g. to librdkafka's own defaults, to see the test fail).
    let rig = Rig::new(
        "burst",
        &brokers(),
        &std::env::var("MEDIC_TEST_BURST_KAFKA").unwrap_or_default(),
    );
    let config = rig.config();
    medic::app::create_topics(&config).await.expect("topics");
    // Twenty Deployments' crash-loops over 5 s, then ten times as many records at once.
    let steady = incident::copies(20);
    let s = steady.len();
    let ingest = rig.start("ingest");
    let pid = ingest.id();

    let feeder = {
        let (brokers, source, steady) = (rig.brokers.clone(), rig.source(), steady.clone());
        tokio::spawn(async move {
            for slice in steady.chunks(s.div_ceil(10)) {
                produce_all(&brokers, &source, slice).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let calm = drain_sampling(
        &rig,
        "ingest",
        RecordKind::Log,
        pid,
        s,
        Duration::from_secs(60),
    )
    .await;
    feeder.await.expect("feeder");
    let steady_took = started.elapsed();

    let burst: Vec<(String, Vec<u8>)> = (0..10).flat_map(|_| steady.clone()).collect();
    let burst_bytes: usize = burst.iter().map(|(k, p)| k.len() + p.len()).sum();
    let burst_started = Instant::now();
    let feeder = {
        let (brokers, source, burst) = (rig.brokers.clone(), rig.source(), burst.clone());
        tokio::spawn(async move { produce_all(&brokers, &source, &burst).await })
    };
    let storm = drain_sampling(
        &rig,
        "ingest",
        RecordKind::Log,
        pid,
        s + burst.len(),
        Duration::from_secs(150),
    )
    .await;
    feeder.await.expect("feeder");
    let allowance = burst_allowance_kib(
        &config,
        u64::try_from(config.kafka.partitions).expect("positive"),
    );
    eprintln!(
        "ingest peak RSS: steady {} KiB (VmHWM {} KiB; {s} records over {steady_took:?}), burst {} KiB \
         (VmHWM {} KiB; {} records, {} KiB, drained in {:?}); bound {} KiB",
        calm.rss_kib,
        calm.hwm_kib,
        storm.rss_kib,
        storm.hwm_kib,
        burst.len(),
        burst_bytes / 1024,
        burst_started.elapsed(),
        calm.hwm_kib + allowance
    );
    assert!(
        storm.hwm_kib <= calm.hwm_kib + allowance,
        "draining the burst took ingest from {} KiB to {} KiB, beyond the {allowance} KiB its bounds allow",
        calm.hwm_kib,
        storm.hwm_kib
    );
    drop(ingest);
    let _ = std::fs::remove_dir_all(&rig.dir);
}

#[ignore = "needs the test broker: run scripts/test.sh, or scripts/kafka-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_and_restarted_mid_stream_loses_nothing() {
    let _alone = MACHINE.write().await;
    let started = Instant::now();
    let scratch = scratch_dir("durable");
    let mut broker = testkit::durable::DurableBroker::start(&scratch);
    let rig = Rig::new("outage", &broker.address(), "");
    create_topic(&rig.brokers, &rig.topic("normalized"), 1).await;
    medic::app::create_topics(&rig.config())
        .await
        .expect("topics");
    let inputs = crash_loops_with_unreadable();
    let n = inputs.len();
    let landed = produce_all(&rig.brokers, &rig.source(), &inputs).await;
    eprintln!(
        "{n} inputs on the durable broker after {:?}",
        started.elapsed()
    );
    let mut stages: Vec<(&str, Medic)> = vec![
        ("ingest", rig.start("ingest")),
        ("enrich", rig.start("enrich")),
    ];

    // SIGKILL the broker once enrich is a quarter through; bring it back on the same port and storage
    // 5 s later.
    rig.wait_for("enrich's first quarter", Duration::from_secs(90), || {
        rig.out("enrich", RecordKind::Parsed) >= (n / 4) as f64
    })
    .await;
    let at_kill = (
        rig.out("ingest", RecordKind::Log),
        rig.out("enrich", RecordKind::Parsed),
    );
    broker.kill();
    eprintln!(
        "broker killed with ingest at {} and enrich at {} of {n}",
        at_kill.0, at_kill.1
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    for (stage, medic) in &mut stages {
        assert!(
            medic.child.try_wait().expect("poll").is_none(),
            "{stage} exited while the broker was down:\n{}",
            rig.logs()
        );
    }
    broker.up();
    eprintln!("broker restarted after {:?}", started.elapsed());

    let seen = read_ingested(&rig, &landed, &[], Duration::from_secs(180)).await;
    let (normalized_topic, parsed_topic) = (rig.topic("normalized"), rig.topic("parsed"));
    // The stages rode out the outage in place: neither exited.
    for (stage, medic) in &mut stages {
        assert!(
            medic.child.try_wait().expect("poll").is_none(),
            "{stage} exited:\n{}",
            rig.logs()
        );
    }
    let duplicates = assert_accounted(
        &landed,
        &ingest_identities(&seen, &rig),
        &ingest_dead_letters(&seen, &rig),
        2,
    );
    assert_enrich_as_uninterrupted(&rig, &seen);
    eprintln!(
        "after the outage: {n} inputs, {} normalised ({duplicates} redelivered), {} parsed; {:?}",
        seen.on(&normalized_topic).len(),
        seen.on(&parsed_topic).len(),
        started.elapsed()
    );
    for (stage, mut medic) in stages {
        let exit = testkit::process::terminate(&mut medic, Duration::from_secs(60));
        assert!(exit.success(), "{stage}: {exit:?}\n{}", rig.logs());
    }
    assert_enrich_state_counts_each_record_once(&rig, seen.on(&normalized_topic));
    drop(broker);
    let _ = std::fs::remove_dir_all(&rig.dir);
    let _ = std::fs::remove_dir_all(&scratch);
}
