//! The generic Kafka stage runner: consume a batch, let the stage process it, produce every output and
//! dead letter, and commit the batch's offsets only once the broker acknowledged them all (while the next
//! batch is processed).

mod checkpoint;
mod client;
mod context;
pub(crate) mod dlq;
pub mod frames;
mod lag;
pub mod offset_book;
mod offsets;
pub mod oversize;
mod runner;
mod sink;
mod topics;

pub use checkpoint::{
    CHECKPOINT_READER_GROUP, Checkpoint, CheckpointError, OFFSETS_HEADER, checkpoint_key,
    load_latest, load_latest_of, partition_checkpoint_key,
};
pub use client::{consumer_config, delivered, max_message_bytes, producer_config};
pub use context::StageContext;
pub use dlq::{DLQ_HEADERS, MAX_REASON_BYTES, clip, dlq_headers};
pub use lag::partition_lags;
pub use offsets::next_offsets;
pub use runner::{MESSAGES_READ, RunnerError, StageRunner, StageSpec};
pub use topics::ensure_topics;
