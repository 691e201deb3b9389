//! Benchmark as a Service: the HTTP API.
//!
//! - The seed's route, unchanged: `POST /bonseyes_baas/{platform}/{profile}/{engine}?device=cpu|gpu`
//!   with the model as the body → `202` and `Location: /v1/jobs/{id}`; `?wait=SECONDS` answers
//!   with the result when it is ready in time.
//! - `GET /v1/jobs/{id}`, `GET /v1/jobs/{id}/result`, `POST /v1/jobs/{id}/cancel`,
//!   `GET /v1/devices`, `GET /health`.
//!
//! Everything is checked at upload, before anything is queued: the bearer
//! token (401), the body's size (413), the owner's quota of active jobs
//! (429), the platform, profile and engine (404, listing what exists), and
//! the model's bytes against the engine's formats (422).

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lpdnn_baas_api::{Job, JobOptions, JobSpec, JobStatus, SubjectKind, WorkerInfo};
use lpdnn_engine_api::ModelFormat;
use lpdnn_jobs::{now_ms, ContentStore, JobQueue, JobStore, NewJob, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};

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
}

/// An error answered as JSON `{"error": ...}` with its status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
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
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
            StoreError::Conflict { .. } => ApiError::new(StatusCode::CONFLICT, e.to_string()),
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
    Router::new()
        .route(
            "/bonseyes_baas/{platform}/{profile}/{engine}",
            post(seed_submit::<S>).layer(DefaultBodyLimit::max(limit)),
        )
        .route("/v1/jobs/{id}", get(job::<S>))
        .route("/v1/jobs/{id}/result", get(result::<S>))
        .route("/v1/jobs/{id}/cancel", post(cancel::<S>))
        .route("/v1/devices", get(devices::<S>))
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .with_state(service)
}

/// The seed's engine names (and ours) → ours.
const SEED_ENGINES: &[(&str, &str)] = &[
    ("onnx", "onnxruntime"),
    ("tflite", "litert"),
    ("lpdnn", "lne"),
    ("tensorrt", "tensorrt"),
    ("ncnn", "ncnn"),
    ("acl", "acl"),
];

fn our_engine(name: &str) -> Result<&'static str, ApiError> {
    let offered = || {
        SEED_ENGINES
            .iter()
            .map(|(s, o)| {
                if s == o {
                    s.to_string()
                } else {
                    format!("{s} ({o})")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if name == "tf" {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "engine 'tf' (TensorFlow) is not offered: convert the model to TFLite or ONNX; \
                 offered: {}",
                offered()
            ),
        ));
    }
    SEED_ENGINES
        .iter()
        .find(|(seed, ours)| *seed == name || *ours == name)
        .map(|(_, ours)| *ours)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("unknown engine '{name}'; offered: {}", offered()),
            )
        })
}

#[derive(Deserialize)]
struct SeedQuery {
    device: Option<String>,
    wait: Option<u64>,
}

impl<S: JobStore + JobQueue> Service<S> {
    /// The owner a request's bearer token names (401 without a valid one
    /// when tokens are configured).
    fn owner(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        if self.config.tokens.is_empty() {
            return Ok("anonymous".into());
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        self.config
            .tokens
            .iter()
            .find(|(_, secret)| Some(secret.as_str()) == given)
            .map(|(owner, _)| owner.clone())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "a valid bearer token is needed (Authorization: Bearer TOKEN)",
                )
            })
    }

    /// Workers by platform and profile, with whether any is alive.
    async fn catalog(&self) -> Result<Vec<(WorkerInfo, bool)>, ApiError> {
        let cutoff = now_ms() - self.config.worker_timeout.as_millis() as i64;
        Ok(self
            .jobs
            .workers()
            .await?
            .into_iter()
            .map(|(w, seen)| (w, seen >= cutoff))
            .collect())
    }

    /// The job as the API shows it: a queued job with no live worker of
    /// its platform and profile is `pending_device`, and says so.
    async fn view(&self, mut job: Job) -> Result<Value, ApiError> {
        if job.status == JobStatus::Queued {
            let catalog = self.catalog().await?;
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
        let id = job.id.clone();
        let mut v = serde_json::to_value(job)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        v["links"] = json!({
            "self": format!("/v1/jobs/{id}"),
            "result": format!("/v1/jobs/{id}/result"),
            "cancel": format!("/v1/jobs/{id}/cancel"),
        });
        Ok(v)
    }
}

