//! Watching the run: the stages' counters polled from `/metrics`, the commands read back from the
//! actuation topic, and the wait until every stage is done.

use super::*;
use testkit::http::KeepAlive;
use testkit::scrape::Scrape;

/// The counters of one stage that the bench follows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Counters {
    pub(super) records_in: u64,
    /// Records out of the stage's main kind (log, parsed, diagnosis, …).
    pub(super) out_main: u64,
    /// Windows out (enrich; what diagnose reads).
    pub(super) out_windows: u64,
    pub(super) out_all: u64,
    pub(super) dead_letters: u64,
    pub(super) dropped: u64,
    pub(super) late_dropped: u64,
    pub(super) batches: u64,
    pub(super) busy_s: f64,
}

/// The stage events whose name ends with `late_dropped` (enrich's windows, diagnose's evidence).
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "counters are non-negative integers"
)]
fn late_dropped(scrape: &Scrape) -> u64 {
    scrape
        .sum_where(names::STAGE_EVENTS_TOTAL, |labels| {
            labels
                .get("event")
                .is_some_and(|e| e.ends_with("late_dropped"))
        })
        .round() as u64
}

impl Counters {
    /// Reads them from a scrape of `stage`.
    pub(super) fn of(stage: StageName, scrape: &Scrape) -> Self {
        Self {
            records_in: scrape.count(names::RECORDS_IN_TOTAL, &[]),
            out_main: scrape.count(
                names::RECORDS_OUT_TOTAL,
                &[("kind", main_output(stage).as_str())],
            ),
            out_windows: scrape.count(
                names::RECORDS_OUT_TOTAL,
                &[("kind", RecordKind::Window.as_str())],
            ),
            out_all: scrape.count(names::RECORDS_OUT_TOTAL, &[]),
            dead_letters: scrape.count(names::DLQ_RECORDS_TOTAL, &[]),
            dropped: scrape.count(names::RECORDS_DROPPED_TOTAL, &[]),
            late_dropped: late_dropped(scrape),
            batches: scrape.count(names::BATCHES_TOTAL, &[]),
            busy_s: scrape.sum(&format!("{}_sum", names::BATCH_DURATION_SECONDS), &[]),
        }
    }

    /// `self - before`, counter by counter.
    pub(super) fn minus(&self, before: &Self) -> Self {
        Self {
            records_in: self.records_in.saturating_sub(before.records_in),
            out_main: self.out_main.saturating_sub(before.out_main),
            out_windows: self.out_windows.saturating_sub(before.out_windows),
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
    pub(super) fn settled(&self) -> bool {
        self.out_main + self.dead_letters + self.dropped == self.records_in
    }

    /// Per stage: `now - before`.
    pub(super) fn diff(
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
pub(super) fn main_output(stage: StageName) -> RecordKind {
    match stage {
        StageName::Ingest => RecordKind::Log,
        StageName::Enrich => RecordKind::Parsed,
        StageName::Diagnose => RecordKind::Diagnosis,
        StageName::Decide => RecordKind::Decision,
        StageName::Act => RecordKind::Command,
        StageName::Actuator => RecordKind::ActionResult,
        StageName::Observe => RecordKind::State,
    }
}

/// How many rounds of [`SCRAPE_INTERVAL`] pass between two reads of `stage`'s `/metrics`: every round for
/// the stages the clock and the feed bound wait on (ingest, enrich, diagnose), every fifth (100 ms) for the
/// rest, which only the drain waits on. A read renders and parses every metric of a process; in perf
/// profiles, fifty a second took ~6–9 % of ingest's CPU, about half of it accepting a new connection each
/// time (hence [`KeepAlive`]), and reading all six stages about a tenth of the bench process's main thread.
fn scrape_every(stage: StageName) -> u64 {
    match stage {
        StageName::Ingest | StageName::Enrich | StageName::Diagnose => 1,
        _ => 5,
    }
}

/// Reads the stages' `/metrics` on a thread of its own, each every [`scrape_every`] rounds of
/// [`SCRAPE_INTERVAL`].
pub(super) struct Poller {
    pub(super) latest: Arc<Mutex<BTreeMap<StageName, Scrape>>>,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) thread: Option<std::thread::JoinHandle<()>>,
}

impl Poller {
    pub(super) fn start(ports: Vec<(StageName, u16)>) -> Self {
        let latest = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (latest, stop) = (Arc::clone(&latest), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut connections: Vec<_> = ports
                    .iter()
                    .map(|&(stage, port)| (stage, KeepAlive::new(port)))
                    .collect();
                for round in 0_u64.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let due = connections
                        .iter_mut()
                        .filter(|(stage, _)| round.is_multiple_of(scrape_every(*stage)));
                    for (stage, connection) in due {
                        if let Some(scrape) = Scrape::fetch_on(connection)
                            && let Ok(mut latest) = latest.lock()
                        {
                            latest.insert(*stage, scrape);
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
    pub(super) fn snapshot(&self) -> BTreeMap<StageName, Scrape> {
        self.latest.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The latest counters of every stage.
    pub(super) fn counters(&self) -> BTreeMap<StageName, Counters> {
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

/// A command seen on the actuation topic, with its record's timestamp (ms since the epoch).
#[derive(Debug, Clone)]
pub(super) struct Observed {
    pub(super) command: RemediationCommand,
    pub(super) timestamp_ms: i64,
}

/// Reads the actuation topic from its start (partitions assigned: no group join) in the background.
pub(super) struct Monitor {
    pub(super) seen: Arc<Mutex<Vec<Observed>>>,
}

impl Monitor {
    pub(super) fn start(
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

    pub(super) fn count(&self) -> u64 {
        self.seen.lock().map_or(0, |s| s.len() as u64)
    }

    pub(super) fn observed(&self) -> Vec<Observed> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// When each measured stage was done, and whether the rest caught up.
#[derive(Debug, Clone, Default)]
pub(super) struct Progress {
    /// Seconds after the first produce: ingest, enrich, diagnose.
    pub(super) done_s: BTreeMap<StageName, f64>,
    pub(super) drained: bool,
}

/// Whether decide, act, the actuator and the monitor have caught up with everything upstream produced.
pub(super) fn rest_caught_up(delta: &BTreeMap<StageName, Counters>, commands_seen: u64) -> bool {
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
pub(super) fn mark_done(
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
    let diagnose_done = enrich_done && diagnose.records_in >= enrich.out_windows;
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
pub(super) async fn wait_until_done(
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
