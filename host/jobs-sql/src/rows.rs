//! Rows as typed structs, read from any database whose driver decodes
//! text and 64-bit integers; and a job row back into a [`Job`].

use std::str::FromStr;

use lpdnn_baas_api::{Group, Job, JobSpec, JobStatus, Run};
use lpdnn_jobs::StoreError;
use lpdnn_jobs::Upload;
use sqlx::{ColumnIndex, Decode, FromRow, Row, Type};

use crate::corrupt;

/// A row of [`crate::job_columns!`].
pub struct JobRow {
    id: String,
    owner: String,
    spec: String,
    status: String,
    result: Option<String>,
    failure: Option<String>,
    message: Option<String>,
    attempts: i64,
    worker: Option<String>,
    created: i64,
    started: Option<i64>,
    finished: Option<i64>,
    retry_of: Option<String>,
    sandbox: Option<String>,
}

/// Every row here reads text, optional text, 64-bit integers and optional
/// ones, by column name.
macro_rules! decodes {
    ($($row:ident { $($field:ident),* $(,)? })*) => {$(
        impl<'r, R: Row> FromRow<'r, R> for $row
        where
            &'r str: ColumnIndex<R>,
            String: Decode<'r, R::Database> + Type<R::Database>,
            Option<String>: Decode<'r, R::Database> + Type<R::Database>,
            i64: Decode<'r, R::Database> + Type<R::Database>,
            Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
        {
            fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
                Ok($row {
                    $($field: row.try_get(stringify!($field))?,)*
                })
            }
        }
    )*};
}

decodes! {
    JobRow {
        id, owner, spec, status, result, failure, message, attempts, worker, created, started,
        finished, retry_of, sandbox,
    }
    CountRow { status, result, failure, n }
    WorkerRow { id, info, seen }
    QueuedRow { id, platform, profile, attempts }
    RunRow { job, attempt, worker, started, ended, outcome, failure }
    UploadRow { sha256, bytes, created, used }
    GroupRow { id, owner, created, cells }
}

impl JobRow {
    /// The job, its words and JSON read back ([`StoreError::Corrupt`] when
    /// they are not what this version writes).
    pub fn into_job(self) -> Result<Job, StoreError> {
        let id = self.id;
        let bad = |e: &dyn std::fmt::Display| corrupt(&id, e);
        let spec: JobSpec = serde_json::from_str(&self.spec).map_err(|e| bad(&e))?;
        Ok(Job {
            owner: self.owner,
            spec,
            status: JobStatus::from_str(&self.status).map_err(|e| bad(&e))?,
            result: words(self.result).map_err(|e| bad(&e))?,
            failure: words(self.failure).map_err(|e| bad(&e))?,
            message: self.message,
            attempts: u32::try_from(self.attempts).map_err(|e| bad(&e))?,
            worker: self.worker,
            created_ms: self.created,
            started_ms: self.started,
            finished_ms: self.finished,
            retry_of: self.retry_of,
            sandbox: self
                .sandbox
                .map(|s| serde_json::from_str(&s))
                .transpose()
                .map_err(|e| bad(&e))?,
            progress: None,
            id,
        })
    }
}

/// An optional stored word as its enum.
pub fn words<T: FromStr>(word: Option<String>) -> Result<Option<T>, T::Err> {
    word.map(|w| T::from_str(&w)).transpose()
}

/// A passed job and its report.
pub struct PassedRow {
    pub job: JobRow,
    pub report: String,
}

impl<'r, R: Row> FromRow<'r, R> for PassedRow
where
    JobRow: FromRow<'r, R>,
    &'r str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(PassedRow {
            job: JobRow::from_row(row)?,
            report: row.try_get("report")?,
        })
    }
}

/// How many jobs have one status, result and failure kind.
pub struct CountRow {
    pub status: String,
    pub result: Option<String>,
    pub failure: Option<String>,
    pub n: i64,
}

/// A registered worker: its id, its `WorkerInfo` as JSON, its last
/// heartbeat (ms).
pub struct WorkerRow {
    pub id: String,
    pub info: String,
    pub seen: i64,
}

/// A queued job whose message is to be published.
pub struct QueuedRow {
    pub id: String,
    pub platform: String,
    pub profile: String,
    pub attempts: i64,
}

/// A run of a job.
pub struct RunRow {
    pub job: String,
    pub attempt: i64,
    pub worker: String,
    pub started: i64,
    pub ended: Option<i64>,
    pub outcome: Option<String>,
    pub failure: Option<String>,
}

impl RunRow {
    /// The run, its words read back.
    pub fn into_run(self) -> Result<Run, StoreError> {
        let bad =
            |e: &dyn std::fmt::Display| corrupt(&self.job, format!("run {}: {e}", self.attempt));
        Ok(Run {
            attempt: u32::try_from(self.attempt).map_err(|e| bad(&e))?,
            end: words(self.outcome).map_err(|e| bad(&e))?,
            failure: words(self.failure).map_err(|e| bad(&e))?,
            started_ms: self.started,
            ended_ms: self.ended,
            worker: self.worker,
        })
    }
}

/// An upload's record.
pub struct UploadRow {
    pub sha256: String,
    pub bytes: i64,
    pub created: i64,
    pub used: i64,
}

impl UploadRow {
    /// The record.
    pub fn into_upload(self) -> Result<Upload, StoreError> {
        Ok(Upload {
            bytes: u64::try_from(self.bytes).map_err(|e| corrupt(&self.sha256, e))?,
            created_ms: self.created,
            used_ms: self.used,
            sha256: self.sha256,
        })
    }
}

/// A job group: its cells as JSON.
pub struct GroupRow {
    pub id: String,
    pub owner: String,
    pub created: i64,
    pub cells: String,
}

impl GroupRow {
    /// The group, its cells read back.
    pub fn into_group(self) -> Result<Group, StoreError> {
        Ok(Group {
            cells: serde_json::from_str(&self.cells).map_err(|e| corrupt(&self.id, e))?,
            owner: self.owner,
            created_ms: self.created,
            id: self.id,
        })
    }
}
