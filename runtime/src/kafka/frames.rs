//! The runner's side of framing ([`schemas::frame`]): [`unpack`] turns a consumed message into the
//! records it holds; [`FramePacker`] packs a batch's outputs for the per-line topics into one frame per
//! partition (more when one would pass `runner.frame_max_bytes`).
//!
//! A frame goes to the partition its records' keys hash to with librdkafka's default partitioner
//! (`consistent_random`: CRC-32 of the key modulo the partition count), so a workload's records stay on
//! the partition they had when each was its own message, and in order. The partition counts come from
//! the producer's metadata, refreshed every minute; while they are unknown (metadata not readable), the
//! records are framed per key and the frame keyed like them, which lands on the same partition.

use rdkafka::Message;
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::{FutureProducer, Producer};
use schemas::frame::{FrameWriter, read_frame};
use schemas::{RecordKind, SourceCoordinates, SourceRecord, StageError};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Whether records of `kind` travel in frames: the kinds with one record per log line.
#[must_use]
pub fn framed_kind(kind: RecordKind) -> bool {
    matches!(kind, RecordKind::Log | RecordKind::Parsed)
}

/// The topics whose messages are read as frames: those of the [`framed_kind`]s. Every other topic —
/// the raw source topics above all, whose bytes any pod can choose — is read one record per message,
/// so no log line can pass itself off as a frame and give its records keys (identities) of its own.
#[must_use]
pub fn framed_topics(topics: &crate::config::TopicsConfig) -> Vec<String> {
    [RecordKind::Log, RecordKind::Parsed]
        .into_iter()
        .map(|kind| topics.for_kind(kind).to_owned())
        .collect()
}

/// Whether frames may be routed to partitions computed here: only when the producer uses librdkafka's
/// default partitioner (`consistent_random`, CRC-32), which [`partition_for`] reproduces. With any
/// other `partitioner` in `kafka.properties`, frames are keyed like their records instead, so the
/// producer's partitioner places them where it places those keys.
#[must_use]
pub fn partitions_computable(kafka: &crate::config::KafkaConfig) -> bool {
    kafka
        .properties
        .get("partitioner")
        .is_none_or(|p| p.trim() == "consistent_random")
}

/// Appends the records `message` holds to `records`: when its topic is one of `framed`, each record of
/// its frame with its own key and its place in the frame (`coordinates.index`), or the message as one
/// record when it is no frame (written before frames); on any other topic, the message as one record.
///
/// # Errors
/// A frame this build cannot read (a newer version, lengths that do not add up): the message as one
/// record, and why, for the dead-letter topic.
pub fn unpack(
    message: &BorrowedMessage<'_>,
    framed: &[String],
    records: &mut Vec<SourceRecord>,
) -> Result<(), Box<(SourceRecord, StageError)>> {
    let payload = message.payload().unwrap_or_default();
    if !framed.iter().any(|topic| topic == message.topic()) {
        records.push(record_of(message, 0, message.key(), payload));
        return Ok(());
    }
    match read_frame(message.key(), payload) {
        Ok(framed) => {
            records.reserve(framed.len());
            records.extend(
                framed
                    .into_iter()
                    .zip(0..)
                    .map(|(record, index)| record_of(message, index, record.key, record.payload)),
            );
            Ok(())
        }
        Err(error) => {
            let whole = record_of(message, 0, message.key(), payload);
            let kind = match error {
                schemas::frame::FrameError::Newer { .. } => schemas::ErrorKind::Schema,
                schemas::frame::FrameError::Malformed { .. } => schemas::ErrorKind::Decode,
            };
            Err(Box::new((whole, StageError::new(kind, error.to_string()))))
        }
    }
}

/// The record at `index` of `message` (0 for a message that is one record), with `key` and `payload`.
fn record_of(
    message: &BorrowedMessage<'_>,
    index: u32,
    key: Option<&[u8]>,
    payload: &[u8],
) -> SourceRecord {
    SourceRecord {
        coordinates: SourceCoordinates {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            index,
        },
        key: key.map(<[u8]>::to_vec),
        payload: payload.to_vec(),
        timestamp_ms: message.timestamp().to_millis(),
    }
}

/// The partition librdkafka's default partitioner (`consistent_random`) gives a non-empty `key` among
/// `partitions`.
#[must_use]
pub fn partition_for(key: &[u8], partitions: i32) -> i32 {
    let count = u32::try_from(partitions.max(1)).unwrap_or(1);
    // The remainder is below `partitions`, an i32.
    i32::try_from(crc32fast::hash(key) % count).unwrap_or(0)
}

/// Where a frame goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Route {
    /// To this partition, unkeyed.
    Partition(i32),
    /// Keyed (or not) like its records, when the partition count is unknown or the records have no key.
    Keyed(Option<Vec<u8>>),
}

