//! Benchmark as a Service: the embedded job store and queue, one SQLite
//! file through sqlx ([`SqliteJobs`], implementing `lpdnn-jobs`' traits).
//!
//! WAL journal, `synchronous=NORMAL`, a busy timeout; every write goes
//! through one connection (so a transaction never upgrades from reader to
//! writer and meets `SQLITE_BUSY`), reads through a pool beside it. A
//! [`tokio::sync::Notify`] wakes waiting workers when a job is queued.
//!
//! The schema is the numbered files of `migrations/`, applied at open and
//! recorded in the database (`_sqlx_migrations`), so a `jobs.db` of an
//! earlier release is brought up to date. Queries are static strings with
//! `$N` placeholders (SQLite and PostgreSQL both read them); rows map to
//! typed structs.

#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lpdnn_baas_api::{Job, JobSpec, JobStatus, WorkerInfo};
use lpdnn_jobs::{
    now_ms, ContentStore, Count, JobQueue, JobStore, Lease, NewJob, Outcome, StoreError,
};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{FromRow, Row};
use tokio::sync::Notify;

/// The schema's migrations, in order: (version, description, SQL). A file
/// added to `migrations/` is listed here too (a test checks).
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "jobs and workers",
    include_str!("../migrations/0001_jobs_and_workers.sql"),
)];

fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    description.into(),
                    MigrationType::Simple,
                    sqlx::SqlSafeStr::into_sql_str(sql),
                    false,
                )
            })
            .collect(),
    )
}

/// The columns a [`JobRow`] reads, for `concat!`: queries stay static text.
macro_rules! job_columns {
    () => {
        "id, owner, spec, status, result, failure, message, attempts, worker, created, started, \
         finished, retry_of, sandbox"
    };
}

/// The condition of a write that needs a lease still held: the job is
/// running this attempt on this worker. Its values are `$1`–`$3`, bound
/// by [`held`] before the query's own.
macro_rules! held {
    () => {
        "id = $1 AND attempts = $2 AND worker = $3 AND status = 'running'"
    };
}

/// `sqlx::Error` and migration errors as the store's own, cause kept.
trait Backend<T> {
    fn db(self) -> Result<T, StoreError>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Backend<T> for Result<T, E> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::Backend(Box::new(e)))
    }
}

/// Jobs and workers in one SQLite file.
#[derive(Clone)]
pub struct SqliteJobs {
    writer: SqlitePool,
    reader: SqlitePool,
    work: Arc<Notify>,
    /// When the last sweep ran (ms).
    swept: Arc<AtomicI64>,
}

/// A row of [`job_columns!`].
struct JobRow {
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

impl FromRow<'_, SqliteRow> for JobRow {
    fn from_row(row: &SqliteRow) -> Result<Self, sqlx::Error> {
        Ok(JobRow {
            id: row.try_get("id")?,
            owner: row.try_get("owner")?,
            spec: row.try_get("spec")?,
            status: row.try_get("status")?,
            result: row.try_get("result")?,
            failure: row.try_get("failure")?,
            message: row.try_get("message")?,
            attempts: row.try_get("attempts")?,
            worker: row.try_get("worker")?,
            created: row.try_get("created")?,
            started: row.try_get("started")?,
            finished: row.try_get("finished")?,
            retry_of: row.try_get("retry_of")?,
            sandbox: row.try_get("sandbox")?,
        })
    }
}

impl JobRow {
    /// The job, its words and JSON read back ([`StoreError::Corrupt`] when
    /// they are not what this version writes).
    fn into_job(self) -> Result<Job, StoreError> {
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
fn words<T: FromStr>(word: Option<String>) -> Result<Option<T>, T::Err> {
    word.map(|w| T::from_str(&w)).transpose()
}

/// A passed job and its report.
struct PassedRow {
    job: JobRow,
    report: String,
}

impl FromRow<'_, SqliteRow> for PassedRow {
    fn from_row(row: &SqliteRow) -> Result<Self, sqlx::Error> {
        Ok(PassedRow {
            job: JobRow::from_row(row)?,
            report: row.try_get("report")?,
        })
    }
}

/// How many jobs have one status, result and failure kind.
struct CountRow {
    status: String,
    result: Option<String>,
    failure: Option<String>,
    n: i64,
}

impl FromRow<'_, SqliteRow> for CountRow {
    fn from_row(row: &SqliteRow) -> Result<Self, sqlx::Error> {
        Ok(CountRow {
            status: row.try_get("status")?,
            result: row.try_get("result")?,
            failure: row.try_get("failure")?,
            n: row.try_get("n")?,
        })
    }
}

/// A registered worker: its id, its [`WorkerInfo`] as JSON, its last
/// heartbeat (ms).
struct WorkerRow {
    id: String,
    info: String,
    seen: i64,
}

