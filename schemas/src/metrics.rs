//! Metric names, in one place so dashboards and alerts can rely on them. Names follow
//! `medic_<name>_<unit>_total`; labels stay low-cardinality (`stage`, `kind`, `error_kind`, `topic`).

/// Records a stage consumed. Labels: `stage`.
pub const RECORDS_IN_TOTAL: &str = "medic_records_in_total";
/// Records a stage produced. Labels: `stage`, `kind`.
pub const RECORDS_OUT_TOTAL: &str = "medic_records_out_total";
/// Records a stage consumed and deliberately dropped without error (control messages, no-op decisions).
/// Labels: `stage`.
pub const RECORDS_DROPPED_TOTAL: &str = "medic_records_dropped_total";
/// Records sent to the dead-letter topic. Labels: `stage`, `error_kind`.
pub const DLQ_RECORDS_TOTAL: &str = "medic_dlq_records_total";
/// Batches a stage processed. Labels: `stage`.
pub const BATCHES_TOTAL: &str = "medic_batches_total";
/// Time to process, produce and commit one batch. Labels: `stage`.
pub const BATCH_DURATION_SECONDS: &str = "medic_batch_duration_seconds";
/// Offset commits that failed (the batch is re-delivered after a restart). Labels: `stage`.
pub const COMMIT_ERRORS_TOTAL: &str = "medic_commit_errors_total";
/// Produce attempts that failed and were retried. Labels: `stage`.
pub const PRODUCE_RETRIES_TOTAL: &str = "medic_produce_retries_total";
/// Stage-specific events (redactions by rule, rejections by reason, dropped control messages).
/// Labels: `stage`, `event`.
pub const STAGE_EVENTS_TOTAL: &str = "medic_stage_events_total";
/// Checkpoints a stateful stage wrote (offsets are committed with each). Labels: `stage`.
pub const CHECKPOINTS_TOTAL: &str = "medic_checkpoints_total";
/// Size of the latest checkpoint written, compressed. Labels: `stage`.
pub const CHECKPOINT_BYTES: &str = "medic_checkpoint_bytes";
/// Records of an input partition the stage's consumer group has not committed yet: the partition's high
/// watermark minus the group's committed offset (its low watermark before the first commit), as KEDA's
/// Kafka scaler counts lag. Labels: `stage`, `topic`, `partition` (the partitions assigned to this process).
pub const CONSUMER_LAG: &str = "medic_consumer_lag";
/// Diagnoses a stage produced, by fault class. Labels: `stage`, `class`.
pub const DIAGNOSES_TOTAL: &str = "medic_diagnoses_total";
/// Action results a stage produced, by outcome (`logged`, `dry_run`, `verified`, `failed`, `rejected`, …).
/// Labels: `stage`, `outcome`.
pub const ACTION_RESULTS_TOTAL: &str = "medic_action_results_total";
/// Time from the start of handling a command to its target's verified health, for `verified` results
/// (`ActionResult::time_to_recover_ms`). Labels: `stage`.
pub const TIME_TO_RECOVER_SECONDS: &str = "medic_time_to_recover_seconds";
