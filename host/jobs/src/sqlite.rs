//! The embedded back end: one SQLite file through sqlx.
//!
//! WAL journal, `synchronous=NORMAL`, a busy timeout; every write goes
//! through one connection (so a transaction never upgrades from reader to
//! writer and meets `SQLITE_BUSY`), reads through a pool beside it. A
//! [`tokio::sync::Notify`] wakes waiting workers when a job is queued.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lpdnn_baas_api::{FailureKind, Job, JobResult, JobSpec, JobStatus, WorkerInfo};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::Row;
use tokio::sync::Notify;

use crate::{now_ms, ContentStore, Count, JobQueue, JobStore, Lease, NewJob, Outcome, StoreError};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        owner TEXT NOT NULL,
        platform TEXT NOT NULL,
        profile TEXT NOT NULL,
        spec TEXT NOT NULL,
        status TEXT NOT NULL,
        result TEXT,
        failure TEXT,
        message TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        worker TEXT,
        lease_until INTEGER,
        created INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        started INTEGER,
        finished INTEGER,
        retry_of TEXT,
        progress TEXT,
        report TEXT,
        sandbox TEXT
    )",
    "CREATE INDEX IF NOT EXISTS jobs_waiting ON jobs (platform, profile, status, seq)",
    "CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (status, result, finished)",
    // The sweeps at each claim: lapsed leases, queue time-to-live.
    "CREATE INDEX IF NOT EXISTS jobs_leases ON jobs (status, lease_until)",
    "CREATE INDEX IF NOT EXISTS jobs_expiry ON jobs (status, expires)",
    "CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, status)",
    // An owner's jobs, newest first (`GET /v1/jobs`).
    "CREATE INDEX IF NOT EXISTS jobs_owner_seq ON jobs (owner, seq)",
    "CREATE TABLE IF NOT EXISTS workers (
        id TEXT PRIMARY KEY,
        info TEXT NOT NULL,
        seen INTEGER NOT NULL
    )",
];

const JOB_COLUMNS: &str =
    "id, owner, spec, status, result, failure, message, attempts, worker, created, \
                           started, finished, retry_of, sandbox";

/// Jobs and workers in one SQLite file.
#[derive(Clone)]
pub struct SqliteJobs {
    writer: SqlitePool,
    reader: SqlitePool,
    work: Arc<Notify>,
    /// When the last sweep ran (ms).
    swept: Arc<AtomicI64>,
}

impl SqliteJobs {
    /// Opens (or creates) the database at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        for statement in SCHEMA {
            sqlx::query(sqlx::AssertSqlSafe(*statement))
                .execute(&writer)
                .await?;
        }
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(SqliteJobs {
            writer,
            reader,
            work: Arc::new(Notify::new()),
            swept: Arc::new(AtomicI64::new(0)),
        })
    }

    /// The `text` column a one-column query of job `id` gives.
    async fn text(&self, id: &str, query: &'static str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(query)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        Ok(row.try_get("text")?)
    }

    async fn job(&self, id: &str) -> Result<Job, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?
        .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        job_of(&row)
    }
}

fn corrupt(id: &str, message: impl ToString) -> StoreError {
    StoreError::Corrupt {
        id: id.to_owned(),
        message: message.to_string(),
    }
}

/// A job from a row of [`JOB_COLUMNS`].
fn job_of(row: &SqliteRow) -> Result<Job, StoreError> {
    let id: String = row.try_get("id")?;
    let spec: JobSpec =
        serde_json::from_str(&row.try_get::<String, _>("spec")?).map_err(|e| corrupt(&id, e))?;
    let word = |column: &str| -> Result<Option<String>, StoreError> { Ok(row.try_get(column)?) };
    let status =
        JobStatus::from_str(&row.try_get::<String, _>("status")?).map_err(|e| corrupt(&id, e))?;
    let result = word("result")?
        .map(|w| JobResult::from_str(&w))
        .transpose()
        .map_err(|e| corrupt(&id, e))?;
    let failure = word("failure")?
        .map(|w| FailureKind::from_str(&w))
        .transpose()
        .map_err(|e| corrupt(&id, e))?;
    Ok(Job {
        owner: row.try_get("owner")?,
        spec,
        status,
        result,
        failure,
        message: word("message")?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        worker: word("worker")?,
        created_ms: row.try_get("created")?,
        started_ms: row.try_get("started")?,
        finished_ms: row.try_get("finished")?,
        retry_of: word("retry_of")?,
        sandbox: word("sandbox")?
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|e| corrupt(&id, e))?,
        progress: None,
        id,
    })
}

