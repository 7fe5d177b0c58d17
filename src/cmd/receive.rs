//! `medic receive firehose|pubsub-push`: an edge receiver ([`crate::receive`]) on `--listen`, writing to
//! a source topic of the pipeline's brokers, until SIGTERM/SIGINT (requests in flight are answered first).

use crate::config::load_pipeline;
use crate::receive::{Receiver, STAGE, Sender, router};
use anyhow::Context;
use runtime::kafka::oversize::MessageLimit;
use runtime::kafka::{ensure_topics, max_message_bytes, producer_config};
use runtime::telemetry::health::Health;
use runtime::telemetry::metrics::Metrics;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The flags of `medic receive`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Whom to receive from. Its secret is read from the environment: `MEDIC_FIREHOSE_ACCESS_KEY` (the
    /// access key configured on the delivery stream) or `MEDIC_PUBSUB_PUSH_TOKEN` (the `token` query
    /// parameter of the push endpoint's URL).
    #[arg(value_enum)]
    pub sender: Sender,
    /// Pipeline file, layered over the embedded default: its brokers and Kafka settings are used.
    #[arg(long, short)]
    pub pipeline: Option<PathBuf>,
    /// Address to listen on (put TLS in front: Firehose and Pub/Sub push only to HTTPS).
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Source topic to write to (default: the pipeline's first `[[ingest.sources]]` topic).
    #[arg(long)]
    pub topic: Option<String>,
    /// Largest request body, bytes (also the bound on a gzip body once inflated). Firehose buffers up
    /// to 64 MiB of records per request, about 86 MiB once base64-encoded in its JSON.
    #[arg(long, default_value_t = 96 << 20)]
    pub max_body_bytes: usize,
    /// Requests served at once; more are answered 503 (the senders retry). Default: 4 for `firehose`
    /// (requests of up to 64 MiB), 64 for `pubsub-push` (one message each).
    #[arg(long)]
    pub max_concurrent: Option<usize>,
    /// Longest a request may take, seconds, reading its body and Kafka's acknowledgement included.
    #[arg(long, default_value_t = 120)]
    pub request_timeout_secs: u64,
}

/// Refuses a topic medic's own stages write (`[topics]`): what a cloud pushes is raw input for ingest,
/// and written to `medic.logs.normalized` (say) it would pass for records ingest checked — with the
/// identities the sender chose.
///
/// # Errors
/// When `topic` is one of the pipeline's internal topics.
fn refuse_internal_topic(
    topics: &runtime::config::TopicsConfig,
    topic: &str,
) -> anyhow::Result<()> {
    if let Some((name, _)) = topics.named().into_iter().find(|(_, t)| *t == topic) {
        anyhow::bail!(
            "--topic {topic} is the pipeline's topics.{name}, which medic's stages write: a receiver \
             writes raw input to a source topic of [[ingest.sources]]"
        );
    }
    Ok(())
}

/// Runs the receiver until a signal.
///
/// # Errors
/// An invalid pipeline, no secret in the environment, or an address that cannot be bound.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let config = load_pipeline(args.pipeline.as_deref(), std::env::vars())?
        .warned()
        .config;
    let env = args.sender.secret_env();
    let secret = std::env::var(env)
        .ok()
        .filter(|s| !s.is_empty())
        .with_context(|| format!("set {env}: a receiver never accepts unauthenticated requests"))?;
    let topic = match &args.topic {
        Some(topic) => topic.clone(),
        None => config
            .ingest
            .sources
            .first()
            .map(ingest::SourceConfig::topic)
            .context("the pipeline has no [[ingest.sources]]: give --topic")?,
    };
    refuse_internal_topic(&config.topics, &topic)?;
    super::tokio_runtime()?.block_on(async move {
        let shutdown = tokio_util::sync::CancellationToken::new();
        super::run::cancel_on_signal(shutdown.clone());
        // /metrics and /healthz on the pipeline's admin listener, apart from the public one.
        let metrics = Metrics::new();
        let admin = if config.admin.enabled {
            let health = Arc::new(Health::new(Duration::from_secs(60)));
            health.set_ready(STAGE, true);
            let beating = Arc::clone(&health);
            tokio::spawn(async move {
                loop {
                    beating.beat(STAGE);
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            });
            let (bound, task) = runtime::telemetry::admin::serve(
                config.admin.listen,
                metrics.clone(),
                health,
                shutdown.clone(),
            )
            .await
            .with_context(|| format!("admin listener {} ([admin] listen)", config.admin.listen))?;
            tracing::info!(listen = %bound, "admin server: /metrics /healthz /readyz");
            Some(task)
        } else {
            None
        };
        // Both topics must exist: a dead-letter topic that does not would turn a poison record into
        // a 500 its sender retries for days.
        if config.kafka.create_topics {
            ensure_topics(
                config.runtime(),
                &[topic.clone(), config.topics.dlq.clone()],
            )
            .await
            .context("creating the source and dead-letter topics")?;
        }
        let receiver = Receiver {
            sender: args.sender,
            producer: producer_config(&config.kafka, &config.runner).create()?,
            topic: topic.clone(),
            secret,
            max_body_bytes: args.max_body_bytes,
            produce_timeout: config.runner.produce_timeout.as_duration(),
            dlq_topic: config.topics.dlq.clone(),
            limit: MessageLimit::new(max_message_bytes(&config.kafka, &config.runner)),
            max_concurrent: args.max_concurrent.unwrap_or(match args.sender {
                Sender::Firehose => 4,
                Sender::PubsubPush => 64,
            }),
            request_timeout: Duration::from_secs(args.request_timeout_secs),
            metrics: metrics.stage(STAGE),
        };
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        tracing::info!(listen = %listener.local_addr()?, topic, sender = ?args.sender, "receiving");
        // In-flight requests finish (and are answered) before the process exits.
        axum::serve(listener, router(receiver))
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .await?;
        if let Some(task) = admin {
            let _ = task.await;
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receiver_never_writes_an_internal_topic() {
        let topics = runtime::config::TopicsConfig::default();
        for (name, topic) in topics.named() {
            let error = refuse_internal_topic(&topics, topic).expect_err(name);
            assert!(
                error.to_string().contains(&format!("topics.{name}")),
                "{error}"
            );
        }
        refuse_internal_topic(&topics, "medic.logs.aws").expect("a source topic");
    }
}
