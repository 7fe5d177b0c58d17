//! Checkpoints of stateful stages on a compacted topic.
//!
//! A checkpoint is one Kafka record keyed by the stage instance (`medic-decide`, or
//! `medic-decide/<instance>`), or, for a stage whose state follows its input partitions, by the
//! partition (`medic-enrich/medic.logs.normalized/3`, [`partition_checkpoint_key`]): the payload is the stage's snapshot, gzip-compressed; the header
//! [`OFFSETS_HEADER`] lists, per input partition, the next offset the snapshot does *not* include. The
//! runner produces a checkpoint and only then commits the same offsets, so at any time the latest
//! checkpoint covers at least the committed offsets: after a restart, records between the committed
//! offset and the checkpoint's offset are skipped (the state already counted them, their outputs were
//! already delivered), and records after it are processed again from the restored state.

use crate::config::KafkaConfig;
use crate::kafka::consumer_config;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message, OwnedHeaders};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Header holding the offsets a checkpoint covers (JSON list of `{topic, partition, next}`).
pub const OFFSETS_HEADER: &str = "medic.checkpoint.offsets";

/// The consumer group the checkpoint reader names. librdkafka assigns partitions only to a consumer in a
/// group, so it asks for the group's coordinator (Describe on the group) but never joins or commits:
/// a principal of a stateful stage needs Describe on this group and Read on the checkpoint topic.
pub const CHECKPOINT_READER_GROUP: &str = "medic-checkpoint-reader";

/// Next offset to read per `(topic, partition)`.
pub type Offsets = BTreeMap<(String, i32), i64>;

/// A stage snapshot and the input offsets it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Per input partition, the first offset the state does not include.
    pub offsets: Offsets,
    /// The stage's snapshot, uncompressed.
    pub state: Vec<u8>,
}

/// Why a checkpoint could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The checkpoint topic could not be read.
    #[error("cannot read checkpoint topic {topic}: {source}")]
    Kafka {
        /// The topic.
        topic: String,
        /// The client error.
        #[source]
        source: KafkaError,
    },
    /// The topic was not read to its end in time.
    #[error("checkpoint topic {topic} not read to its end within {secs} s")]
    Timeout {
        /// The topic.
        topic: String,
        /// The time allowed.
        secs: u64,
    },
    /// The latest checkpoint for the key is corrupt.
    #[error("checkpoint {key} is unreadable: {reason}")]
    Corrupt {
        /// The checkpoint key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Serialize, Deserialize)]
struct PartitionOffset {
    topic: String,
    partition: i32,
    next: i64,
}

/// The checkpoint key of a stage instance.
#[must_use]
pub fn checkpoint_key(group_id: &str, instance: Option<&str>) -> String {
    match instance {
        Some(instance) => format!("{group_id}/{instance}"),
        None => group_id.to_owned(),
    }
}

impl Checkpoint {
    /// The compressed payload and the offsets header of this checkpoint.
    ///
    /// # Errors
    /// Only if compression into memory fails (it does not in practice).
    pub fn encode(&self) -> std::io::Result<(Vec<u8>, OwnedHeaders)> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(&self.state)?;
        let payload = encoder.finish()?;
        let offsets: Vec<PartitionOffset> = self
            .offsets
            .iter()
            .map(|((topic, partition), next)| PartitionOffset {
                topic: topic.clone(),
                partition: *partition,
                next: *next,
            })
            .collect();
        let header = serde_json::to_vec(&offsets).map_err(std::io::Error::other)?;
        let headers = OwnedHeaders::new().insert(rdkafka::message::Header {
            key: OFFSETS_HEADER,
            value: Some(&header),
        });
        Ok((payload, headers))
    }

    /// Reads a checkpoint back from its payload and offsets header.
    ///
    /// # Errors
    /// A description of what is wrong (bad gzip, missing or bad header).
    pub fn decode(payload: &[u8], offsets_header: Option<&[u8]>) -> Result<Self, String> {
        let mut state = Vec::new();
        GzDecoder::new(payload)
            .read_to_end(&mut state)
            .map_err(|e| format!("payload is not gzip: {e}"))?;
        let header = offsets_header.ok_or_else(|| format!("no {OFFSETS_HEADER} header"))?;
        let offsets: Vec<PartitionOffset> = serde_json::from_slice(header)
            .map_err(|e| format!("bad {OFFSETS_HEADER} header: {e}"))?;
        Ok(Self {
            offsets: offsets
                .into_iter()
                .map(|o| ((o.topic, o.partition), o.next))
                .collect(),
            state,
        })
    }
}

/// A checkpoint as read: its payload, its offsets header, and how far that says it has read.
type Candidate = (Vec<u8>, Option<Vec<u8>>, Option<i64>);

/// How far a checkpoint's offsets header says it has read: the sum of its next offsets.
fn progress(header: &[u8]) -> Option<i64> {
    let offsets: Vec<PartitionOffset> = serde_json::from_slice(header).ok()?;
    Some(offsets.iter().map(|o| o.next).sum())
}

/// The checkpoint key of one input partition's state, for a stage whose state follows its partitions
/// (`medic-enrich/medic.logs.normalized/3`): the same whichever instance owns the partition.
#[must_use]
pub fn partition_checkpoint_key(group_id: &str, (topic, partition): &(String, i32)) -> String {
    format!("{group_id}/{topic}/{partition}")
}

