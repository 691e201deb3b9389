//! Benchmark as a Service: the HTTP API.
//!
//! - The seed's route, unchanged: `POST /bonseyes_baas/{platform}/{profile}/{engine}?device=cpu|gpu`
//!   with the model as the body → `202` and `Location: /v1/jobs/{id}`; `?wait=SECONDS` answers
//!   with the result when it is ready in time.
//! - `POST /v1/jobs` (multipart: a model or an app bundle, and options),
//!   `GET /v1/jobs/{id}`, `GET /v1/jobs/{id}/events` (server-sent progress),
//!   `GET /v1/jobs/{id}/result?format=json|csv|html`, `POST /v1/jobs/{id}/cancel`,
//!   `POST /v1/jobs/{id}/retry`, `GET /v1/jobs` (the caller's jobs), `GET /v1/devices`,
//!   `GET /v1/export?format=csv|jsonl&since=` (the profiling dataset), `GET /health`,
//!   `GET /metrics` (Prometheus).
//!
//! Everything is checked at upload, before anything is queued: the bearer
//! token (401), the body's size (413), the owner's quota of active jobs
//! (429), the platform, profile and engine (404, listing what exists), the
//! device (422, naming those offered), and the model's bytes against the
//! engine's formats (422).
//!
//! With tokens configured, only `/health`, `/openapi.json` and the page
//! are public; a request that presents a token that is not one of the
//! service's gets `401` on every route, public ones included. Tokens are
//! compared by SHA-256 digest in constant time.

#![warn(missing_docs)]

pub mod dataset;
mod events;
mod metrics;
mod openapi;
mod submit;
mod workers;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lpdnn_baas_api::{Job, JobStatus, WorkerInfo};
use lpdnn_jobs::{now_ms, ContentStore, JobQueue, JobStore, NewJob, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};

pub use metrics::Counters;

/// The service's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Bearer tokens, `(owner, secret)`; none: no authentication (loopback only).
    pub tokens: Vec<(String, String)>,
    /// Largest upload, bytes.
    pub max_upload_bytes: usize,
    /// Active (queued or running) jobs per owner.
    pub quota: u64,
    /// How long a job may wait for a worker.
    pub queue_ttl: Duration,
    /// Runs before a job whose workers keep dying fails.
    pub max_attempts: u32,
    /// A worker not heard from for this long is absent.
    pub worker_timeout: Duration,
    /// Bearer tokens of remote workers (`lpdnn-host worker --token`).
    pub worker_tokens: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tokens: Vec::new(),
            max_upload_bytes: 256 << 20,
            quota: 64,
            queue_ttl: Duration::from_secs(24 * 3600),
            max_attempts: 3,
            worker_timeout: Duration::from_secs(30),
            worker_tokens: Vec::new(),
        }
    }
}

/// The service: a store, a queue and the uploaded files.
pub struct Service<S> {
    /// Jobs and workers.
    pub jobs: Arc<S>,
    /// Uploaded models.
    pub content: ContentStore,
    /// Settings.
    pub config: Config,
    /// What the server counts for `/metrics`.
    pub counters: Counters,
    /// The users' tokens as `(owner, SHA-256 of the secret)`.
    user_keys: Vec<(String, [u8; 32])>,
    /// The workers' tokens, SHA-256 of each.
    worker_keys: Vec<[u8; 32]>,
    /// Bundle checks running at once (each takes a CPU while it inflates).
    pub(crate) bundle_checks: tokio::sync::Semaphore,
}

impl<S> Service<S> {
    /// A service over `jobs` and `content`.
    pub fn new(jobs: Arc<S>, content: ContentStore, config: Config) -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        Service {
            jobs,
            content,
            user_keys: config
                .tokens
                .iter()
                .map(|(owner, secret)| (owner.clone(), digest(secret)))
                .collect(),
            worker_keys: config.worker_tokens.iter().map(|t| digest(t)).collect(),
            config,
            counters: Counters::default(),
            bundle_checks: tokio::sync::Semaphore::new(cpus),
        }
    }
}

/// The SHA-256 of a secret: tokens are compared by digest, so that
/// neither their bytes nor their length show in an answer's timing.
fn digest(secret: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(secret.as_bytes()).into()
}

