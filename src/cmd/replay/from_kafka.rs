//! Reading history back from Kafka: a topic's records between two times, found by timestamp
//! (offsets-for-times), as replay inputs with their record timestamps as event times.

use super::bundle::Input;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use runtime::config::KafkaConfig;
use runtime::kafka::consumer_config;
use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

/// Reads every record of `topic` whose timestamp is in `window` (ms since the epoch), from all
/// partitions, in timestamp order. Record timestamps are the producers' own, so a partition is read
/// past the window's end until a record more than `lateness` after it turns up, or to its high
/// watermark. Blocking: call it off the async runtime.
///
/// # Errors
/// When the brokers cannot be reached, the topic does not exist, or reading takes longer than
/// `timeout`.
pub fn read_window(
    kafka: &KafkaConfig,
    topic: &str,
    window: RangeInclusive<i64>,
    lateness: Duration,
    timeout: Duration,
) -> Result<Vec<Input>, KafkaError> {
    let (start_ms, end_ms) = (*window.start(), *window.end());
    let beyond_ms = end_ms.saturating_add(i64::try_from(lateness.as_millis()).unwrap_or(i64::MAX));
    let consumer: BaseConsumer = consumer_config(kafka, "medic-replay-reader").create()?;
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(KafkaError::MetadataFetch(
            rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition,
        ));
    }
    let deadline = Instant::now() + timeout;
    let starts = first_offsets_at(&consumer, topic, &partitions, start_ms, deadline)?;
    let mut assignment = TopicPartitionList::new();
    // Per partition: the offset after which nothing older than `end` can follow (the high watermark).
    let mut remaining: BTreeMap<i32, i64> = BTreeMap::new();
    for (partition, start) in starts {
        let Some(start) = start else {
            continue; // no record at or after `start` in this partition
        };
        let (_, high) = consumer.fetch_watermarks(topic, partition, timeout)?;
        if start < high {
            assignment.add_partition_offset(topic, partition, Offset::Offset(start))?;
            remaining.insert(partition, high);
        }
    }
    consumer.assign(&assignment)?;
    let mut inputs = Vec::new();
    while !remaining.is_empty() {
        if Instant::now() > deadline {
            return Err(KafkaError::Canceled);
        }
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message?;
        let partition = message.partition();
        let timestamp = message.timestamp().to_millis().unwrap_or(start_ms);
        if window.contains(&timestamp) {
            inputs.push(Input {
                event_time_ns: timestamp.saturating_mul(1_000_000),
                key: String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
                payload: message.payload().unwrap_or_default().to_vec(),
            });
        }
        let done = remaining
            .get(&partition)
            .is_none_or(|high| message.offset() + 1 >= *high || timestamp > beyond_ms);
        if done {
            remaining.remove(&partition);
            let mut stop = TopicPartitionList::new();
            stop.add_partition(topic, partition);
            let _ = consumer.incremental_unassign(&stop);
        }
    }
    inputs.sort_by_key(|i| i.event_time_ns);
    Ok(inputs)
}

/// Per partition, the first offset whose timestamp is at or after `start_ms` (`None`: the partition
/// holds no such record). A partition the broker answers with an error — a leader just elected, a
/// high watermark not yet caught up — is asked again until `deadline`; it is never taken for an
/// empty one, which would leave its history out of the replay without a word.
fn first_offsets_at(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: &[i32],
    start_ms: i64,
    deadline: Instant,
) -> Result<BTreeMap<i32, Option<i64>>, KafkaError> {
    let mut found = BTreeMap::new();
    let mut pending = partitions.to_vec();
    loop {
        let mut by_time = TopicPartitionList::new();
        for &partition in &pending {
            by_time.add_partition_offset(topic, partition, Offset::Offset(start_ms))?;
        }
        let answer = consumer
            .offsets_for_times(by_time, deadline.saturating_duration_since(Instant::now()))?;
        pending.clear();
        let mut refused = None;
        for element in answer.elements() {
            match (element.error(), element.offset()) {
                (Err(error), _) => {
                    pending.push(element.partition());
                    refused = Some(error);
                }
                (Ok(()), Offset::Offset(offset)) => {
                    found.insert(element.partition(), Some(offset));
                }
                (Ok(()), _) => {
                    found.insert(element.partition(), None);
                }
            }
        }
        match refused {
            None => return Ok(found),
            Some(error) if Instant::now() >= deadline => return Err(error),
            Some(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}
