//! Running a set of stages in this process, with topic creation and graceful shutdown.

use crate::config::RuntimeConfig;
use crate::kafka::{RunnerError, StageRunner, StageSpec, ensure_topics, producer_config};
use crate::telemetry::health::Health;
use crate::telemetry::metrics::Metrics;
use rdkafka::producer::FutureProducer;
use std::sync::Arc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Why the pipeline stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A stage failed.
    #[error(transparent)]
    Stage(#[from] RunnerError),
    /// Topics could not be created.
    #[error("cannot create topics: {0}")]
    Topics(#[source] rdkafka::error::KafkaError),
    /// The shared producer could not be created.
    #[error("cannot create the Kafka producer: {0}")]
    Producer(#[source] rdkafka::error::KafkaError),
    /// A stage task panicked (a bug).
    #[error("stage task panicked: {0}")]
    Panicked(String),
}

/// Runs `stages` until `shutdown` is cancelled (then drains each and returns `Ok`) or one fails (then
/// stops the others and returns its error). With `kafka.create_topics`, `topics` are created first.
///
/// # Errors
/// The first [`PipelineError`] of any stage, or of topic creation.
pub async fn run_stages(
    config: RuntimeConfig<'_>,
    topics: &[String],
    stages: Vec<StageSpec>,
    metrics: &Metrics,
    health: &Arc<Health>,
    shutdown: CancellationToken,
) -> Result<(), PipelineError> {
    if config.kafka.create_topics {
        ensure_topics(config, topics)
            .await
            .map_err(PipelineError::Topics)?;
    }
    let producer: FutureProducer = producer_config(config.kafka, config.runner)
        .create()
        .map_err(PipelineError::Producer)?;
    let mut tasks = JoinSet::new();
    for stage in stages {
        let runner =
            StageRunner::new(stage, config, producer.clone(), metrics, Arc::clone(health))?;
        tasks.spawn(runner.run(shutdown.clone()));
    }
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let error = match joined {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => PipelineError::Stage(error),
            Err(join_error) => PipelineError::Panicked(join_error.to_string()),
        };
        tracing::error!(error = %error, "stage failed; stopping the others");
        shutdown.cancel();
        first_error.get_or_insert(error);
    }
    first_error.map_or(Ok(()), Err)
}