/// The token a request presents, as the service knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Presented {
    /// No `Authorization` header.
    Nothing,
    /// A user's token: its owner.
    User(String),
    /// A worker's token.
    Worker,
    /// Something that is none of the service's tokens.
    Invalid,
}

/// An error answered as JSON `{"error": ...}` with its status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    pub(crate) message: String,
    details: Option<Value>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            details: None,
        }
    }

    fn with(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
            StoreError::Conflict { .. } => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            StoreError::Quota { .. } => ApiError::new(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
            e => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let Some(d) = self.details {
            body["details"] = d;
        }
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("valid"));
        }
        response
    }
}

/// The API's routes over `service`.
pub fn router<S: JobStore + JobQueue>(service: Arc<Service<S>>) -> Router {
    let limit = service.config.max_upload_bytes;
    let uploads = Router::new()
        .route(
            "/bonseyes_baas/{platform}/{profile}/{engine}",
            post(submit::seed_submit::<S>),
        )
        .route("/v1/jobs", post(submit::submit::<S>))
        .layer(DefaultBodyLimit::max(limit))
        .route_layer(axum::middleware::from_fn_with_state(
            service.clone(),
            count_uploads::<S>,
        ));
    // Every other route: a token that is presented must be valid (the
    // uploads check theirs in `count_uploads`, where the answer is counted).
    let rest = Router::new()
        .route("/v1/jobs", get(list::<S>))
        .route("/v1/jobs/{id}", get(job::<S>))
        .route("/v1/jobs/{id}/events", get(events::events::<S>))
        .route("/v1/jobs/{id}/result", get(result::<S>))
        .route("/v1/jobs/{id}/cancel", post(cancel::<S>))
        .route("/v1/jobs/{id}/retry", post(retry::<S>))
        .route("/v1/devices", get(devices::<S>))
        .route("/v1/export", get(export::<S>))
        .merge(workers::routes(service.clone()))
        .route("/metrics", get(metrics::<S>))
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .route("/", get(page))
        .route_layer(axum::middleware::from_fn_with_state(
            service.clone(),
            valid_token::<S>,
        ));
    Router::new().merge(uploads).merge(rest).with_state(service)
}

/// `401` for a request that presents a token that is not one of the
/// service's, whatever the route (public ones too).
async fn valid_token<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    request: Request,
    next: Next,
) -> Response {
    if s.presented(request.headers()) == Presented::Invalid {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the bearer token is not valid here (Authorization: Bearer TOKEN)",
        )
        .into_response();
    }
    next.run(request).await
}

/// Before an upload's body is read: its token (401) and its owner's quota
/// (429). After: its answer is counted for `/metrics`.
async fn count_uploads<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    request: Request,
    next: Next,
) -> Response {
    // The token is read first: the request's body must not be held
    // across an await.
    let owner = s.owner(request.headers());
    let early = async {
        let owner = owner?;
        if s.jobs.active_for(&owner).await? >= s.config.quota {
            return Err(ApiError::from(StoreError::Quota {
                owner,
                quota: s.config.quota,
            }));
        }
        Ok(())
    };
    let response = match early.await {
        Ok(()) => next.run(request).await,
        Err(e) => {
            // Read what the client sends, keeping none of it, so that it
            // hears the answer rather than a reset connection.
            use futures_util::StreamExt;
            let mut body = request.into_body().into_data_stream();
            let mut read = 0usize;
            while let Some(Ok(chunk)) = body.next().await {
                read += chunk.len();
                if read > s.config.max_upload_bytes {
                    break;
                }
            }
            e.into_response()
        }
    };
    s.counters.upload(response.status().as_u16());
    response
}

impl<S> Service<S> {
    /// Whether any token is configured (no token: a loopback service where
    /// nothing is checked and every job is `anonymous`'s).
    fn guarded(&self) -> bool {
        !(self.user_keys.is_empty() && self.worker_keys.is_empty())
    }

