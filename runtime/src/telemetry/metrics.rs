//! The process's Prometheus registry and each stage's pre-registered metric handles.
//!
//! Counts are added per batch: [`OutputTally`] counts a batch's outputs in one pass (records per kind,
//! diagnoses per class, action results per outcome, times to recover) before the counters are touched;
//! [`ConsumerLag`] is set from the stage consumer's statistics (see `kafka::lag`).

mod lag;
mod outputs;

pub use lag::{ConsumerLag, PartitionLag};
pub use outputs::OutputTally;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use schemas::metrics as names;
use schemas::{ErrorKind, RecordKind};

/// Every metric of a medic process, registered once.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    records_in: IntCounterVec,
    records_out: IntCounterVec,
    dropped: IntCounterVec,
    dlq: IntCounterVec,
    batches: IntCounterVec,
    batch_duration: HistogramVec,
    commit_errors: IntCounterVec,
    produce_retries: IntCounterVec,
    stage_events: IntCounterVec,
    checkpoints: IntCounterVec,
    checkpoint_bytes: IntGaugeVec,
    consumer_lag: IntGaugeVec,
    diagnoses: IntCounterVec,
    action_results: IntCounterVec,
    time_to_recover: HistogramVec,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let counter =
        IntCounterVec::new(Opts::new(name, help), labels).expect("metric definition is valid");
    registry
        .register(Box::new(counter.clone()))
        .expect("metric registered once");
    counter
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let gauge =
        IntGaugeVec::new(Opts::new(name, help), labels).expect("metric definition is valid");
    registry
        .register(Box::new(gauge.clone()))
        .expect("metric registered once");
    gauge
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: Vec<f64>,
    labels: &[&str],
) -> HistogramVec {
    let histogram = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .expect("histogram definition is valid");
    registry
        .register(Box::new(histogram.clone()))
        .expect("metric registered once");
    histogram
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every medic metric.
    ///
    /// # Panics
    /// Never on valid metric definitions (they are constants).
    #[must_use]
    pub fn new() -> Self {
        let registry = Registry::new();
        let batch_duration = histogram(
            &registry,
            names::BATCH_DURATION_SECONDS,
            "Time to process, produce and commit one batch.",
            vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0],
            &["stage"],
        );
        Self {
            records_in: counter(
                &registry,
                names::RECORDS_IN_TOTAL,
                "Records consumed.",
                &["stage"],
            ),
            records_out: counter(
                &registry,
                names::RECORDS_OUT_TOTAL,
                "Records produced.",
                &["stage", "kind"],
            ),
            dropped: counter(
                &registry,
                names::RECORDS_DROPPED_TOTAL,
                "Records consumed and dropped on purpose.",
                &["stage"],
            ),
            dlq: counter(
                &registry,
                names::DLQ_RECORDS_TOTAL,
                "Records sent to the dead-letter topic.",
                &["stage", "error_kind"],
            ),
            batches: counter(
                &registry,
                names::BATCHES_TOTAL,
                "Batches processed.",
                &["stage"],
            ),
            commit_errors: counter(
                &registry,
                names::COMMIT_ERRORS_TOTAL,
                "Offset commits that failed.",
                &["stage"],
            ),
            produce_retries: counter(
                &registry,
                names::PRODUCE_RETRIES_TOTAL,
                "Failed deliveries that were retried.",
                &["stage"],
            ),
            stage_events: counter(
                &registry,
                names::STAGE_EVENTS_TOTAL,
                "Stage-specific events: redactions by rule, rejections by reason, dropped control messages.",
                &["stage", "event"],
            ),
            checkpoints: counter(
                &registry,
                names::CHECKPOINTS_TOTAL,
                "Checkpoints written by stateful stages (offsets are committed with each).",
                &["stage"],
            ),
            checkpoint_bytes: gauge(
                &registry,
                names::CHECKPOINT_BYTES,
                "Size of the latest checkpoint, compressed.",
                &["stage"],
            ),
            consumer_lag: gauge(
                &registry,
                names::CONSUMER_LAG,
                "Records of an assigned input partition not committed by the stage's group yet.",
                &["stage", "topic", "partition"],
            ),
            diagnoses: counter(
                &registry,
                names::DIAGNOSES_TOTAL,
                "Diagnoses produced, by fault class.",
                &["stage", "class"],
            ),
            action_results: counter(
                &registry,
                names::ACTION_RESULTS_TOTAL,
                "Action results produced, by outcome.",
                &["stage", "outcome"],
            ),
            time_to_recover: histogram(
                &registry,
                names::TIME_TO_RECOVER_SECONDS,
                "Time from handling a command to its target's verified health.",
                vec![
                    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
                ],
                &["stage"],
            ),
            batch_duration,
            registry,
        }
    }

    /// The handles of one stage, with every label value pre-registered so dashboards see zeros.
    #[must_use]
    pub fn stage(&self, stage: &str) -> StageMetrics {
        for kind in ErrorKind::ALL {
            self.dlq.with_label_values(&[stage, kind.as_str()]);
        }
        StageMetrics {
            stage: stage.to_owned(),
            records_in: self.records_in.with_label_values(&[stage]),
            dropped: self.dropped.with_label_values(&[stage]),
            batches: self.batches.with_label_values(&[stage]),
            commit_errors: self.commit_errors.with_label_values(&[stage]),
            produce_retries: self.produce_retries.with_label_values(&[stage]),
            batch_duration: self.batch_duration.with_label_values(&[stage]),
            checkpoints: self.checkpoints.with_label_values(&[stage]),
            checkpoint_bytes: self.checkpoint_bytes.with_label_values(&[stage]),
            records_out: self.records_out.clone(),
            dlq: self.dlq.clone(),
            stage_events: self.stage_events.clone(),
            diagnoses: self.diagnoses.clone(),
            action_results: self.action_results.clone(),
            time_to_recover: self.time_to_recover.clone(),
        }
    }

    /// The consumer-lag gauge of `stage`'s partitions (set from its consumer's statistics).
    #[must_use]
    pub fn consumer_lag(&self, stage: &str) -> ConsumerLag {
        ConsumerLag::new(self.consumer_lag.clone(), stage)
    }

    /// The Prometheus text exposition of every metric.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding into a Vec cannot fail for valid metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }

    /// The current value of `medic_records_out_total{stage, kind}`.
    #[must_use]
    pub fn records_out(&self, stage: &str, kind: RecordKind) -> u64 {
        self.records_out
            .with_label_values(&[stage, kind.as_str()])
            .get()
    }

    /// The current value of `medic_records_in_total{stage}`.
    #[must_use]
    pub fn records_in(&self, stage: &str) -> u64 {
        self.records_in.with_label_values(&[stage]).get()
    }

    /// The current value of `medic_batches_total{stage}`.
    #[must_use]
    pub fn batches(&self, stage: &str) -> u64 {
        self.batches.with_label_values(&[stage]).get()
    }

    /// The current value of `medic_stage_events_total{stage, event}`.
    #[must_use]
    pub fn stage_event(&self, stage: &str, event: &str) -> u64 {
        self.stage_events.with_label_values(&[stage, event]).get()
    }

    /// The current total of `medic_dlq_records_total{stage}` over every error kind.
    #[must_use]
    pub fn dead_lettered(&self, stage: &str) -> u64 {
        ErrorKind::ALL
            .iter()
            .map(|k| self.dlq.with_label_values(&[stage, k.as_str()]).get())
            .sum()
    }
}

