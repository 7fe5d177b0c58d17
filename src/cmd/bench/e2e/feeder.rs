//! Feeding the load: warm-up, then the lines produced at `--rate` or as fast as the in-flight bound
//! allows, with each line's produce time kept for the latency figures.

use super::*;

/// Sends one blank record to every stage's input topic and waits until every stage has read and
/// dead-lettered it, so that all have joined their consumer groups before the clock starts. Returns
/// every stage's counters after it.
pub(super) async fn warm_up(
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

/// What was fed.
pub(super) struct Fed {
    pub(super) lines: u64,
    /// Workloads mid-incident at a time.
    pub(super) workloads: usize,
    /// The bound on lines in flight it was fed under.
    pub(super) max_in_flight: u64,
    /// When the first line was handed to the producer.
    pub(super) first_produce: Instant,
    /// Produce time (ms since the epoch) of every line, by (partition, offset) on the source topic.
    pub(super) produced_ms: HashMap<(i32, i64), i64>,
}

/// Feeds lines into the source topic, paced or bounded by what enrich has not processed yet.
pub(super) struct Feeder<'a> {
    pub(super) producer: &'a FutureProducer,
    pub(super) workloads: usize,
    pub(super) topic: &'a str,
    pub(super) rate: Option<f64>,
    pub(super) max_in_flight: u64,
    pub(super) poller: &'a Poller,
    pub(super) baseline: &'a BTreeMap<StageName, Counters>,
    pub(super) deadline: Instant,
}

/// One line's delivery report with its produce time.
pub(super) type Delivered = (
    Result<
        rdkafka::producer::future_producer::OwnedDeliveryResult,
        futures::channel::oneshot::Canceled,
    >,
    i64,
);

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
        let mut fed = Fed {
            lines: 0,
            workloads: self.workloads,
            max_in_flight: self.max_in_flight,
            first_produce: Instant::now(),
            // Sized for every line at once (the load is `--lines` long): grown by rehashing, the map
            // cost the bench process ~5 % of its CPU, taken from the stages beside it.
            produced_ms: HashMap::with_capacity(load.size_hint().1.unwrap_or(0).min(1 << 24)),
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
    pub(super) async fn send(
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
    pub(super) fn collect_ready(
        pending: &mut FuturesUnordered<impl std::future::Future<Output = Delivered> + Unpin>,
        fed: &mut Fed,
    ) -> anyhow::Result<()> {
        while let Some(Some(delivered)) = pending.next().now_or_never() {
            Self::record(delivered, fed)?;
        }
        Ok(())
    }

    pub(super) fn record(delivered: Delivered, fed: &mut Fed) -> anyhow::Result<()> {
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
