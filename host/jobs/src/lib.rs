//! Benchmark as a Service: where jobs wait and what they became.
//!
//! - [`JobStore`]: submit, look up, cancel and retry jobs, register workers,
//!   read completed reports (the profiling dataset).
//! - [`JobQueue`]: a worker claims **one** job at a time under a lease,
//!   renews it while it runs, and completes it once. A lease that lapses
//!   (the worker died) puts the job back in the queue; after
//!   `max_attempts` runs it fails as `infra_error`. A result is written
//!   once per job, whatever the retries: completing needs the lease.
//! - [`ContentStore`]: uploaded files on disk by SHA-256 (never database
//!   blobs); the same model uploaded twice is stored once.
//!
//! This crate holds the contract only, no database: `lpdnn-jobs-sqlite`
//! implements both traits on an embedded SQLite file; a later back end
//! implements them again on NATS JetStream and PostgreSQL. A back end's
//! own errors reach callers as [`StoreError::Backend`], cause kept.

#![warn(missing_docs)]

mod content;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use content::ContentStore;
pub use lpdnn_baas_api::{
    Cell, FailureKind, Group, GroupCell, Job, JobResult, JobSpec, JobStatus, Run, RunEnd,
    WorkerInfo,
};

/// Errors of a store or queue.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The back end (its database, its server) failed.
    #[error("job store: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored value is not what this version writes.
    #[error("job store: job {id}: {message}")]
    Corrupt {
        /// The job.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// No job has this id.
    #[error("no job {0}")]
    NotFound(String),
    /// The job is not in a state that allows this (e.g. cancelling a
    /// completed job).
    #[error("job {id} is {status}: {message}")]
    Conflict {
        /// The job.
        id: String,
        /// Its status.
        status: JobStatus,
        /// Why the operation is refused.
        message: String,
    },
    /// The lease is no longer held: it lapsed and another worker took the
    /// job, or the job was cancelled. The worker must stop.
    #[error("job {0}: the lease is lost (lapsed, or the job was cancelled)")]
    LeaseLost(String),
    /// A file of the content store could not be written or read.
    #[error("content store: {0}")]
    Io(#[from] std::io::Error),
    /// The owner has as many active jobs as allowed.
    #[error("{owner} has {quota} jobs queued or running, the most allowed; wait for one to end")]
    Quota {
        /// The owner.
        owner: String,
        /// Active jobs allowed.
        quota: u64,
    },
    /// A remote job service failed or refused the call.
    #[error("job service: {0}")]
    Remote(String),
}

/// A new job: its spec and who asked.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// What to run.
    pub spec: JobSpec,
    /// The submitter (a token's name), for quotas.
    pub owner: String,
    /// Runs before a job whose workers keep dying fails as `infra_error`.
    pub max_attempts: u32,
    /// How long it may wait in the queue before it fails as `timeout`.
    pub queue_ttl: Duration,
    /// The job this one retries.
    pub retry_of: Option<String>,
    /// Refuse it ([`StoreError::Quota`]) when the owner already has this
    /// many jobs queued or running (checked and queued in one step).
    pub quota: Option<u64>,
}

/// A sweep's cell to store: a job to queue, or the reason it cannot run.
#[derive(Debug, Clone)]
pub enum NewCell {
    /// Queue this job for the cell.
    Queued(Cell, Box<NewJob>),
    /// Keep the cell with why it was refused.
    Refused(Cell, String),
}

/// A new job group (a sweep): its jobs are queued together or not at all.
#[derive(Debug, Clone)]
pub struct NewGroup {
    /// The submitter.
    pub owner: String,
    /// Its cells, in order.
    pub cells: Vec<NewCell>,
}

/// A worker's hold on a job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Lease {
    /// The job.
    pub job: String,
    /// Which run of the job this is (from 1).
    pub attempt: u32,
    /// The worker holding it.
    pub worker: String,
}

/// How a run ended, as the worker reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// The benchmark's report (JSON text).
    Passed {
        /// The report.
        report: String,
    },
    /// The run failed.
    Failed {
        /// Whose fault.
        kind: FailureKind,
        /// Why, for the user.
        message: String,
    },
}

/// An uploaded file as the store records it (its bytes are in a
/// [`ContentStore`] or a queue's object store, never in the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// Its SHA-256 (hex).
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
    /// When it was first uploaded (ms since the Unix epoch).
    pub created_ms: i64,
    /// When a job last named it.
    pub used_ms: i64,
}

/// Jobs of one status, result and failure kind: how many.
pub type Count = (JobStatus, Option<JobResult>, Option<FailureKind>, u64);