/// One stage's metric handles. Counts are added per batch, never per record in a hot loop.
#[derive(Clone)]
pub struct StageMetrics {
    stage: String,
    /// `medic_records_in_total{stage}`.
    pub records_in: IntCounter,
    /// `medic_records_dropped_total{stage}`.
    pub dropped: IntCounter,
    /// `medic_batches_total{stage}`.
    pub batches: IntCounter,
    /// `medic_commit_errors_total{stage}`.
    pub commit_errors: IntCounter,
    /// `medic_produce_retries_total{stage}`.
    pub produce_retries: IntCounter,
    /// `medic_batch_duration_seconds{stage}`.
    pub batch_duration: prometheus::Histogram,
    /// `medic_checkpoints_total{stage}`.
    pub checkpoints: IntCounter,
    /// `medic_checkpoint_bytes{stage}`.
    pub checkpoint_bytes: IntGauge,
    records_out: IntCounterVec,
    dlq: IntCounterVec,
    stage_events: IntCounterVec,
    diagnoses: IntCounterVec,
    action_results: IntCounterVec,
    time_to_recover: HistogramVec,
}

impl StageMetrics {
    /// Adds one batch's outputs: `medic_records_out_total{kind}`, `medic_diagnoses_total{class}`,
    /// `medic_action_results_total{outcome}` and `medic_time_to_recover_seconds`.
    pub fn add_outputs(&self, tally: &OutputTally) {
        for (kind, n) in &tally.by_kind {
            self.add_out(*kind, *n);
        }
        for (class, n) in &tally.diagnoses {
            self.diagnoses
                .with_label_values(&[&self.stage, class.as_str()])
                .inc_by(*n);
        }
        for (outcome, n) in &tally.results {
            self.action_results
                .with_label_values(&[self.stage.as_str(), outcome])
                .inc_by(*n);
        }
        if !tally.recovered_secs.is_empty() {
            let histogram = self.time_to_recover.with_label_values(&[&self.stage]);
            for secs in &tally.recovered_secs {
                histogram.observe(*secs);
            }
        }
    }