    /// Which of the service's tokens the request presents. Every token is
    /// compared, by digest, in constant time.
    fn presented(&self, headers: &HeaderMap) -> Presented {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Presented::Nothing;
        };
        if !self.guarded() {
            // Nothing is checked: a stale token does no harm.
            return Presented::Nothing;
        }
        let given = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| digest(token.trim()));
        let Some(given) = given else {
            return Presented::Invalid;
        };
        let mut found = Presented::Invalid;
        for (owner, key) in &self.user_keys {
            if constant_time_eq::constant_time_eq_32(key, &given) && found == Presented::Invalid {
                found = Presented::User(owner.clone());
            }
        }
        for key in &self.worker_keys {
            if constant_time_eq::constant_time_eq_32(key, &given) && found == Presented::Invalid {
                found = Presented::Worker;
            }
        }
        found
    }

    /// The owner a request's bearer token names (401 without a valid
    /// user's token when tokens are configured).
    fn owner(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        match self.presented(headers) {
            Presented::User(owner) => Ok(owner),
            Presented::Nothing if self.config.tokens.is_empty() => Ok("anonymous".into()),
            Presented::Worker => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "a worker's token opens only the workers' routes; give a user's token \
                 (Authorization: Bearer TOKEN)",
            )),
            _ => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is needed (Authorization: Bearer TOKEN)",
            )),
        }
    }

    /// For the service-wide reads (`/v1/devices`, `/metrics`): with tokens
    /// configured, a user's or a worker's token (401 otherwise).
    fn reader(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        match self.presented(headers) {
            Presented::User(_) | Presented::Worker => Ok(()),
            Presented::Nothing if !self.guarded() => Ok(()),
            _ => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is needed (Authorization: Bearer TOKEN): the catalog \
                 and the metrics describe the machines and everyone's jobs",
            )),
        }
    }
}

impl<S: JobStore + JobQueue> Service<S> {
    /// Workers by platform and profile, with whether any is alive.
    async fn catalog(&self) -> Result<Vec<(WorkerInfo, bool)>, ApiError> {
        Ok(self
            .heard()
            .await?
            .into_iter()
            .map(|(w, _, alive)| (w, alive))
            .collect())
    }

    /// Workers with their last heartbeat (ms) and whether they are alive.
    async fn heard(&self) -> Result<Vec<(WorkerInfo, i64, bool)>, ApiError> {
        let cutoff = now_ms() - self.config.worker_timeout.as_millis() as i64;
        Ok(self
            .jobs
            .workers()
            .await?
            .into_iter()
            .map(|(w, seen)| (w, seen, seen >= cutoff))
            .collect())
    }

    /// The job as the API shows it: a queued job with no live worker of
    /// its platform and profile is `pending_device`, and says so.
    async fn view(&self, job: Job) -> Result<Value, ApiError> {
        let catalog = if job.status == JobStatus::Queued {
            self.catalog().await?
        } else {
            Vec::new()
        };
        self.view_in(job, &catalog).await
    }

    /// [`Service::view`] against a catalog already read.
    async fn view_in(
        &self,
        mut job: Job,
        catalog: &[(WorkerInfo, bool)],
    ) -> Result<Value, ApiError> {
        if job.status == JobStatus::Queued {
            let alive = catalog.iter().any(|(w, alive)| {
                *alive && w.platform == job.spec.platform && w.profile == job.spec.profile
            });
            if !alive {
                job.status = JobStatus::PendingDevice;
                job.message = Some(format!(
                    "no worker of platform {}, profile {} is connected; the job waits for one",
                    job.spec.platform, job.spec.profile
                ));
            }
        }
        if job.status == JobStatus::Running {
            job.progress = self
                .jobs
                .progress(&job.id)
                .await?
                .and_then(|p| serde_json::from_str(&p).ok());
        }
        let id = job.id.clone();
        let mut v = serde_json::to_value(job)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        v["links"] = json!({
            "self": format!("/v1/jobs/{id}"),
            "result": format!("/v1/jobs/{id}/result"),
            "events": format!("/v1/jobs/{id}/events"),
            "cancel": format!("/v1/jobs/{id}/cancel"),
            "retry": format!("/v1/jobs/{id}/retry"),
        });
        Ok(v)
    }
}

impl<S: JobStore + JobQueue> Service<S> {
    /// The job, if the request's token owns it: with tokens configured, a
    /// job of another owner is answered as absent (`404`), so ids reveal
    /// nothing.
    async fn owned(&self, headers: &HeaderMap, id: &str) -> Result<Job, ApiError> {
        let owner = self.owner(headers)?;
        let job = self.jobs.get(id).await?;
        if !self.config.tokens.is_empty() && job.owner != owner {
            return Err(StoreError::NotFound(id.to_owned()).into());
        }
        Ok(job)
    }
}