/// Reads `topic` from the beginning to its end and returns the latest checkpoint stored under `key`
/// (`None` when there is none, or the topic does not exist yet). Blocking: call it off the async runtime.
///
/// # Errors
/// [`CheckpointError`] when the topic cannot be read to its end within `timeout` or the latest
/// checkpoint for `key` is corrupt (an older one is never used instead: it would silently lose state).
pub fn load_latest(
    kafka: &KafkaConfig,
    topic: &str,
    key: &str,
    timeout: Duration,
) -> Result<Option<Checkpoint>, CheckpointError> {
    let keys = BTreeSet::from([key.to_owned()]);
    Ok(load_latest_of(kafka, topic, &keys, timeout)?.remove(key))
}

/// As [`load_latest`], for every key of `keys` in one read of the topic: the latest checkpoint of each
/// key that has one — of those that cover the most offsets: a stage instance the group has already
/// expelled (a session that timed out, a stalled process) may write one more checkpoint of a partition
/// after its next owner has written a newer one, and the older state must not win.
///
/// # Errors
/// As [`load_latest`], when any of the keys' latest checkpoints is corrupt.
pub fn load_latest_of(
    kafka: &KafkaConfig,
    topic: &str,
    keys: &BTreeSet<String>,
    timeout: Duration,
) -> Result<BTreeMap<String, Checkpoint>, CheckpointError> {
    let kafka_error = |source| CheckpointError::Kafka {
        topic: topic.to_owned(),
        source,
    };
    // Partitions are assigned, never subscribed, and nothing is committed: the group id is nominal.
    let consumer: BaseConsumer = consumer_config(kafka, CHECKPOINT_READER_GROUP)
        .create()
        .map_err(kafka_error)?;
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(kafka_error)?;
    let Some(partitions) = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().iter().map(|p| p.id()).collect::<Vec<_>>())
    else {
        return Ok(BTreeMap::new());
    };
    let mut remaining: BTreeMap<i32, i64> = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    let deadline = Instant::now() + timeout;
    for partition in partitions {
        let (low, high) = loop {
            match consumer.fetch_watermarks(topic, partition, timeout) {
                Ok(watermarks) => break watermarks,
                // A topic created a moment ago may not have elected its partition leaders yet.
                Err(KafkaError::MetadataFetch(
                    RDKafkaErrorCode::NotLeaderForPartition | RDKafkaErrorCode::LeaderNotAvailable,
                )) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                Err(error) => return Err(kafka_error(error)),
            }
        };
        if high > low {
            remaining.insert(partition, high);
            assignment
                .add_partition_offset(topic, partition, Offset::Offset(low))
                .map_err(kafka_error)?;
        }
    }
    if remaining.is_empty() {
        return Ok(BTreeMap::new());
    }
    consumer.assign(&assignment).map_err(kafka_error)?;
    let mut latest: BTreeMap<String, Candidate> = BTreeMap::new();
    while !remaining.is_empty() {
        if Instant::now() >= deadline {
            return Err(CheckpointError::Timeout {
                topic: topic.to_owned(),
                secs: timeout.as_secs(),
            });
        }
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.map_err(kafka_error)?;
        if message.offset() + 1 >= remaining.get(&message.partition()).copied().unwrap_or(0) {
            remaining.remove(&message.partition());
        }
        let Some(key) = message
            .key()
            .and_then(|key| std::str::from_utf8(key).ok())
            .filter(|key| keys.contains(*key))
        else {
            continue;
        };
        match message.payload() {
            Some(payload) => {
                let header = message.headers().and_then(|headers| {
                    headers
                        .iter()
                        .find(|h| h.key == OFFSETS_HEADER)
                        .and_then(|h| h.value.map(<[u8]>::to_vec))
                });
                let progress = header.as_deref().and_then(progress);
                let behind = latest
                    .get(key)
                    .is_some_and(|(_, _, kept)| match (kept, progress) {
                        (Some(kept), Some(new)) => new < *kept,
                        _ => false,
                    });
                if !behind {
                    latest.insert(key.to_owned(), (payload.to_vec(), header, progress));
                }
            }
            // A tombstone deletes the key's checkpoint.
            None => {
                latest.remove(key);
            }
        }
    }
    latest
        .into_iter()
        .map(
            |(key, (payload, header, _))| match Checkpoint::decode(&payload, header.as_deref()) {
                Ok(checkpoint) => Ok((key, checkpoint)),
                Err(reason) => Err(CheckpointError::Corrupt { key, reason }),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_state_and_offsets() {
        let checkpoint = Checkpoint {
            offsets: [(("medic.logs.normalized".to_owned(), 3), 42)].into(),
            state: b"{\"clusters\":[]}".repeat(100),
        };
        let (payload, headers) = checkpoint.encode().expect("encodes");
        assert!(
            payload.len() < checkpoint.state.len() / 4,
            "snapshots are compressed"
        );
        let header = headers.iter().find(|h| h.key == OFFSETS_HEADER);
        let decoded = Checkpoint::decode(&payload, header.and_then(|h| h.value)).expect("decodes");
        assert_eq!(decoded, checkpoint);
        assert!(Checkpoint::decode(b"not gzip", None).is_err());
        assert!(Checkpoint::decode(&payload, None).is_err());
        assert_eq!(
            checkpoint_key("medic-enrich", Some("enrich-0")),
            "medic-enrich/enrich-0"
        );
    }
}