impl JobStore for SqliteJobs {
    async fn submit(&self, job: NewJob) -> Result<Job, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        let spec = serde_json::to_string(&job.spec).map_err(|e| corrupt(&id, e))?;
        // One statement: the quota is checked (counting no further than
        // it) and the job queued together.
        let quota = job
            .quota
            .map_or(i64::MAX, |q| q.min(i64::MAX as u64) as i64);
        let done = sqlx::query(
            "INSERT INTO jobs (id, owner, platform, profile, spec, status, max_attempts, created, \
             expires, retry_of) SELECT ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ? \
             WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE owner = ? AND \
             status IN ('queued', 'running') LIMIT ?)) < ?",
        )
        .bind(&id)
        .bind(&job.owner)
        .bind(&job.spec.platform)
        .bind(&job.spec.profile)
        .bind(spec)
        .bind(i64::from(job.max_attempts.max(1)))
        .bind(now)
        .bind(now.saturating_add(job.queue_ttl.as_millis() as i64))
        .bind(&job.retry_of)
        .bind(&job.owner)
        .bind(if job.quota.is_some() { quota } else { 0 })
        .bind(quota)
        .execute(&self.writer)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(StoreError::Quota {
                owner: job.owner,
                quota: job.quota.unwrap_or_default(),
            });
        }
        // Wakes the workers waiting now, and leaves a permit for one that
        // is between a claim that found nothing and its wait.
        self.work.notify_waiters();
        self.work.notify_one();
        self.job(&id).await
    }

    async fn get(&self, id: &str) -> Result<Job, StoreError> {
        self.job(id).await
    }

    async fn report(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.text(id, "SELECT report AS text FROM jobs WHERE id = ?")
            .await
    }

    async fn progress(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.text(id, "SELECT progress AS text FROM jobs WHERE id = ?")
            .await
    }

    async fn cancel(&self, id: &str) -> Result<Job, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'cancelled', finished = ?, lease_until = NULL, \
             message = 'cancelled by its owner' WHERE id = ? AND status IN ('queued', 'running')",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.writer)
        .await?
        .rows_affected();
        let job = self.job(id).await?;
        if done == 0 {
            return Err(StoreError::Conflict {
                id: id.to_owned(),
                status: job.status,
                message: "only a queued or running job can be cancelled".into(),
            });
        }
        Ok(job)
    }

    async fn active_for(&self, owner: &str) -> Result<u64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM jobs WHERE owner = ? AND status IN ('queued', 'running')",
        )
        .bind(owner)
        .fetch_one(&self.reader)
        .await?;
        Ok(row.try_get::<i64, _>("n")? as u64)
    }

    async fn jobs_of(&self, owner: &str, limit: u32) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE owner = ? ORDER BY seq DESC LIMIT ?"
        )))
        .bind(owner)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(job_of).collect()
    }

    async fn queued_for(&self, platform: &str, profile: &str) -> Result<u64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM jobs WHERE platform = ? AND profile = ? AND status = 'queued'",
        )
        .bind(platform)
        .bind(profile)
        .fetch_one(&self.reader)
        .await?;
        Ok(row.try_get::<i64, _>("n")? as u64)
    }

    async fn passed_since(&self, since_ms: i64) -> Result<Vec<(Job, String)>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS}, report FROM jobs WHERE status = 'completed' AND \
             result = 'passed' AND finished >= ? ORDER BY finished, seq"
        )))
        .bind(since_ms)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| Ok((job_of(row)?, row.try_get::<String, _>("report")?)))
            .collect()
    }

    async fn counts(&self) -> Result<Vec<Count>, StoreError> {
        let rows = sqlx::query(
            "SELECT status, result, failure, COUNT(*) AS n FROM jobs \
             GROUP BY status, result, failure ORDER BY status, result, failure",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                let word = |c: &str| -> Result<Option<String>, StoreError> { Ok(row.try_get(c)?) };
                let bad = |e: lpdnn_baas_api::UnknownWord| corrupt("(counts)", e);
                Ok((
                    JobStatus::from_str(&row.try_get::<String, _>("status")?).map_err(bad)?,
                    word("result")?
                        .map(|w| JobResult::from_str(&w))
                        .transpose()
                        .map_err(bad)?,
                    word("failure")?
                        .map(|w| FailureKind::from_str(&w))
                        .transpose()
                        .map_err(bad)?,
                    row.try_get::<i64, _>("n")? as u64,
                ))
            })
            .collect()
    }

    async fn workers(&self) -> Result<Vec<(WorkerInfo, i64)>, StoreError> {
        let rows = sqlx::query("SELECT id, info, seen FROM workers ORDER BY id")
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let info = serde_json::from_str(&row.try_get::<String, _>("info")?)
                    .map_err(|e| corrupt(&id, e))?;
                Ok((info, row.try_get("seen")?))
            })
            .collect()
    }
}

/// The condition of a write that needs `lease` still held: the job is
/// running this attempt on this worker (bound by [`held`]).
const HELD: &str = "id = ? AND attempts = ? AND worker = ? AND status = 'running'";

/// Binds [`HELD`]'s values.
fn held<'q>(
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    lease: &Lease,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    query
        .bind(lease.job.clone())
        .bind(i64::from(lease.attempt))
        .bind(lease.worker.clone())
}

/// Lapsed leases and expired queue times are swept at least this often
/// (ms), and whenever a claim finds nothing.
const SWEEP_EVERY_MS: i64 = 1000;

