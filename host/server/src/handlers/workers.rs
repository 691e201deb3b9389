//! The workers' side of the API, for `lpdnn-host worker --server URL`:
//! register, heartbeat, claim one job (a long poll), renew its lease with
//! progress, record the sandbox, complete it once, fetch its upload.
//! With tokens configured, only a worker token (`serve --worker-token`)
//! opens these routes: a user's token never sees another user's model.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lpdnn_baas_api::WorkerInfo;
use lpdnn_jobs::{JobQueue, JobStore, Lease, Outcome, StoreError};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::state::{Presented, Service};

/// The workers' routes, each behind the worker-token check (made before
/// the body is read).
pub(crate) fn routes<S: JobStore + JobQueue>(service: Arc<Service<S>>) -> Router<Arc<Service<S>>> {
    Router::new()
        .route("/v1/workers", post(register::<S>))
        .route("/v1/workers/{id}/heartbeat", post(heartbeat::<S>))
        .route("/v1/workers/{id}/claim", post(claim::<S>))
        .route("/v1/leases/renew", post(renew::<S>))
        .route("/v1/leases/sandbox", post(sandbox::<S>))
        .route(
            "/v1/leases/complete",
            post(complete::<S>).layer(DefaultBodyLimit::max(64 << 20)),
        )
        .route("/v1/uploads/{sha256}", get(upload::<S>))
        .route_layer(axum::middleware::from_fn_with_state(service, gate::<S>))
}

async fn gate<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    request: Request,
    next: Next,
) -> Response {
    match s.worker_auth(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

impl<S: JobStore + JobQueue> Service<S> {
    /// 401 unless the request carries a worker token (or no token is
    /// configured at all: a loopback service).
    fn worker_auth(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let presented = self.presented(headers);
        if presented == Presented::Worker || (!self.guarded() && presented == Presented::Nothing) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "a worker token is needed (the service's --worker-token)",
            ))
        }
    }
}

fn lease_error(e: StoreError) -> ApiError {
    match e {
        StoreError::LeaseLost(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        e => e.into(),
    }
}

pub(crate) async fn register<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Json(info): Json<WorkerInfo>,
) -> Result<StatusCode, ApiError> {
    if info.id.is_empty() || info.id.len() > 128 || info.platform.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a worker needs an id (at most 128 bytes) and a platform",
        ));
    }
    s.jobs.register(&info).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn heartbeat<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.jobs.worker_seen(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A claim: the worker's platform and profile, the lease it wants, and how
/// long to wait for a job.
#[derive(Deserialize)]
pub(crate) struct Claim {
    platform: String,
    profile: String,
    lease_ms: u64,
    #[serde(default)]
    wait_ms: u64,
}

pub(crate) async fn claim<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
    Json(c): Json<Claim>,
) -> Result<Response, ApiError> {
    let lease = Duration::from_millis(c.lease_ms.clamp(1000, 600_000));
    let deadline = Instant::now() + Duration::from_millis(c.wait_ms.min(30_000));
    loop {
        s.jobs.worker_seen(&id).await?;
        if let Some((lease, job)) = s.jobs.claim(&id, &c.platform, &c.profile, lease).await? {
            return Ok(Json(json!({ "lease": lease, "job": job })).into_response());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        s.jobs.wait_for_work(left.min(Duration::from_secs(1))).await;
    }
}

/// A lease's renewal.
#[derive(Deserialize)]
pub(crate) struct Renew {
    lease: Lease,
    duration_ms: u64,
    progress: Option<String>,
}

pub(crate) async fn renew<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Json(r): Json<Renew>,
) -> Result<StatusCode, ApiError> {
    if r.progress.as_ref().is_some_and(|p| p.len() > 4096) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "progress is at most 4096 bytes",
        ));
    }
    let duration = Duration::from_millis(r.duration_ms.clamp(1000, 600_000));
    s.jobs
        .renew(&r.lease, duration, r.progress.as_deref())
        .await
        .map_err(lease_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The isolation record of a run.
#[derive(Deserialize)]
pub(crate) struct Sandbox {
    lease: Lease,
    sandbox: String,
}

pub(crate) async fn sandbox<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Json(r): Json<Sandbox>,
) -> Result<StatusCode, ApiError> {
    s.jobs
        .record_sandbox(&r.lease, &r.sandbox)
        .await
        .map_err(lease_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A run's end.
#[derive(Deserialize)]
pub(crate) struct Complete {
    lease: Lease,
    outcome: Outcome,
}

pub(crate) async fn complete<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Json(r): Json<Complete>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let written = s.jobs.complete(&r.lease, r.outcome).await?;
    Ok(Json(json!({ "written": written })))
}

pub(crate) async fn upload<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(sha256): Path<String>,
) -> Result<Response, ApiError> {
    // This front end's copy, else (several front ends) the shared one.
    let path = s
        .jobs
        .upload(&sha256, &s.content)
        .await
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, format!("no upload {sha256}")))?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, format!("no upload {sha256}")))?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}
