//! The admin HTTP server: `/metrics` (Prometheus text), `/healthz` (liveness), `/readyz` (readiness).

use crate::telemetry::health::Health;
use crate::telemetry::metrics::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct AdminState {
    metrics: Metrics,
    health: Arc<Health>,
}

/// The router (public for tests).
pub fn router(metrics: Metrics, health: Arc<Health>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(AdminState { metrics, health })
}

async fn metrics_handler(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.encode(),
    )
}

fn probe(result: Result<(), Vec<String>>, ok: &'static str, failing: &str) -> (StatusCode, String) {
    match result {
        Ok(()) => (StatusCode::OK, format!("{ok}\n")),
        Err(stages) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{failing}: {}\n", stages.join(", ")),
        ),
    }
}

async fn healthz(State(state): State<AdminState>) -> impl IntoResponse {
    probe(state.health.liveness(), "ok", "stalled")
}

async fn readyz(State(state): State<AdminState>) -> impl IntoResponse {
    probe(state.health.readiness(), "ready", "not ready")
}

/// Binds `addr` and serves until `shutdown` is cancelled. Returns the bound address (port 0 picks one).
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    metrics: Metrics,
    health: Arc<Health>,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = router(metrics, health);
    let task = tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = result {
            tracing::error!(error = %error, "admin server failed");
        }
    });
    Ok((bound, task))
}
