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
use std::time::{Duration, Instant};

/// Reads every record of `topic` whose timestamp is in `[start_ms, end_ms]` (ms since the epoch),
/// from all partitions, in timestamp order. Blocking: call it off the async runtime.
///
/// # Errors
/// When the brokers cannot be reached, the topic does not exist, or reading takes longer than
/// `timeout`.
pub fn read_window(
    kafka: &KafkaConfig,
    topic: &str,
    start_ms: i64,
    end_ms: i64,
    timeout: Duration,
) -> Result<Vec<Input>, KafkaError> {
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
    let mut by_time = TopicPartitionList::new();
    for &partition in &partitions {
        by_time.add_partition_offset(topic, partition, Offset::Offset(start_ms))?;
    }
    let starts = consumer.offsets_for_times(by_time, timeout)?;
    let mut assignment = TopicPartitionList::new();
    // Per partition: the offset after which nothing older than `end` can follow (the high watermark).
    let mut remaining: BTreeMap<i32, i64> = BTreeMap::new();
    for element in starts.elements() {
        let Offset::Offset(start) = element.offset() else {
            continue; // no record at or after `start` in this partition
        };
        let (_, high) = consumer.fetch_watermarks(topic, element.partition(), timeout)?;
        if start < high {
            assignment.add_partition_offset(topic, element.partition(), Offset::Offset(start))?;
            remaining.insert(element.partition(), high);
        }
    }
    consumer.assign(&assignment)?;
    let deadline = Instant::now() + timeout;
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
        if (start_ms..=end_ms).contains(&timestamp) {
            inputs.push(Input {
                event_time_ns: timestamp.saturating_mul(1_000_000),
                key: String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
                payload: message.payload().unwrap_or_default().to_vec(),
            });
        }
        let done = remaining
            .get(&partition)
            .is_none_or(|high| message.offset() + 1 >= *high || timestamp > end_ms);
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