/// One frame to produce.
#[derive(Debug)]
pub struct Frame {
    /// The topic.
    pub topic: String,
    /// Where on it.
    pub route: Route,
    /// The frame's bytes.
    pub payload: Vec<u8>,
}

/// Packs records into frames per topic and route, in the order they come.
#[derive(Debug)]
pub struct FramePacker {
    max_bytes: usize,
    /// The frames being filled, by topic (a few: looked up without a copy of the topic's name per
    /// record) and route.
    open: Vec<(String, BTreeMap<Route, FrameWriter>)>,
    done: Vec<Frame>,
}

impl FramePacker {
    /// A packer whose frames stay within `max_bytes` (unless one record alone is larger: it gets a frame
    /// of its own).
    #[must_use]
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            open: Vec::new(),
            done: Vec::new(),
        }
    }

    /// Adds a record for `topic`, which has `partitions` partitions if known.
    pub fn push(
        &mut self,
        topic: &str,
        partitions: Option<i32>,
        key: Option<&[u8]>,
        payload: &[u8],
    ) {
        let route = match (key, partitions) {
            (Some(key), Some(partitions)) if partitions > 0 && !key.is_empty() => {
                Route::Partition(partition_for(key, partitions))
            }
            // librdkafka's default partitioner places an empty key like no key, at random; the record
            // inside keeps its empty key.
            (Some(_), Some(partitions)) if partitions > 0 => Route::Keyed(None),
            // Unknown counts, or another partitioner: keyed exactly like the records.
            (key, _) => Route::Keyed(key.map(<[u8]>::to_vec)),
        };
        let at = match self.open.iter().position(|(open, _)| open == topic) {
            Some(at) => at,
            None => {
                self.open.push((topic.to_owned(), BTreeMap::new()));
                self.open.len() - 1
            }
        };
        let (topic, routes) = &mut self.open[at];
        let writer = match routes.get_mut(&route) {
            Some(writer) => writer,
            None => routes.entry(route.clone()).or_default(),
        };
        if writer.is_full()
            || (!writer.is_empty() && writer.len_with(key, payload) > self.max_bytes)
        {
            let full = std::mem::take(writer);
            self.done.push(Frame {
                topic: topic.clone(),
                route,
                payload: full.finish(),
            });
        }
        writer.push(key, payload);
    }

    /// Every frame, the full ones first, then the rest in topic and route order.
    #[must_use]
    pub fn finish(mut self) -> Vec<Frame> {
        let mut open = std::mem::take(&mut self.open);
        open.sort_by(|(a, _), (b, _)| a.cmp(b));
        self.done
            .extend(open.into_iter().flat_map(|(topic, routes)| {
                routes
                    .into_iter()
                    .filter(|(_, writer)| !writer.is_empty())
                    .map(move |(route, writer)| Frame {
                        topic: topic.clone(),
                        route,
                        payload: writer.finish(),
                    })
            }));
        self.done
    }
}

/// How long a topic's partition count is trusted before it is read again.
const PARTITIONS_TTL: Duration = Duration::from_secs(60);

/// Partition counts of the topics a process frames for, read from the producer's metadata.
#[derive(Debug, Default)]
pub struct PartitionCounts {
    known: Mutex<HashMap<String, (Option<i32>, Instant)>>,
}

