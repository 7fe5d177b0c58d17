//! Feeding the load: warm-up, then the lines produced at `--rate` or as fast as the in-flight bound
//! allows, with each line's produce time kept for the latency figures.
//! The lines go through a [`ThreadedProducer`] whose context files each delivery report as it comes
//! ([`DeliveryLog`]), not a future per line.

use super::*;

/// The producer the load goes through.
pub(super) type FeedProducer = ThreadedProducer<DeliveryLog>;

/// Makes the feeder's producer: the stages' producer settings, lingering [`FEEDER_LINGER_MS`].
pub(super) fn feed_producer(config: &PipelineConfig) -> anyhow::Result<FeedProducer> {
    producer_config(&config.kafka, &config.runner)
        .set("linger.ms", FEEDER_LINGER_MS)
        .create_with_context(DeliveryLog::new(wall_ms()))
        .context("creating the feeder's producer")
}

/// Produce times (ms since the epoch) of delivered records, by partition and offset.
#[derive(Debug, Default)]
pub(super) struct ProduceTimes {
    /// `(offset, ms)` per partition, ascending by offset once [`ProduceTimes::sort`] ran.
    by_partition: Vec<Vec<(i64, i64)>>,
}

impl ProduceTimes {
    /// Files the record delivered at `offset` of `partition`, produced at `ms`.
    fn add(&mut self, partition: i32, offset: i64, ms: i64) {
        let Ok(index) = usize::try_from(partition) else {
            return;
        };
        if self.by_partition.len() <= index {
            self.by_partition.resize_with(index + 1, Vec::new);
        }
        self.by_partition[index].push((offset, ms));
    }

    /// Orders each partition's records by offset (librdkafka reports a partition's deliveries in
    /// order, so this only checks, unless a report came out of order).
    fn sort(&mut self) {
        for times in &mut self.by_partition {
            if !times.is_sorted_by_key(|(offset, _)| *offset) {
                times.sort_unstable_by_key(|(offset, _)| *offset);
            }
        }
    }

    /// The produce time of the record at `offset` of `partition`, if it was delivered.
    pub(super) fn get(&self, partition: i32, offset: i64) -> Option<i64> {
        let times = self.by_partition.get(usize::try_from(partition).ok()?)?;
        let at = times
            .binary_search_by_key(&offset, |(offset, _)| *offset)
            .ok()?;
        Some(times[at].1)
    }
}

/// What the delivery reports said so far.
#[derive(Debug, Default)]
struct Deliveries {
    /// Reports received, delivered or not.
    reported: u64,
    times: ProduceTimes,
    /// The first failure.
    failed: Option<KafkaError>,
}

/// The feeder's producer context: files every delivery report, with the produce time the record was
/// handed over with (its delivery opaque: ms since [`DeliveryLog::since_ms`], which fits a `usize` of
/// any width for 49 days).
#[derive(Debug)]
pub(super) struct DeliveryLog {
    /// When the producer was made, ms since the epoch.
    since_ms: i64,
    deliveries: Mutex<Deliveries>,
}

impl ClientContext for DeliveryLog {}

impl ProducerContext for DeliveryLog {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_after_ms: usize) {
        let mut deliveries = self.lock();
        deliveries.reported += 1;
        match result {
            Ok(message) => {
                let sent_ms = i64::try_from(sent_after_ms)
                    .map_or(i64::MAX, |after| self.since_ms.saturating_add(after));
                deliveries
                    .times
                    .add(message.partition(), message.offset(), sent_ms);
            }
            Err((error, _)) => {
                deliveries.failed.get_or_insert_with(|| error.clone());
            }
        }
    }
}

impl DeliveryLog {
    fn new(since_ms: i64) -> Self {
        Self {
            since_ms,
            deliveries: Mutex::default(),
        }
    }