impl FromRow<'_, SqliteRow> for WorkerRow {
    fn from_row(row: &SqliteRow) -> Result<Self, sqlx::Error> {
        Ok(WorkerRow {
            id: row.try_get("id")?,
            info: row.try_get("info")?,
            seen: row.try_get("seen")?,
        })
    }
}

impl SqliteJobs {
    /// Opens (or creates) the database at `path` and brings its schema up
    /// to date (the migrations it has not had yet).
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
            .await
            .db()?;
        migrator().run(&writer).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::VersionMissing(version) => StoreError::Backend(
                format!(
                    "{}: its schema is of a newer lpdnn-host (migration {version}, this release \
                     knows {}); run that release",
                    path.display(),
                    MIGRATIONS.len()
                )
                .into(),
            ),
            e => StoreError::Backend(Box::new(e)),
        })?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .db()?;
        Ok(SqliteJobs {
            writer,
            reader,
            work: Arc::new(Notify::new()),
            swept: Arc::new(AtomicI64::new(0)),
        })
    }

    /// The one text column of a query of job `id` (`$1`).
    async fn text(&self, id: &str, query: &'static str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(query)
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .db()?
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))
    }

    async fn job(&self, id: &str) -> Result<Job, StoreError> {
        sqlx::query_as::<_, JobRow>(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .db()?
        .ok_or_else(|| StoreError::NotFound(id.to_owned()))?
        .into_job()
    }
}

fn corrupt(id: &str, message: impl ToString) -> StoreError {
    StoreError::Corrupt {
        id: id.to_owned(),
        message: message.to_string(),
    }
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
             expires, retry_of) SELECT $1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9 \
             WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE owner = $2 AND \
             status IN ('queued', 'running') LIMIT $10) AS active) < $11",
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
        .bind(if job.quota.is_some() { quota } else { 0 })
        .bind(quota)
        .execute(&self.writer)
        .await
        .db()?
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
        self.text(id, "SELECT report FROM jobs WHERE id = $1").await
    }

    async fn progress(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.text(id, "SELECT progress FROM jobs WHERE id = $1")
            .await
    }

    async fn cancel(&self, id: &str) -> Result<Job, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'cancelled', finished = $1, lease_until = NULL, \
             message = 'cancelled by its owner' WHERE id = $2 AND status IN ('queued', 'running')",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.writer)
        .await
        .db()?
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
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE owner = $1 AND status IN ('queued', 'running')",
        )
        .bind(owner)
        .fetch_one(&self.reader)
        .await
        .db()?;
        Ok(n as u64)
    }

    async fn jobs_of(&self, owner: &str, limit: u32) -> Result<Vec<Job>, StoreError> {
        sqlx::query_as::<_, JobRow>(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE owner = $1 ORDER BY seq DESC LIMIT $2"
        ))
        .bind(owner)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .db()?
        .into_iter()
        .map(JobRow::into_job)
        .collect()
    }

    async fn queued_for(&self, platform: &str, profile: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE platform = $1 AND profile = $2 AND status = 'queued'",
        )
        .bind(platform)
        .bind(profile)
        .fetch_one(&self.reader)
        .await
        .db()?;
        Ok(n as u64)
    }

    async fn passed_since(&self, since_ms: i64) -> Result<Vec<(Job, String)>, StoreError> {
        sqlx::query_as::<_, PassedRow>(concat!(
            "SELECT ",
            job_columns!(),
            ", report FROM jobs WHERE status = 'completed' AND result = 'passed' AND \
             finished >= $1 ORDER BY finished, seq"
        ))
        .bind(since_ms)
        .fetch_all(&self.reader)
        .await
        .db()?
        .into_iter()
        .map(|row| Ok((row.job.into_job()?, row.report)))
        .collect()
    }

    async fn counts(&self) -> Result<Vec<Count>, StoreError> {
        sqlx::query_as::<_, CountRow>(
            "SELECT status, result, failure, COUNT(*) AS n FROM jobs \
             GROUP BY status, result, failure ORDER BY status, result, failure",
        )
        .fetch_all(&self.reader)
        .await
        .db()?
        .into_iter()
        .map(|row| {
            let bad = |e: lpdnn_baas_api::UnknownWord| corrupt("(counts)", e);
            Ok((
                JobStatus::from_str(&row.status).map_err(bad)?,
                words(row.result).map_err(bad)?,
                words(row.failure).map_err(bad)?,
                row.n as u64,
            ))
        })
        .collect()
    }

    async fn workers(&self) -> Result<Vec<(WorkerInfo, i64)>, StoreError> {
        sqlx::query_as::<_, WorkerRow>("SELECT id, info, seen FROM workers ORDER BY id")
            .fetch_all(&self.reader)
            .await
            .db()?
            .into_iter()
            .map(|row| {
                let info = serde_json::from_str(&row.info).map_err(|e| corrupt(&row.id, e))?;
                Ok((info, row.seen))
            })
            .collect()
    }
}