    /// Adds `n` produced records of `kind`.
    pub fn add_out(&self, kind: RecordKind, n: u64) {
        self.records_out
            .with_label_values(&[&self.stage, kind.as_str()])
            .inc_by(n);
    }

    /// Adds `n` occurrences of the stage event `event`.
    pub fn add_event(&self, event: &str, n: u64) {
        self.stage_events
            .with_label_values(&[&self.stage, event])
            .inc_by(n);
    }

    /// Adds `n` dead-lettered records of `kind`.
    pub fn add_dlq(&self, kind: ErrorKind, n: u64) {
        self.dlq
            .with_label_values(&[&self.stage, kind.as_str()])
            .inc_by(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_every_metric_with_stage_labels() {
        let metrics = Metrics::new();
        let stage = metrics.stage("ingest");
        stage.records_in.inc_by(3);
        stage.add_out(RecordKind::Log, 2);
        stage.add_dlq(ErrorKind::Decode, 1);
        stage.add_event("redacted.email", 4);
        let text = metrics.encode();
        assert!(
            text.contains("medic_records_in_total{stage=\"ingest\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("medic_records_out_total{kind=\"log_record\",stage=\"ingest\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("medic_dlq_records_total{error_kind=\"expired\",stage=\"ingest\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("medic_stage_events_total{event=\"redacted.email\",stage=\"ingest\"} 4"),
            "{text}"
        );
        assert_eq!(metrics.dead_lettered("ingest"), 1);
        assert_eq!(metrics.records_out("ingest", RecordKind::Log), 2);
    }

    #[test]
    fn outputs_are_counted_by_kind_class_and_outcome() {
        let metrics = Metrics::new();
        let tally = OutputTally {
            by_kind: [(RecordKind::ActionResult, 3)].into(),
            diagnoses: [(schemas::FaultClass::Oom, 2)].into(),
            results: [("verified", 2), ("rejected", 1)].into(),
            recovered_secs: vec![4.0, 40.0],
            unreadable: 0,
        };
        let stage = metrics.stage("actuator");
        stage.add_outputs(&tally);
        stage.add_outputs(&tally);
        let text = metrics.encode();
        for line in [
            r#"medic_records_out_total{kind="action_result",stage="actuator"} 6"#,
            r#"medic_diagnoses_total{class="oom",stage="actuator"} 4"#,
            r#"medic_action_results_total{outcome="verified",stage="actuator"} 4"#,
            r#"medic_action_results_total{outcome="rejected",stage="actuator"} 2"#,
            r#"medic_time_to_recover_seconds_bucket{stage="actuator",le="5"} 2"#,
            r#"medic_time_to_recover_seconds_bucket{stage="actuator",le="60"} 4"#,
            r#"medic_time_to_recover_seconds_sum{stage="actuator"} 88"#,
            r#"medic_time_to_recover_seconds_count{stage="actuator"} 4"#,
        ] {
            assert!(text.contains(line), "{line} missing:\n{text}");
        }
    }
}
