//! The daemon's optional HTTP listener (`daemon.listen`): `/healthz`, `/metrics` and, with
//! `daemon.serve_site`, the report site as static files.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::services::ServeDir;

use super::status::{METRICS_CONTENT_TYPE, Status};

/// The routes: `/healthz`, `/metrics`, and the site under `/` when `site` is given.
pub fn router(status: Arc<Status>, site: Option<PathBuf>) -> Router {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(status);
    match site {
        // Looked up per request: the site's atomic republish swaps the directory under the same path.
        Some(dir) => {
            app.fallback_service(ServeDir::new(dir).append_index_html_on_directories(true))
        }
        None => app,
    }
}

/// 200 while the scheduler runs and the last scan is fresh, else 503; the body says why, as JSON.
async fn healthz(State(status): State<Arc<Status>>) -> impl IntoResponse {
    let health = status.health(chrono::Utc::now());
    let code = if health.ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::to_string(&health).unwrap_or_else(|_| "{}".into());
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body + "\n",
    )
}

async fn metrics(State(status): State<Arc<Status>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        status.encode(),
    )
}