impl PartitionCounts {
    /// `topic`'s partition count, from the cache or the broker (`None` when it cannot be read: the
    /// caller frames per key then).
    pub async fn of(&self, producer: &FutureProducer, topic: &str) -> Option<i32> {
        if let Some((count, at)) = crate::kafka::context::lock(&self.known).get(topic)
            && at.elapsed() < PARTITIONS_TTL
        {
            return *count;
        }
        let client = producer.clone();
        let name = topic.to_owned();
        let count = tokio::task::spawn_blocking(move || {
            client
                .client()
                .fetch_metadata(Some(&name), Duration::from_secs(5))
                .map_err(|e| e.to_string())
                .and_then(|metadata| {
                    metadata
                        .topics()
                        .iter()
                        .find(|t| t.name() == name && t.error().is_none())
                        .map(|t| i32::try_from(t.partitions().len()).unwrap_or(i32::MAX))
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("no partitions of {name} in the metadata"))
                })
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|count| count);
        let count = match count {
            Ok(count) => Some(count),
            Err(reason) => {
                tracing::warn!(topic, %reason, "partition count unknown: framing per key");
                None
            }
        };
        crate::kafka::context::lock(&self.known).insert(topic.to_owned(), (count, Instant::now()));
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::frame::read_frame;

    #[test]
    fn the_partition_is_librdkafkas_crc32_of_the_key() {
        // CRC-32 ("123456789") is the check value 0xCBF43926 = 3421780262.
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
        assert_eq!(
            partition_for(b"123456789", 8),
            (3_421_780_262u32 % 8) as i32
        );
        for partitions in 1..20 {
            assert!((0..partitions).contains(&partition_for(b"shop/checkout", partitions)));
        }
    }

    #[test]
    fn records_are_packed_per_partition_in_order_and_within_the_size() {
        let mut packer = FramePacker::new(1024);
        let keys: [&[u8]; 4] = [b"a/one", b"a/two", b"a/three", b"a/four"];
        for i in 0..12 {
            let payload = format!("{i:0>300}");
            packer.push("logs", Some(4), Some(keys[i % 4]), payload.as_bytes());
        }
        packer.push("logs", Some(4), None, b"{}");
        packer.push("logs", None, Some(b"a/one"), b"{}");
        let frames = packer.finish();
        let mut seen = 0;
        for frame in &frames {
            assert!(frame.payload.len() <= 1024);
            let records = read_frame(None, &frame.payload).expect("reads");
            match &frame.route {
                Route::Partition(p) => {
                    for r in &records {
                        assert_eq!(partition_for(r.key.expect("keyed"), 4), *p);
                    }
                }
                Route::Keyed(key) => {
                    assert!(records.iter().all(|r| r.key == key.as_deref()));
                }
            }
            seen += records.len();
        }
        assert_eq!(seen, 14, "every record is in exactly one frame");
        // Per key, the order is kept across frames.
        for key in keys {
            let order: Vec<&[u8]> = frames
                .iter()
                .flat_map(|f| read_frame(None, &f.payload).expect("reads"))
                .filter(|r| r.key == Some(key) && r.payload.len() == 300)
                .map(|r| r.payload)
                .collect();
            assert_eq!(order.len(), 3, "{key:?}");
            assert!(order.is_sorted(), "{key:?} keeps its order");
        }
    }

    #[test]
    fn the_open_frames_come_in_topic_and_route_order_after_the_full_ones() {
        let mut packer = FramePacker::new(1024);
        let payload = [b'x'; 600];
        let key_in = |partition| {
            (0u32..)
                .map(|i| format!("k{i}"))
                .find(|key| partition_for(key.as_bytes(), 4) == partition)
                .expect("some key hashes to every partition")
        };
        let (p2, p1) = (key_in(2), key_in(1));
        packer.push("parsed", Some(4), Some(p2.as_bytes()), b"{}");
        packer.push("logs", Some(4), Some(p2.as_bytes()), &payload);
        packer.push("logs", Some(4), Some(p2.as_bytes()), &payload);
        packer.push("parsed", Some(4), Some(p1.as_bytes()), b"{}");
        packer.push("logs", None, Some(b"b"), b"{}");
        packer.push("logs", None, Some(b"a"), b"{}");
        let frames = packer.finish();
        let order: Vec<(&str, &Route)> = frames
            .iter()
            .map(|f| (f.topic.as_str(), &f.route))
            .collect();
        assert_eq!(
            order,
            [
                // Full: the second large record did not fit.
                ("logs", &Route::Partition(2)),
                ("logs", &Route::Partition(2)),
                ("logs", &Route::Keyed(Some(b"a".to_vec()))),
                ("logs", &Route::Keyed(Some(b"b".to_vec()))),
                ("parsed", &Route::Partition(1)),
                ("parsed", &Route::Partition(2)),
            ]
        );
    }

    #[test]
    fn an_empty_key_stays_empty_and_is_routed_like_no_key() {
        let mut packer = FramePacker::new(1024);
        packer.push("logs", Some(4), Some(b""), b"{}");
        let frames = packer.finish();
        assert_eq!(frames[0].route, Route::Keyed(None));
        let records = read_frame(None, &frames[0].payload).expect("reads");
        assert_eq!(records[0].key, Some(&b""[..]));
    }

    #[test]
    fn a_record_larger_than_a_frame_gets_one_of_its_own() {
        let mut packer = FramePacker::new(1024);
        packer.push("logs", Some(1), Some(b"k"), &[b'a'; 10]);
        packer.push("logs", Some(1), Some(b"k"), &[b'b'; 4000]);
        packer.push("logs", Some(1), Some(b"k"), &[b'c'; 10]);
        let frames = packer.finish();
        let sizes: Vec<Vec<usize>> = frames
            .iter()
            .map(|f| {
                read_frame(None, &f.payload)
                    .expect("reads")
                    .iter()
                    .map(|r| r.payload.len())
                    .collect()
            })
            .collect();
        assert_eq!(sizes, vec![vec![10], vec![4000], vec![10]]);
    }
}
