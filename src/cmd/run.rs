//! `medic run`: pipeline stages against Kafka until SIGTERM/SIGINT, then drain, commit and exit 0; the
//! admin server (`/metrics`, `/healthz`, `/readyz`) beside them.

use crate::app::{run_specs, run_stages};
use crate::config::load_pipeline;
use crate::stages::StageName;
use runtime::telemetry::health::Health;
use runtime::telemetry::metrics::Metrics;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The flags of `medic run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pipeline file, layered over the embedded default (env MEDIC__SECTION__KEY overrides both).
    #[arg(long, short)]
    pub pipeline: Option<PathBuf>,
    /// Stage to run (repeatable). Default: every stage of the log pipeline in this process, and the
    /// observer when `observe.source` names a cluster.
    #[arg(long = "stage", short = 's')]
    pub stages: Vec<StageName>,
    /// Benchmarks only: run each stage as a pass-through on its topics (ingest and enrich forward
    /// every record unchanged, the others read and drop) — what `medic bench e2e --pass-through`
    /// compares medic with. Refused unless `MEDIC_BENCH_PASS_THROUGH=1` is set: on a real pipeline it
    /// would commit the stages' offsets past records nothing processed.
    #[arg(long, hide = true)]
    pub pass_through: bool,
}

/// The environment variable `medic run --pass-through` requires (set to `1`).
pub const PASS_THROUGH_ENV: &str = "MEDIC_BENCH_PASS_THROUGH";

/// Cancels `token` on SIGINT or SIGTERM.
pub(crate) fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::error!(error = %error, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => tracing::info!("SIGINT: shutting down"),
            () = terminate => tracing::info!("SIGTERM: shutting down"),
        }
        token.cancel();
    });
}

/// Runs the stages until a signal, then drains them.
///
/// # Errors
/// An invalid pipeline, an admin server that cannot listen, or the first stage error.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !args.pass_through || std::env::var(PASS_THROUGH_ENV).is_ok_and(|v| v == "1"),
        "--pass-through is for `medic bench e2e` only: it commits the stages' offsets past records \
         nothing processes (set {PASS_THROUGH_ENV}=1 to run it anyway)"
    );
    let loaded = load_pipeline(args.pipeline.as_deref(), std::env::vars())?.warned();
    let config = loaded.config;
    let stages = if args.stages.is_empty() {
        StageName::configured(&config)
    } else {
        args.stages
    };
    tracing::info!(pipeline = %loaded.origin, stages = ?stages.iter().map(|s| s.as_str()).collect::<Vec<_>>(), "starting");
    super::tokio_runtime()?.block_on(async move {
        let shutdown = CancellationToken::new();
        cancel_on_signal(shutdown.clone());
        let metrics = Metrics::new();
        let health = Arc::new(Health::new(Duration::from_secs(60)));
        let admin_shutdown = CancellationToken::new();
        let admin = if config.admin.enabled {
            let addr = config.admin.listen;
            let (bound, task) = runtime::telemetry::admin::serve(
                addr,
                metrics.clone(),
                Arc::clone(&health),
                admin_shutdown.clone(),
            )
            .await?;
            tracing::info!(listen = %bound, "admin server: /metrics /healthz /readyz");
            Some(task)
        } else {
            None
        };
        let result = if args.pass_through {
            tracing::warn!("pass-through: stages forward or drop records without doing any work");
            let specs = stages
                .iter()
                .map(|s| s.pass_through_spec(&config))
                .collect();
            run_specs(&config, specs, &metrics, &health, shutdown).await
        } else {
            run_stages(&config, &stages, &metrics, &health, shutdown).await
        };
        admin_shutdown.cancel();
        if let Some(task) = admin {
            let _ = task.await;
        }
        result?;
        tracing::info!("all stages drained and committed; exiting");
        Ok(ExitCode::SUCCESS)
    })
}
