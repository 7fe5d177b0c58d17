//! The process's Prometheus registry and each stage's pre-registered metric handles.

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
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let counter =
        IntCounterVec::new(Opts::new(name, help), labels).expect("metric definition is valid");
    registry
        .register(Box::new(counter.clone()))
        .expect("metric registered once");
    counter
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
        let batch_duration = HistogramVec::new(
            HistogramOpts::new(
                names::BATCH_DURATION_SECONDS,
                "Time to process, produce and commit one batch.",
            )
            .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0]),
            &["stage"],
        )
        .expect("histogram definition is valid");
        registry
            .register(Box::new(batch_duration.clone()))
            .expect("metric registered once");
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
            checkpoint_bytes: {
                let gauge = IntGaugeVec::new(
                    Opts::new(
                        names::CHECKPOINT_BYTES,
                        "Size of the latest checkpoint, compressed.",
                    ),
                    &["stage"],
                )
                .expect("metric definition is valid");
                registry
                    .register(Box::new(gauge.clone()))
                    .expect("metric registered once");
                gauge
            },
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
        }
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
}

impl StageMetrics {
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
}