/// A job: status, result, failure, attempts, worker, isolation, progress.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "the job's id")),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody)))]
async fn job<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let job = s.owned(&headers, &id).await?;
    Ok(Json(s.view(job).await?))
}

/// `GET /v1/jobs`'s query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
}

/// Most jobs `GET /v1/jobs` gives at once, and how many without `limit`.
const LIST_MAX: u32 = 1000;
const LIST_DEFAULT: u32 = 50;

/// The caller's jobs (its token's owner; `anonymous` without tokens),
/// newest first.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs",
    params(("limit" = Option<u32>, Query, description = "at most this many (default 50, 1 to 1000)")),
    responses((status = 200, body = lpdnn_baas_api::JobList), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "limit out of range")))]
async fn list<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let owner = s.owner(&headers)?;
    let limit = q.limit.unwrap_or(LIST_DEFAULT);
    if !(1..=LIST_MAX).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("limit must lie in 1..={LIST_MAX}, not {limit}"),
        ));
    }
    let jobs = s.jobs.jobs_of(&owner, limit).await?;
    let catalog = if jobs.iter().any(|j| j.status == JobStatus::Queued) {
        s.catalog().await?
    } else {
        Vec::new()
    };
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        out.push(s.view_in(job, &catalog).await?);
    }
    Ok(Json(json!({ "jobs": out })))
}

/// `?format=` of a result.
#[derive(Deserialize)]
struct ResultQuery {
    format: Option<String>,
}

/// A passed job's report.
#[utoipa::path(get, path = "/v1/jobs/{id}/result", tag = "jobs",
    params(("id" = String, Path, description = "the job's id"),
           ("format" = Option<String>, Query, description = "json (default), csv or html")),
    responses((status = 200, description = "the report: the JSON of `benchmark --filename` \
        (schemas/benchmark.schema.json), its per-stage CSV, or its HTML"),
        (status = 409, body = ErrorBody, description = "the job has no result (yet)")))]
async fn result<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
    Query(q): Query<ResultQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job = s.owned(&headers, &id).await?;
    let format = q.format.as_deref().unwrap_or("json");
    if !["json", "csv", "html"].contains(&format) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("format '{format}' is not one of json, csv, html"),
        ));
    }
    match s.jobs.report(&id).await? {
        Some(report) if format == "json" => Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            report,
        )
            .into_response()),
        Some(report) => {
            let report: lpdnn_report::Report = serde_json::from_str(&report)
                .map_err(|e| ApiError::internal(format!("job {id}'s report: {e}")))?;
            Ok(if format == "csv" {
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
                    lpdnn_report::anchor_csv(&report),
                )
                    .into_response()
            } else {
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    lpdnn_report::html_report(&report),
                )
                    .into_response()
            })
        }
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "job {id} has no result: it is {}{}",
                job.status,
                job.message.map(|m| format!(" ({m})")).unwrap_or_default()
            ),
        )),
    }
}

/// Cancels a queued or running job.
#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", tag = "jobs", params(("id" = String, Path, description = "the job's id")),
    responses((status = 200, body = Job), (status = 409, body = ErrorBody)))]
async fn cancel<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    s.owned(&headers, &id).await?;
    let job = s.jobs.cancel(&id).await?;
    Ok(Json(s.view(job).await?))
}

/// The live catalog of workers.
#[utoipa::path(get, path = "/v1/devices", tag = "devices",
    responses((status = 200, description = "`{\"devices\": [...]}`: per worker its platform, profile, \
        version, engines, availability, queue depth and last heartbeat"),
        (status = 401, body = ErrorBody, description = "tokens are configured and none valid was given")))]
async fn devices<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    s.reader(&headers)?;
    let mut out = Vec::new();
    let now = now_ms();
    for (w, seen, alive) in s.heard().await? {
        let depth = s.jobs.queued_for(&w.platform, &w.profile).await?;
        let at = std::time::UNIX_EPOCH + Duration::from_millis(seen.max(0) as u64);
        out.push(json!({
            "worker": w.id,
            "platform": w.platform,
            "profile": w.profile,
            "version": w.version,
            "engines": w.engines,
            "machine": w.machine,
            "descriptor": w.descriptor,
            "available": alive,
            "queue_depth": depth,
            "last_seen": humantime::format_rfc3339_seconds(at).to_string(),
            "seconds_since_seen": ((now - seen).max(0) as f64 / 1e3).round(),
        }));
    }
    Ok(Json(json!({ "devices": out })))
}