impl SqliteJobs {
    /// Returns jobs whose lease lapsed (their worker is gone) to the queue,
    /// or fails them when they have had their runs; fails jobs that waited
    /// past their queue time-to-live.
    async fn sweep(&self, now: i64) -> Result<(), StoreError> {
        self.swept.store(now, Ordering::Relaxed);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE jobs SET status = 'completed', result = 'failed', failure = 'infra_error', \
             finished = ?1, lease_until = NULL, message = 'its worker stopped answering on each \
             of its ' || attempts || ' run(s)' \
             WHERE status = 'running' AND lease_until < ?1 AND attempts >= max_attempts",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE jobs SET status = 'queued', lease_until = NULL, message = 'run ' || attempts \
             || ' lost its worker; queued again' \
             WHERE status = 'running' AND lease_until < ? AND attempts < max_attempts",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE jobs SET status = 'completed', result = 'failed', failure = 'timeout', \
             finished = ?1, message = 'no worker of platform ' || platform || ', profile ' || \
             profile || ' took it before its queue time ran out' \
             WHERE status = 'queued' AND expires < ?1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Leases the oldest queued job of `platform`/`profile`, in one
    /// statement.
    async fn take(
        &self,
        worker: &str,
        platform: &str,
        profile: &str,
        lease: Duration,
        now: i64,
    ) -> Result<Option<(Lease, Job)>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = ?, \
             lease_until = ?, started = ?, progress = NULL \
             WHERE seq = (SELECT seq FROM jobs WHERE platform = ? AND profile = ? AND \
             status = 'queued' ORDER BY seq LIMIT 1) \
             RETURNING {JOB_COLUMNS}"
        )))
        .bind(worker)
        .bind(now.saturating_add(lease.as_millis() as i64))
        .bind(now)
        .bind(platform)
        .bind(profile)
        .fetch_optional(&self.writer)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let job = job_of(&row)?;
        Ok(Some((
            Lease {
                job: job.id.clone(),
                attempt: job.attempts,
                worker: worker.to_owned(),
            },
            job,
        )))
    }
}

impl JobQueue for SqliteJobs {
    async fn claim(
        &self,
        worker: &str,
        platform: &str,
        profile: &str,
        lease: Duration,
    ) -> Result<Option<(Lease, Job)>, StoreError> {
        let now = now_ms();
        if now - self.swept.load(Ordering::Relaxed) >= SWEEP_EVERY_MS {
            self.sweep(now).await?;
        }
        if let Some(claimed) = self.take(worker, platform, profile, lease, now).await? {
            return Ok(Some(claimed));
        }
        // Nothing waiting: a lapsed lease may have left a job to take.
        self.sweep(now).await?;
        self.take(worker, platform, profile, lease, now).await
    }

    async fn renew(
        &self,
        lease: &Lease,
        duration: Duration,
        progress: Option<&str>,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET lease_until = ?, progress = COALESCE(?, progress) WHERE {HELD}"
        )))
        .bind(now_ms().saturating_add(duration.as_millis() as i64))
        .bind(progress.map(str::to_owned));
        let done = held(query, lease)
            .execute(&self.writer)
            .await?
            .rows_affected();
        if done == 0 {
            return Err(StoreError::LeaseLost(lease.job.clone()));
        }
        Ok(())
    }

    async fn record_sandbox(&self, lease: &Lease, sandbox: &str) -> Result<(), StoreError> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET sandbox = ? WHERE {HELD}"
        )))
        .bind(sandbox.to_owned());
        held(query, lease).execute(&self.writer).await?;
        Ok(())
    }

    async fn complete(&self, lease: &Lease, outcome: Outcome) -> Result<bool, StoreError> {
        let (result, failure, message, report) = match outcome {
            Outcome::Passed { report } => ("passed", None, None, Some(report)),
            Outcome::Failed { kind, message } => {
                ("failed", Some(kind.as_str()), Some(message), None)
            }
        };
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'completed', result = ?, failure = ?, message = ?, \
             report = ?, finished = ?, lease_until = NULL WHERE {HELD}"
        )))
        .bind(result)
        .bind(failure)
        .bind(message)
        .bind(report)
        .bind(now_ms());
        let done = held(query, lease)
            .execute(&self.writer)
            .await?
            .rows_affected();
        Ok(done == 1)
    }

    async fn wait_for_work(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.work.notified()).await;
    }

    async fn register(&self, worker: &WorkerInfo) -> Result<(), StoreError> {
        let info = serde_json::to_string(worker).map_err(|e| corrupt(&worker.id, e))?;
        sqlx::query(
            "INSERT INTO workers (id, info, seen) VALUES (?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET info = excluded.info, seen = excluded.seen",
        )
        .bind(&worker.id)
        .bind(info)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn worker_seen(&self, worker: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE workers SET seen = ? WHERE id = ?")
            .bind(now_ms())
            .bind(worker)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn upload(&self, sha256: &str, cache: &ContentStore) -> Result<PathBuf, StoreError> {
        // The service and its embedded workers share one content store.
        cache
            .path(sha256)
            .filter(|p| p.is_file())
            .ok_or_else(|| StoreError::NotFound(format!("upload {sha256}")))
    }
}