async fn seed_submit<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path((platform, profile, engine)): Path<(String, String, String)>,
    Query(q): Query<SeedQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let owner = s.owner(&headers)?;
    let engine = our_engine(&engine)?;
    let device = q.device.unwrap_or_else(|| "cpu".into());
    if !["cpu", "gpu", "npu"].contains(&device.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("device '{device}' is not one of cpu, gpu, npu"),
        ));
    }
    // What exists: the platforms and profiles workers registered.
    let catalog = s.catalog().await?;
    let mut exists: BTreeMap<&str, BTreeMap<&str, Vec<&str>>> = BTreeMap::new();
    for (w, _) in &catalog {
        exists
            .entry(&w.platform)
            .or_default()
            .entry(&w.profile)
            .or_default()
            .extend(w.engines.iter().map(|e| e.name.as_str()));
    }
    let profiles = exists.get(platform.as_str()).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "unknown platform '{platform}'; platforms: {}",
                exists.keys().copied().collect::<Vec<_>>().join(", ")
            ),
        )
        .with(json!(exists))
    })?;
    let engines = profiles.get(profile.as_str()).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "unknown profile '{profile}' of platform {platform}; profiles: {}",
                profiles.keys().copied().collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    if !engines.contains(&engine) {
        let mut offered = engines.clone();
        offered.sort();
        offered.dedup();
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "engine {engine} is not offered on {platform}/{profile}; engines there: {}",
                offered.join(", ")
            ),
        ));
    }
    // The bytes, against the engine's formats.
    let format = lpdnn_engine_api::sniff(&body);
    let formats = lpdnn_engines::engine(engine)
        .map(|e| e.formats().to_vec())
        .unwrap_or_default();
    if format == ModelFormat::Unknown {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the body ({} bytes) is not a model this service recognises (ONNX, TFLite)",
                body.len()
            ),
        ));
    }
    if !formats.contains(&format) || !matches!(format, ModelFormat::Onnx | ModelFormat::TfLite) {
        let takes: Vec<String> = formats.iter().map(ToString::to_string).collect();
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the model is {format}; engine {engine} takes {{{}}} (NCNN models come with \
                 their .bin in an app bundle)",
                takes.join(", ")
            ),
        ));
    }
    if s.jobs.active_for(&owner).await? >= s.config.quota {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{owner} has {} jobs queued or running, the most allowed; wait for one to end",
                s.config.quota
            ),
        ));
    }
    let (sha256, _) = s
        .content
        .put(&body)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let job = s
        .jobs
        .submit(NewJob {
            spec: JobSpec {
                platform,
                profile,
                engine: engine.into(),
                device,
                subject: SubjectKind::Model,
                sha256,
                format: format.to_string(),
                options: JobOptions::default(),
            },
            owner,
            max_attempts: s.config.max_attempts,
            queue_ttl: s.config.queue_ttl,
            retry_of: None,
        })
        .await?;
    let id = job.id.clone();
    let location = format!("/v1/jobs/{id}");
    if let Some(wait) = q.wait {
        let deadline = Instant::now() + Duration::from_secs(wait.min(600));
        while Instant::now() < deadline {
            let job = s.jobs.get(&id).await?;
            if matches!(job.status, JobStatus::Completed | JobStatus::Cancelled) {
                let report = s.jobs.report(&id).await?;
                let mut body = json!({ "job": s.view(job).await? });
                if let Some(r) = report {
                    body["result"] = serde_json::from_str(&r).unwrap_or(Value::Null);
                }
                return Ok(
                    (StatusCode::OK, [(header::LOCATION, location)], Json(body)).into_response()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let job = s.jobs.get(&id).await?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(json!({ "job": s.view(job).await? })),
    )
        .into_response())
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

async fn job<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let job = s.owned(&headers, &id).await?;
    Ok(Json(s.view(job).await?))
}

async fn result<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job = s.owned(&headers, &id).await?;
    match s.jobs.report(&id).await? {
        Some(report) => Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            report,
        )
            .into_response()),
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

async fn cancel<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    s.owned(&headers, &id).await?;
    let job = s.jobs.cancel(&id).await?;
    Ok(Json(s.view(job).await?))
}

async fn devices<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
) -> Result<Json<Value>, ApiError> {
    let mut out = Vec::new();
    for (w, alive) in s.catalog().await? {
        let depth = s.jobs.queued_for(&w.platform, &w.profile).await?;
        out.push(json!({
            "worker": w.id,
            "platform": w.platform,
            "profile": w.profile,
            "version": w.version,
            "engines": w.engines,
            "available": alive,
            "queue_depth": depth,
        }));
    }
    Ok(Json(json!({ "devices": out })))
}
