//! Creating a pipeline's topics.

use crate::config::RuntimeConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use std::time::Duration;

/// Creates every topic of `names` that does not exist yet (existing topics are left as they are): the
/// checkpoint topic compacted with one partition, the others with `kafka.partitions`.
///
/// # Errors
/// When the admin client cannot be created or a topic cannot be created for another reason than
/// already existing.
pub async fn ensure_topics(config: RuntimeConfig<'_>, names: &[String]) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> =
        crate::kafka::client::producer_config(config.kafka, config.runner).create()?;
    let new_topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|name| {
            let replication = TopicReplication::Fixed(config.kafka.replication_factor);
            if *name == config.topics.checkpoints {
                // One partition keeps the latest snapshot per key easy to find; compaction keeps only it.
                NewTopic::new(name, 1, replication).set("cleanup.policy", "compact")
            } else {
                NewTopic::new(name, config.kafka.partitions, replication)
            }
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for result in admin.create_topics(&new_topics, &options).await? {
        match result {
            Ok(topic) => tracing::info!(topic = %topic, "created topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                tracing::error!(topic = %topic, error = %code, "cannot create topic");
                return Err(KafkaError::AdminOp(code));
            }
        }
    }
    Ok(())
}