/// Runs a finished job again as a new job (`retry_of` names this one).
/// Runs a finished job again as a new job.
#[utoipa::path(post, path = "/v1/jobs/{id}/retry", tag = "jobs", params(("id" = String, Path, description = "the job's id")),
    responses((status = 202, body = Accepted), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn retry<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let old = s.owned(&headers, &id).await?;
    if !matches!(old.status, JobStatus::Completed | JobStatus::Cancelled) {
        return Err(StoreError::Conflict {
            id,
            status: old.status,
            message: "only a completed or cancelled job can be retried".into(),
        }
        .into());
    }
    let job = s
        .jobs
        .submit(NewJob {
            spec: old.spec,
            owner: old.owner,
            max_attempts: s.config.max_attempts,
            queue_ttl: s.config.queue_ttl,
            retry_of: Some(id),
            quota: Some(s.config.quota),
        })
        .await?;
    s.answer(job, None).await
}

/// `?format=csv|jsonl&since=` of the export.
#[derive(Deserialize)]
struct ExportQuery {
    format: Option<String>,
    since: Option<String>,
}

/// The profiling dataset: a row per passed job finished at or after
/// `since` (RFC 3339, or milliseconds since the epoch).
/// The profiling dataset.
#[utoipa::path(get, path = "/v1/export", tag = "dataset",
    params(("format" = Option<String>, Query, description = "csv (default) or jsonl"),
           ("since" = Option<String>, Query, description = "RFC 3339, or ms since 1970")),
    responses((status = 200, description = "one row per passed job (columns: docs/baas.md)")))]
async fn export<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Query(q): Query<ExportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    s.owner(&headers)?;
    let format = q.format.as_deref().unwrap_or("csv");
    if !["csv", "jsonl"].contains(&format) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("format '{format}' is not one of csv, jsonl"),
        ));
    }
    let since = match q.since.as_deref() {
        None | Some("") => 0,
        Some(t) => t.parse::<i64>().or_else(|_| {
            humantime::parse_rfc3339_weak(t)
                .map(|t| {
                    t.duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as i64)
                })
                .map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "since '{t}': give a time as 2026-11-30T12:00:00Z or milliseconds \
                             since 1970 ({e})"
                        ),
                    )
                })
        })?,
    };
    let mut rows = Vec::new();
    for (job, report) in s.jobs.passed_since(since).await? {
        let Ok(report) = serde_json::from_str::<lpdnn_report::Report>(&report) else {
            continue;
        };
        if let Some(row) = dataset::row(&job, &report) {
            let ops = report.runs[0]
                .static_metrics
                .as_ref()
                .map(|m| m.operators.clone())
                .unwrap_or_default();
            rows.push((row, ops));
        }
    }
    let (kind, body) = if format == "csv" {
        let rows: Vec<_> = rows.into_iter().map(|(r, _)| r).collect();
        (
            "text/csv; charset=utf-8",
            dataset::csv(&rows).map_err(|e| ApiError::internal(e.to_string()))?,
        )
    } else {
        ("application/x-ndjson", dataset::jsonl(&rows))
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"lpdnn-profiling.{format}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// The service's metrics for Prometheus.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "OpenMetrics text"),
        (status = 401, body = ErrorBody, description = "tokens are configured and none valid was given")))]
async fn metrics<S: JobStore + JobQueue>(
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
async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        include_str!("page/index.html"),
    )
        .into_response()
}

/// Whether the service answers.
#[utoipa::path(get, path = "/health", tag = "service",
    responses((status = 200, description = "`{\"status\": \"ok\"}`")))]
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// This API's OpenAPI 3.1 description, made from the handlers' annotations
/// and the shared types.
async fn openapi() -> Response {
    use utoipa::OpenApi;
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi::ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_default(),
    )
        .into_response()
}

/// An error's body.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct ErrorBody {
    /// What is wrong, in words.
    error: String,
    /// What exists, when the error is about a name (platforms, profiles).
    #[schema(value_type = Option<Object>)]
    details: Option<Value>,
}

/// An accepted upload's body (`200` with `wait` adds the result).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct Accepted {
    /// The job.
    job: Job,
    /// With `wait`, the report when the job ended in time.
    #[schema(value_type = Option<Object>)]
    result: Option<Value>,
}
