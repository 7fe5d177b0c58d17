//! [`TopicReader`]: reads whole topics, or single records, with a group-less consumer (nothing is
//! committed), unpacking frames ([`schemas::frame`]) so that every record reads as itself. `medic
//! explain` and `medic topic cat` read through it.

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use runtime::config::{KafkaConfig, TopicsConfig};
use runtime::kafka::consumer_config;
use runtime::kafka::frames::{framed_topics, unpack};
use schemas::{SourceCoordinates, SourceRecord};
use std::time::{Duration, Instant};

/// Reads topics from the beginning with a consumer of no group.
pub struct TopicReader {
    consumer: BaseConsumer,
    timeout: Duration,
    /// The topics read as frames (`runtime::kafka::frames::framed_topics`).
    framed: Vec<String>,
}

impl TopicReader {
    /// A reader of `kafka`'s brokers that unpacks the frames of `topics`' per-line topics and gives up
    /// on one topic after `timeout`.
    ///
    /// # Errors
    /// When the consumer cannot be created.
    pub fn new(
        kafka: &KafkaConfig,
        topics: &TopicsConfig,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let consumer = consumer_config(kafka, "medic-topic-reader")
            .create()
            .context("cannot create a Kafka consumer")?;
        Ok(Self {
            consumer,
            timeout,
            framed: framed_topics(topics),
        })
    }

    /// Every record of `topic` that decodes as `R` (others are skipped).
    ///
    /// # Errors
    /// When the topic cannot be read.
    pub fn records<R: schemas::WireRecord>(&self, topic: &str) -> anyhow::Result<Vec<R>> {
        let mut out = Vec::new();
        self.each(topic, None, |record| {
            match schemas::decode_record(&record.payload) {
                Ok(decoded) => out.push(decoded),
                Err(error) => {
                    tracing::debug!(topic, offset = record.coordinates.offset, %error, "skipped");
                }
            }
            true
        })?;
        Ok(out)
    }

    /// Calls `f` with every record of `topic` (of `partition`, when given), read from the beginning of
    /// every partition up to its high watermark as it was when reading began, or until the timeout, or
    /// until `f` returns false. A frame this build cannot read is handed over whole, as one record.
    ///
    /// # Errors
    /// When the topic's metadata or offsets cannot be read.
    pub fn each(
        &self,
        topic: &str,
        partition: Option<i32>,
        mut f: impl FnMut(SourceRecord) -> bool,
    ) -> anyhow::Result<()> {
        let metadata = self
            .consumer
            .fetch_metadata(Some(topic), self.timeout)
            .with_context(|| format!("cannot read the metadata of {topic}"))?;
        let mut assignment = TopicPartitionList::new();
        let mut ends = Vec::new();
        for id in metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions())
            .map(rdkafka::metadata::MetadataPartition::id)
            .filter(|id| partition.is_none_or(|p| p == *id))
        {
            let (low, high) = self
                .consumer
                .fetch_watermarks(topic, id, self.timeout)
                .with_context(|| format!("cannot read the offsets of {topic}"))?;
            if high > low {
                assignment.add_partition_offset(topic, id, Offset::Beginning)?;
                ends.push((id, high));
            }
        }
        if ends.is_empty() {
            return Ok(());
        }
        self.consumer.assign(&assignment)?;
        let deadline = Instant::now() + self.timeout;
        // Done when every partition's next offset reached its end (the position skips transaction
        // markers, which are never delivered).
        let done = || -> anyhow::Result<bool> {
            let position = self.consumer.position()?;
            Ok(ends.iter().all(|(partition, end)| {
                matches!(
                    position.find_partition(topic, *partition).map(|p| p.offset()),
                    Some(Offset::Offset(at)) if at >= *end
                )
            }))
        };
        while !done()? {
            if Instant::now() >= deadline {
                tracing::warn!(
                    topic,
                    "gave up before the end of the topic (--timeout): what follows may be incomplete"
                );
                break;
            }
            if let Some(message) = self.consumer.poll(Duration::from_millis(100)) {
                for record in records_of(&message?, &self.framed) {
                    if !f(record) {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// The payload at `at` (its record, when the message is a frame), if it is still on the broker.
    ///
    /// # Errors
    /// When the partition cannot be assigned.
    pub fn one(&self, at: &SourceCoordinates) -> anyhow::Result<Option<Vec<u8>>> {
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(&at.topic, at.partition, Offset::Offset(at.offset))?;
        self.consumer.assign(&assignment)?;
        let deadline = Instant::now() + self.timeout;
        while Instant::now() < deadline {
            if let Some(message) = self.consumer.poll(Duration::from_millis(200)) {
                let message = message?;
                if message.offset() == at.offset {
                    return Ok(records_of(&message, &self.framed)
                        .into_iter()
                        .find(|r| r.coordinates.index == at.index)
                        .map(|r| r.payload));
                }
            }
        }
        Ok(None)
    }
}

/// The records `message` holds (one, unless it is a frame); an unreadable frame as one record.
fn records_of(message: &BorrowedMessage<'_>, framed: &[String]) -> Vec<SourceRecord> {
    let mut records = Vec::new();
    if let Err(unreadable) = unpack(message, framed, &mut records) {
        let (whole, error) = *unreadable;
        tracing::warn!(topic = message.topic(), offset = message.offset(), %error, "unreadable frame");
        records.push(whole);
    }
    records
}
