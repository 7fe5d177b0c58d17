//! `medic receive firehose|pubsub-push`: an edge receiver ([`crate::receive`]) on `--listen`, writing to
//! a source topic of the pipeline's brokers, until SIGTERM/SIGINT (requests in flight are answered first).

use crate::config::load_pipeline;
use crate::receive::{Receiver, Sender, router};
use anyhow::Context;
use runtime::kafka::oversize::MessageLimit;
use runtime::kafka::producer_config;
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
    /// Requests served at once; more are answered 503 (the senders retry).
    #[arg(long, default_value_t = 4)]
    pub max_concurrent: usize,
    /// Longest a request may take, seconds, reading its body and Kafka's acknowledgement included.
    #[arg(long, default_value_t = 120)]
    pub request_timeout_secs: u64,
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
    super::tokio_runtime()?.block_on(async move {
        let shutdown = tokio_util::sync::CancellationToken::new();
        super::run::cancel_on_signal(shutdown.clone());
        // /metrics and /healthz on the pipeline's admin listener, apart from the public one.
        let metrics = Metrics::new();
        let admin = if config.admin.enabled {
            let health = Arc::new(Health::new(Duration::from_secs(60)));
            let (bound, task) = runtime::telemetry::admin::serve(
                config.admin.listen,
                metrics.clone(),
                health,
                shutdown.clone(),
            )
            .await?;
            tracing::info!(listen = %bound, "admin server: /metrics /healthz /readyz");
            Some(task)
        } else {
            None
        };
        let receiver = Receiver {
            sender: args.sender,
            producer: producer_config(&config.kafka, &config.runner).create()?,
            topic: topic.clone(),
            secret,
            max_body_bytes: args.max_body_bytes,
            produce_timeout: config.runner.produce_timeout.as_duration(),
            dlq_topic: config.topics.dlq.clone(),
            limit: MessageLimit::new(config.runner.max_message_bytes),
            max_concurrent: args.max_concurrent,
            request_timeout: Duration::from_secs(args.request_timeout_secs),
            metrics: metrics.stage(crate::receive::STAGE),
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
