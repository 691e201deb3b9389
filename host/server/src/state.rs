//! The service's state: its settings, store, uploads and tokens; who a
//! request's token says it is; the job as the API shows it.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode};
use lpdnn_baas_api::{Job, JobStatus, JobView, WorkerInfo};
use lpdnn_jobs::{now_ms, ContentStore, JobQueue, JobStore, StoreError};

use crate::error::ApiError;
use crate::metrics::Counters;

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
pub(crate) enum Presented {
    /// No `Authorization` header.
    Nothing,
    /// A user's token: its owner.
    User(String),
    /// A worker's token.
    Worker,
    /// Something that is none of the service's tokens.
    Invalid,
}

impl<S> Service<S> {
    /// Whether any token is configured (no token: a loopback service where
    /// nothing is checked and every job is `anonymous`'s).
    pub(crate) fn guarded(&self) -> bool {
        !(self.user_keys.is_empty() && self.worker_keys.is_empty())
    }

    /// Which of the service's tokens the request presents. Every token is
    /// compared, by digest, in constant time.
    pub(crate) fn presented(&self, headers: &HeaderMap) -> Presented {
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
    pub(crate) fn owner(&self, headers: &HeaderMap) -> Result<String, ApiError> {
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
    pub(crate) fn reader(&self, headers: &HeaderMap) -> Result<(), ApiError> {
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
    pub(crate) async fn catalog(&self) -> Result<Vec<(WorkerInfo, bool)>, ApiError> {
        Ok(self
            .heard()
            .await?
            .into_iter()
            .map(|(w, _, alive)| (w, alive))
            .collect())
    }

    /// Workers with their last heartbeat (ms) and whether they are alive.
    pub(crate) async fn heard(&self) -> Result<Vec<(WorkerInfo, i64, bool)>, ApiError> {
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
    pub(crate) async fn view(&self, job: Job) -> Result<JobView, ApiError> {
        let catalog = if job.status == JobStatus::Queued {
            self.catalog().await?
        } else {
            Vec::new()
        };
        self.view_in(job, &catalog).await
    }

    /// [`Service::view`] against a catalog already read.
    pub(crate) async fn view_in(
        &self,
        mut job: Job,
        catalog: &[(WorkerInfo, bool)],
    ) -> Result<JobView, ApiError> {
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
        Ok(JobView::from(job))
    }
}

impl<S: JobStore + JobQueue> Service<S> {
    /// The job, if the request's token owns it: with tokens configured, a
    /// job of another owner is answered as absent (`404`), so ids reveal
    /// nothing.
    pub(crate) async fn owned(&self, headers: &HeaderMap, id: &str) -> Result<Job, ApiError> {
        let owner = self.owner(headers)?;
        let job = self.jobs.get(id).await?;
        if !self.config.tokens.is_empty() && job.owner != owner {
            return Err(StoreError::NotFound(id.to_owned()).into());
        }
        Ok(job)
    }
}
