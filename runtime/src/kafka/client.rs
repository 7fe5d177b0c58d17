//! librdkafka client configuration for medic's consumers and producers.

use crate::config::{KafkaConfig, RunnerConfig};
use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::DeliveryFuture;

fn base(kafka: &KafkaConfig, client_id: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &kafka.brokers)
        .set("client.id", client_id);
    for (key, value) in &kafka.properties {
        config.set(key, value);
    }
    config
}

/// How long a consumer waits before fetching again for a partition whose prefetch queue was full
/// (librdkafka `fetch.queue.backoff.ms`). Chosen by measurement: `medic bench e2e --lines 300000` ran
/// 15 978–17 296 lines/s at 100 ms and 28 072–36 508 at 5, 10 and 25 ms (README, "The consumers' fetch
/// backoff").
pub const FETCH_QUEUE_BACKOFF_MS: &str = "10";

/// A consumer in group `group`: no auto-commit, no auto offset store (the runner commits explicitly after
/// delivery), reading from the earliest offset when the group has none, prefetching at most
/// `consumer_queue_bytes` / `consumer_queue_records` per partition (librdkafka's defaults, 64 MiB and
/// 100 000 records, let a burst on the input topics swell every stage's memory).
#[must_use]
pub fn consumer_config(kafka: &KafkaConfig, group: &str) -> ClientConfig {
    let mut config = base(kafka, group);
    let session_ms = u64::try_from(kafka.session_timeout.as_millis()).unwrap_or(0);
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("session.timeout.ms", session_ms.to_string())
        .set(
            "heartbeat.interval.ms",
            (session_ms / 3).max(100).to_string(),
        )
        .set("max.poll.interval.ms", session_ms.max(300_000).to_string())
        // librdkafka limits fetch.max.bytes to this too (but not below message.max.bytes).
        .set(
            "queued.max.messages.kbytes",
            kafka.consumer_queue_kib().to_string(),
        )
        .set(
            "queued.min.messages",
            kafka.consumer_queue_records.to_string(),
        )
        // With a bounded queue, fetch again soon after the stage took records from it: librdkafka waits
        // 1 s by default, and 100 ms still halved the line rate.
        .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS);
    // User properties win over medic's defaults.
    for (key, value) in kafka.properties.iter().chain(&kafka.consumer_properties) {
        config.set(key, value);
    }
    config
}

/// The most bytes one produced message may have: `message.max.bytes` under `[kafka.properties]` when
/// set (it wins over medic's settings), else `runner.max_message_bytes`.
#[must_use]
pub fn max_message_bytes(kafka: &KafkaConfig, runner: &RunnerConfig) -> usize {
    kafka
        .properties
        .get("message.max.bytes")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(runner.max_message_bytes)
}

/// How long the producer waits for more records before it sends a batch (librdkafka `linger.ms`). The
/// runner hands a whole batch over at once and lands it after the next batch is processed, so a longer
/// wait only delays each batch (measured when the runner still waited for every batch's
/// acknowledgements). Chosen by measurement: five alternating pairs of `medic bench e2e --lines 300000`
/// ran a mean 30 557 lines/s at 5 ms and 36 409 at 1 ms (README, "The producer's `linger.ms`").
pub const PRODUCER_LINGER_MS: &str = "1";

/// The idempotent producer every stage of a process shares: acks from all in-sync replicas, retried
/// inside librdkafka until `produce_timeout`.
#[must_use]
pub fn producer_config(kafka: &KafkaConfig, runner: &RunnerConfig) -> ClientConfig {
    let mut config = base(kafka, "medic-producer");
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", PRODUCER_LINGER_MS)
        .set("message.max.bytes", runner.max_message_bytes.to_string())
        .set(
            "message.timeout.ms",
            runner.produce_timeout.as_millis().to_string(),
        );
    for (key, value) in &kafka.properties {
        config.set(key, value);
    }
    config
}

/// What a [`DeliveryFuture`] resolved to, as a result: `Ok` once the broker acknowledged the record,
/// [`KafkaError::Canceled`] when the producer went away before it answered.
///
/// # Errors
/// The broker's refusal, or [`KafkaError::Canceled`].
pub fn delivered(outcome: <DeliveryFuture as Future>::Output) -> Result<(), KafkaError> {
    match outcome {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((error, _))) => Err(error),
        Err(_canceled) => Err(KafkaError::Canceled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_least_once_settings_and_user_overrides() {
        let mut kafka = KafkaConfig::default();
        kafka
            .properties
            .insert("security.protocol".into(), "SASL_SSL".into());
        kafka
            .properties
            .insert("auto.offset.reset".into(), "latest".into());
        let consumer = consumer_config(&kafka, "medic-ingest");
        assert_eq!(consumer.get("enable.auto.commit"), Some("false"));
        assert_eq!(consumer.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(consumer.get("group.id"), Some("medic-ingest"));
        assert_eq!(consumer.get("queued.max.messages.kbytes"), Some("4096"));
        assert_eq!(consumer.get("queued.min.messages"), Some("1000"));
        assert_eq!(consumer.get("fetch.queue.backoff.ms"), Some("10"));
        assert_eq!(consumer.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(
            consumer.get("auto.offset.reset"),
            Some("latest"),
            "user properties win"
        );
        let producer = producer_config(&kafka, &RunnerConfig::default());
        assert_eq!(producer.get("enable.idempotence"), Some("true"));
        assert_eq!(producer.get("acks"), Some("all"));
        assert_eq!(producer.get("linger.ms"), Some("1"));
    }
}