/// Binds [`held!`]'s values (`$1`–`$3`) for `lease`.
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
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.db()?;
        sqlx::query(
            "UPDATE jobs SET status = 'completed', result = 'failed', failure = 'infra_error', \
             finished = $1, lease_until = NULL, message = 'its worker stopped answering on each \
             of its ' || attempts || ' run(s)' \
             WHERE status = 'running' AND lease_until < $1 AND attempts >= max_attempts",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .db()?;
        sqlx::query(
            "UPDATE jobs SET status = 'queued', lease_until = NULL, message = 'run ' || attempts \
             || ' lost its worker; queued again' \
             WHERE status = 'running' AND lease_until < $1 AND attempts < max_attempts",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .db()?;
        sqlx::query(
            "UPDATE jobs SET status = 'completed', result = 'failed', failure = 'timeout', \
             finished = $1, message = 'no worker of platform ' || platform || ', profile ' || \
             profile || ' took it before its queue time ran out' \
             WHERE status = 'queued' AND expires < $1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()
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
        let row = sqlx::query_as::<_, JobRow>(concat!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = $1, \
             lease_until = $2, started = $3, progress = NULL \
             WHERE seq = (SELECT seq FROM jobs WHERE platform = $4 AND profile = $5 AND \
             status = 'queued' ORDER BY seq LIMIT 1) RETURNING ",
            job_columns!()
        ))
        .bind(worker)
        .bind(now.saturating_add(lease.as_millis() as i64))
        .bind(now)
        .bind(platform)
        .bind(profile)
        .fetch_optional(&self.writer)
        .await
        .db()?;
        let Some(row) = row else {
            return Ok(None);
        };
        let job = row.into_job()?;
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
        let query = sqlx::query(concat!(
            "UPDATE jobs SET lease_until = $4, progress = COALESCE($5, progress) WHERE ",
            held!()
        ));
        let done = held(query, lease)
            .bind(now_ms().saturating_add(duration.as_millis() as i64))
            .bind(progress.map(str::to_owned))
            .execute(&self.writer)
            .await
            .db()?
            .rows_affected();
        if done == 0 {
            return Err(StoreError::LeaseLost(lease.job.clone()));
        }
        Ok(())
    }

    async fn record_sandbox(&self, lease: &Lease, sandbox: &str) -> Result<(), StoreError> {
        let query = sqlx::query(concat!("UPDATE jobs SET sandbox = $4 WHERE ", held!()));
        held(query, lease)
            .bind(sandbox.to_owned())
            .execute(&self.writer)
            .await
            .db()?;
        Ok(())
    }

    async fn complete(&self, lease: &Lease, outcome: Outcome) -> Result<bool, StoreError> {
        let (result, failure, message, report) = match outcome {
            Outcome::Passed { report } => ("passed", None, None, Some(report)),
            Outcome::Failed { kind, message } => {
                ("failed", Some(kind.as_str()), Some(message), None)
            }
        };
        let query = sqlx::query(concat!(
            "UPDATE jobs SET status = 'completed', result = $4, failure = $5, message = $6, \
             report = $7, finished = $8, lease_until = NULL WHERE ",
            held!()
        ));
        let done = held(query, lease)
            .bind(result)
            .bind(failure)
            .bind(message)
            .bind(report)
            .bind(now_ms())
            .execute(&self.writer)
            .await
            .db()?
            .rows_affected();
        Ok(done == 1)
    }

    async fn wait_for_work(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.work.notified()).await;
    }

    async fn register(&self, worker: &WorkerInfo) -> Result<(), StoreError> {
        let info = serde_json::to_string(worker).map_err(|e| corrupt(&worker.id, e))?;
        sqlx::query(
            "INSERT INTO workers (id, info, seen) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET info = excluded.info, seen = excluded.seen",
        )
        .bind(&worker.id)
        .bind(info)
        .bind(now_ms())
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }

    async fn worker_seen(&self, worker: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE workers SET seen = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(worker)
            .execute(&self.writer)
            .await
            .db()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_migrations_is_listed_in_order() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(files.len(), MIGRATIONS.len(), "{files:?}");
        for (file, (version, _, sql)) in files.iter().zip(MIGRATIONS) {
            let number: i64 = file.split('_').next().unwrap().parse().unwrap();
            assert_eq!(number, *version, "{file}");
            assert_eq!(&std::fs::read_to_string(dir.join(file)).unwrap(), sql);
        }
    }
}