/// Submitting and reading jobs, and the worker registry.
pub trait JobStore: Send + Sync + 'static {
    /// Queues a job; gives it as stored.
    fn submit(&self, job: NewJob) -> impl Future<Output = Result<Job, StoreError>> + Send;
    /// Queues a sweep's jobs and records its group, in one transaction:
    /// when one job would pass its owner's quota, none is queued.
    fn submit_group(
        &self,
        group: NewGroup,
    ) -> impl Future<Output = Result<Group, StoreError>> + Send;
    /// The group of that id.
    fn group(&self, id: &str) -> impl Future<Output = Result<Group, StoreError>> + Send;
    /// The job of that id.
    fn get(&self, id: &str) -> impl Future<Output = Result<Job, StoreError>> + Send;
    /// The report of a passed job.
    fn report(&self, id: &str) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// The latest progress a worker reported for a running job.
    fn progress(&self, id: &str)
        -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Cancels a queued or running job (the worker sees its lease lost).
    fn cancel(&self, id: &str) -> impl Future<Output = Result<Job, StoreError>> + Send;
    /// Jobs of `owner` still waiting or running (for quotas).
    fn active_for(&self, owner: &str) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// The latest `limit` jobs of `owner`, newest first.
    fn jobs_of(
        &self,
        owner: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Job>, StoreError>> + Send;
    /// Jobs waiting for `platform`/`profile` (the queue depth).
    fn queued_for(
        &self,
        platform: &str,
        profile: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Passed jobs finished at or after `since_ms`, with their reports,
    /// oldest first (the profiling dataset).
    fn passed_since(
        &self,
        since_ms: i64,
    ) -> impl Future<Output = Result<Vec<(Job, String)>, StoreError>> + Send;
    /// How many jobs there are of each status, result and failure kind.
    fn counts(&self) -> impl Future<Output = Result<Vec<Count>, StoreError>> + Send;
    /// Every worker ever registered, with its last heartbeat (ms).
    fn workers(&self) -> impl Future<Output = Result<Vec<(WorkerInfo, i64)>, StoreError>> + Send;
    /// The runs of job `id`, first first (none for a job never taken).
    fn runs(&self, id: &str) -> impl Future<Output = Result<Vec<Run>, StoreError>> + Send;
    /// Records that a job names the upload `sha256` of `bytes` bytes: its
    /// first upload, or its latest use.
    fn record_upload(
        &self,
        sha256: &str,
        bytes: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The record of the upload `sha256`.
    fn upload_record(
        &self,
        sha256: &str,
    ) -> impl Future<Output = Result<Option<Upload>, StoreError>> + Send;
}

/// Claiming, renewing and completing jobs.
pub trait JobQueue: Send + Sync + 'static {
    /// Takes the oldest queued job of `platform`/`profile` under a lease of
    /// `lease` (first returning lapsed leases to the queue and failing jobs
    /// past their queue time-to-live); `None` when there is none.
    fn claim(
        &self,
        worker: &str,
        platform: &str,
        profile: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Option<(Lease, Job)>, StoreError>> + Send;
    /// Renews the lease for `lease` more and records the run's progress;
    /// [`StoreError::LeaseLost`] if it lapsed or the job was cancelled.
    fn renew(
        &self,
        lease: &Lease,
        duration: Duration,
        progress: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Records which isolation measures applied to the run (JSON).
    fn record_sandbox(
        &self,
        lease: &Lease,
        sandbox: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Writes the outcome, once: `Ok(false)` (and nothing written) when the
    /// lease was lost meanwhile.
    fn complete(
        &self,
        lease: &Lease,
        outcome: Outcome,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Waits until a job may have been queued, or `timeout`.
    fn wait_for_work(&self, timeout: Duration) -> impl Future<Output = ()> + Send;
    /// Records a worker (again) and its heartbeat.
    fn register(&self, worker: &WorkerInfo) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// A worker's heartbeat.
    fn worker_seen(&self, worker: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The path of a job's upload in `cache`, fetched into it first when
    /// the queue is remote (and checked against its SHA-256).
    fn upload(
        &self,
        sha256: &str,
        cache: &ContentStore,
    ) -> impl Future<Output = Result<PathBuf, StoreError>> + Send;
}

/// How a claim of one job by its id ended ([`DispatchStore::claim_job`]).
#[derive(Debug, Clone)]
pub enum Claimed {
    /// The worker holds it now.
    Taken(Lease, Box<Job>),
    /// Another worker holds it under a live lease: this delivery is spare.
    Held,
    /// It ended (completed or cancelled): nothing to run.
    Ended(JobStatus),
    /// It had all its runs: it is now recorded as `infra_error`.
    Exhausted,
}

/// A queued job whose message is to be published (again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undispatched {
    /// The job.
    pub id: String,
    /// Its platform.
    pub platform: String,
    /// Its profile.
    pub profile: String,
    /// The runs it has had (a message's id is `{id}.{attempts}`).
    pub attempts: u32,
}

/// What a queue that hands out job ids (a NATS JetStream stream) needs of
/// the store, which stays the truth: a delivery is only a hint that a job
/// may be waiting; the store decides who runs it.
pub trait DispatchStore: JobStore + JobQueue {
    /// Takes job `id` for `worker` under a lease: when it is queued, or
    /// running on a lease that lapsed, and has runs left.
    fn claim_job(
        &self,
        worker: &str,
        id: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Claimed, StoreError>> + Send;
    /// Ends lapsed leases (the job queued again, or failed as
    /// `infra_error` after its last run) and queue times; then gives the
    /// queued jobs whose message is not known to be published, submitted
    /// before `before_ms`, at most `limit`.
    fn reconcile(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Undispatched>, StoreError>> + Send;
    /// Records that the message of job `id` at `attempts` runs is published.
    fn dispatched(
        &self,
        id: &str,
        attempts: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
