//! The service itself: metrics, health, its OpenAPI description, the page.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lpdnn_baas_api::Health;
use lpdnn_jobs::{JobQueue, JobStore};

use crate::error::ApiError;
use crate::state::Service;

/// The service's metrics for Prometheus.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "OpenMetrics text"),
        (status = 401, body = lpdnn_baas_api::ErrorBody, description = "tokens are configured and none valid was given")))]
pub(crate) async fn metrics<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    s.reader(&headers)?;
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics_text().await?,
    )
        .into_response())
}

/// The web page: upload, pick from the live catalog, follow the job, read
/// the report (one file, no build step).
pub(crate) async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        include_str!("../page/index.html"),
    )
        .into_response()
}

/// Whether the service answers.
#[utoipa::path(get, path = "/health", tag = "service",
    responses((status = 200, body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// This API's OpenAPI 3.1 description, made from the handlers' annotations
/// and the shared types.
pub(crate) async fn openapi() -> Response {
    use utoipa::OpenApi;
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_default(),
    )
        .into_response()
}
