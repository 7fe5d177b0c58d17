//! Wiring a pipeline file to the runtime: its topics, and its stages run by the supervisor.

use crate::config::PipelineConfig;
use crate::stages::StageName;
use runtime::kafka::ensure_topics;
use runtime::supervisor::PipelineError;
use runtime::telemetry::health::Health;
use runtime::telemetry::metrics::Metrics;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Runs `stages` of `config` in this process until `shutdown` is cancelled or one fails (see
/// [`runtime::supervisor::run_stages`]); the pipeline's topics are created first when
/// `kafka.create_topics` is set.
///
/// # Errors
/// The first [`PipelineError`] of any stage, of its configuration, or of topic creation.
pub async fn run_stages(
    config: &PipelineConfig,
    stages: &[StageName],
    metrics: &Metrics,
    health: &Arc<Health>,
    shutdown: CancellationToken,
) -> Result<(), PipelineError> {
    let specs = stages
        .iter()
        .map(|stage| stage.spec(config))
        .collect::<Result<Vec<_>, _>>()?;
    run_specs(config, specs, metrics, health, shutdown).await
}

/// Runs `specs` on `config`'s topics, as [`run_stages`] runs the stages it builds (also the
/// [pass-through](crate::pass_through) of `medic bench e2e --pass-through`).
///
/// # Errors
/// The first [`PipelineError`] of any stage, or of topic creation.
pub async fn run_specs(
    config: &PipelineConfig,
    specs: Vec<runtime::kafka::StageSpec>,
    metrics: &Metrics,
    health: &Arc<Health>,
    shutdown: CancellationToken,
) -> Result<(), PipelineError> {
    runtime::supervisor::run_stages(
        config.runtime(),
        &config.all_topics(),
        specs,
        metrics,
        health,
        shutdown,
    )
    .await
}

/// Creates every topic of the pipeline that does not exist yet.
///
/// # Errors
/// As [`ensure_topics`].
pub async fn create_topics(config: &PipelineConfig) -> Result<(), rdkafka::error::KafkaError> {
    ensure_topics(config.runtime(), &config.all_topics()).await
}