    /// The opaque a record produced at `sent_ms` is handed over with.
    fn opaque(&self, sent_ms: i64) -> anyhow::Result<usize> {
        usize::try_from(sent_ms.saturating_sub(self.since_ms))
            .context("a produce time before the producer was made, or too far after it")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Deliveries> {
        self.deliveries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An error once a record was not delivered.
    fn check(&self) -> anyhow::Result<()> {
        self.reported().map(drop)
    }

    /// Reports received so far; an error once a record was not delivered.
    fn reported(&self) -> anyhow::Result<u64> {
        let deliveries = self.lock();
        match &deliveries.failed {
            Some(error) => Err(error.clone()).context("a record was not delivered"),
            None => Ok(deliveries.reported),
        }
    }

    /// Waits until `count` reports in all were received (every one a delivery).
    async fn wait_for(&self, count: u64, deadline: Instant) -> anyhow::Result<()> {
        while self.reported()? < count {
            anyhow::ensure!(
                Instant::now() < deadline,
                "timed out waiting for the broker to acknowledge the records produced"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(())
    }
}

/// Sends one blank record to every stage's input topic and waits until every stage has read and
/// dead-lettered it, so that all have joined their consumer groups before the clock starts. Returns
/// every stage's counters after it.
pub(super) async fn warm_up(
    producer: &FeedProducer,
    config: &PipelineConfig,
    poller: &Poller,
    stages: &mut [StageProcess],
    deadline: Instant,
) -> anyhow::Result<BTreeMap<StageName, Counters>> {
    let before = producer.context().reported()?;
    let mut sent = 0;
    for stage in StageName::ALL {
        let topic = stage
            .input_topics(config)
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("the {stage} stage reads no topic"))?;
        send(
            producer,
            &topic,
            "medic-bench-warm-up",
            WARM_UP_PAYLOAD,
            wall_ms(),
        )
        .await
        .with_context(|| format!("producing the warm-up record to {topic}"))?;
        sent += 1;
    }
    producer.context().wait_for(before + sent, deadline).await?;
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

/// Hands one record to `producer`, stamped `sent_ms` (waiting while its queue is full).
async fn send(
    producer: &FeedProducer,
    topic: &str,
    key: &str,
    payload: &[u8],
    sent_ms: i64,
) -> anyhow::Result<()> {
    let opaque = producer.context().opaque(sent_ms)?;
    let mut record = BaseRecord::with_opaque_to(topic, opaque)
        .key(key)
        .payload(payload)
        .timestamp(sent_ms);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err((error, _)) => return Err(error).context("producing a record"),
        }
    }
}

/// Lines fed between two looks for a failed delivery.
const FAILURE_CHECK_LINES: u64 = 1024;

/// What was fed.
pub(super) struct Fed {
    pub(super) lines: u64,
    /// Workloads mid-incident at a time.
    pub(super) workloads: usize,
    /// The bound on lines in flight it was fed under.
    pub(super) max_in_flight: u64,
    /// When the first line was handed to the producer.
    pub(super) first_produce: Instant,
    /// Produce time of every line, by partition and offset on the source topic.
    pub(super) produced_ms: ProduceTimes,
}

/// Feeds lines into the source topic, paced or bounded by what enrich has not processed yet.
pub(super) struct Feeder<'a> {
    pub(super) producer: &'a FeedProducer,
    pub(super) workloads: usize,
    pub(super) topic: &'a str,
    pub(super) rate: Option<f64>,
    pub(super) max_in_flight: u64,
    pub(super) poller: &'a Poller,
    pub(super) baseline: &'a BTreeMap<StageName, Counters>,
    pub(super) deadline: Instant,
}

impl Feeder<'_> {
    /// Lines the line path is done with: processed by enrich (parsed, dead-lettered or dropped), or
    /// dead-lettered or dropped by ingest.
    pub(super) fn settled_lines(&self) -> u64 {
        let now = self.poller.counters();
        let delta = |stage: StageName| {
            let before = self.baseline.get(&stage).copied().unwrap_or_default();
            now.get(&stage)
                .map(|c| c.minus(&before))
                .unwrap_or_default()
        };
        let (ingest, enrich) = (delta(StageName::Ingest), delta(StageName::Enrich));
        enrich.out_main
            + ingest.dead_letters
            + ingest.dropped
            + enrich.dead_letters
            + enrich.dropped
    }

    /// Produces every line of `load`; returns when every delivery is acknowledged.
    pub(super) async fn feed(
        &self,
        load: impl Iterator<Item = (String, String)>,
    ) -> anyhow::Result<Fed> {
        let log = self.producer.context();
        let reported_before = log.reported()?;
        // The warm-up's records, on every stage's topic, are not lines (its delivery reports were all
        // in before it returned: the times are not keyed by topic).
        log.lock().times = ProduceTimes::default();
        let mut fed = Fed {
            lines: 0,
            workloads: self.workloads,
            max_in_flight: self.max_in_flight,
            first_produce: Instant::now(),
            produced_ms: ProduceTimes::default(),
        };
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
                log.check()?;
                anyhow::ensure!(
                    Instant::now() < self.deadline,
                    "timed out feeding: the pipeline stopped reading"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            if i.is_multiple_of(FAILURE_CHECK_LINES) {
                log.check()?;
            }
            send(
                self.producer,
                self.topic,
                &key,
                payload.as_bytes(),
                wall_ms(),
            )
            .await?;
            fed.lines += 1;
        }
        log.wait_for(reported_before + fed.lines, self.deadline)
            .await?;
        fed.produced_ms = std::mem::take(&mut log.lock().times);
        fed.produced_ms.sort();
        Ok(fed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn produce_times_are_found_by_partition_and_offset_whatever_order_they_came_in() {
        let mut times = ProduceTimes::default();
        times.add(2, 11, 1_011);
        times.add(2, 10, 1_010);
        times.add(0, 5, 505);
        times.add(-1, 1, 1);
        times.sort();
        assert_eq!(times.get(2, 10), Some(1_010));
        assert_eq!(times.get(2, 11), Some(1_011));
        assert_eq!(times.get(0, 5), Some(505));
        assert_eq!(times.get(1, 5), None, "a partition with no records");
        assert_eq!(times.get(2, 12), None, "an offset not delivered");
        assert_eq!(times.get(7, 0), None, "a partition past the last known");
        assert_eq!(times.get(-1, 1), None, "no partition");
    }
}
