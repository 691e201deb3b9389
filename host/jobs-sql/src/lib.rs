//! Benchmark as a Service: the job store and queue written once over sqlx
//! ([`SqlJobs`]), for any SQL database a [`Dialect`] describes. The
//! embedded SQLite file (`lpdnn-jobs-sqlite`) and PostgreSQL shared by
//! several front ends (`lpdnn-jobs-postgres`) run these same statements;
//! each back end gives its connection, its migrations and the few
//! statements that differ (how a claim skips rows another transaction
//! holds, how a write transaction begins, how an owner's submissions are
//! serialised for the quota).
//!
//! Queries are static strings with `$N` placeholders (both databases read
//! them); rows map to typed structs; a write that needs a lease checks it
//! in the same statement (job id, attempt and worker), so a result is
//! written once, whoever delivers it twice.

#![warn(missing_docs)]

mod rows;

use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lpdnn_baas_api::{
    FailureKind, Group, GroupCell, Job, JobResult, JobStatus, Run, RunEnd, WorkerInfo,
};
use lpdnn_jobs::{
    now_ms, Claimed, ContentStore, Count, DispatchStore, JobQueue, JobStore, Lease, NewCell,
    NewGroup, NewJob, Outcome, StoreError, Undispatched, Upload,
};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, Type};
use tokio::sync::Notify;

use rows::{CountRow, GroupRow, JobRow, PassedRow, QueuedRow, RunRow, UploadRow, WorkerRow};

/// What differs between databases.
pub trait Dialect: Send + Sync + 'static {
    /// The sqlx database.
    type DB: Database;
    /// Leases the oldest queued job of a platform and profile: `$1` the
    /// worker, `$2` the lease's end, `$3` now, `$4` the platform, `$5` the
    /// profile; `RETURNING` the columns of [`job_columns!`].
    const TAKE: &'static str;
    /// The statement that begins a write transaction (`None`: the
    /// driver's own `BEGIN`).
    const BEGIN_WRITE: Option<&'static str>;
    /// Run first in a submission's transaction, `$1` the owner: makes
    /// concurrent submissions of one owner wait for each other, so the
    /// quota holds across front ends (`None`: one writer already does).
    const LOCK_OWNER: Option<&'static str>;
    /// How many rows a statement changed.
    fn rows_affected(result: &<Self::DB as Database>::QueryResult) -> u64;
}

/// The columns a job row reads, for `concat!`: queries stay static text.
#[macro_export]
macro_rules! job_columns {
    () => {
        "id, owner, spec, status, result, failure, message, attempts, worker, created, started, \
         finished, retry_of, sandbox"
    };
}

/// The condition of a write that needs a lease still held: the job is
/// running this attempt on this worker (`$1`–`$3`, bound by [`held`]).
macro_rules! held {
    () => {
        "id = $1 AND attempts = $2 AND worker = $3 AND status = 'running'"
    };
}

/// A migrator of `migrations`: (version, description, SQL), in order.
pub fn migrator(migrations: &[(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        migrations
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

/// A migration's failure as the store's: a database whose schema is of a
/// newer release (a migration this one does not know) is named, with what
/// to do.
pub fn migrate_error(e: sqlx::migrate::MigrateError, database: &str, known: usize) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::VersionMissing(version) => StoreError::Backend(
            format!(
                "{database}: its schema is of a newer lpdnn-host (migration {version}, this \
                 release knows {known}); run that release"
            )
            .into(),
        ),
        e => StoreError::Backend(Box::new(e)),
    }
}

/// Whether the files of the folder `dir` are `migrations`, in order: each
/// file `NNNN_*.sql` is listed with its number and its exact text (for a
/// back end's test: a file added but not listed would never run).
pub fn check_listed(dir: &std::path::Path, migrations: &[(i64, &str, &str)]) -> Result<(), String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    files.sort();
    if files.len() != migrations.len() {
        return Err(format!("{files:?} against {} listed", migrations.len()));
    }
    for (file, (version, _, sql)) in files.iter().zip(migrations) {
        let number: Option<i64> = file.split('_').next().and_then(|n| n.parse().ok());
        if number != Some(*version) {
            return Err(format!("{file} is listed as migration {version}"));
        }
        let text = std::fs::read_to_string(dir.join(file)).map_err(|e| e.to_string())?;
        if &text != sql {
            return Err(format!("{file} differs from the text listed"));
        }
    }
    Ok(())
}

/// A database error (or any other) as the store's, cause kept.
pub trait Backend<T> {
    /// The error as [`StoreError::Backend`].
    fn db(self) -> Result<T, StoreError>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Backend<T> for Result<T, E> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::Backend(Box::new(e)))
    }
}

fn corrupt(id: &str, message: impl ToString) -> StoreError {
    StoreError::Corrupt {
        id: id.to_owned(),
        message: message.to_string(),
    }
}

/// Lapsed leases and expired queue times are swept at least this often
/// (ms), and whenever a claim finds nothing.
const SWEEP_EVERY_MS: i64 = 1000;

/// Jobs and workers in a SQL database.
pub struct SqlJobs<D: Dialect> {
    writer: Pool<D::DB>,
    reader: Pool<D::DB>,
    work: Arc<Notify>,
    /// When the last sweep ran (ms).
    swept: Arc<AtomicI64>,
    dialect: PhantomData<D>,
}

impl<D: Dialect> Clone for SqlJobs<D> {
    fn clone(&self) -> Self {
        SqlJobs {
            writer: self.writer.clone(),
            reader: self.reader.clone(),
            work: self.work.clone(),
            swept: self.swept.clone(),
            dialect: PhantomData,
        }
    }
}

impl<D: Dialect> SqlJobs<D> {
    /// The store over `writer` (every write) and `reader` (reads; the same
    /// pool where the database has no single-writer rule), its schema
    /// already migrated.
    pub fn new(writer: Pool<D::DB>, reader: Pool<D::DB>) -> Self {
        SqlJobs {
            writer,
            reader,
            work: Arc::new(Notify::new()),
            swept: Arc::new(AtomicI64::new(0)),
            dialect: PhantomData,
        }
    }
}

/// Binds [`held!`]'s values (`$1`–`$3`) for `lease`.
fn held<'q, DB: Database>(
    query: sqlx::query::Query<'q, DB, <DB as Database>::Arguments>,
    lease: &Lease,
) -> sqlx::query::Query<'q, DB, <DB as Database>::Arguments>
where
    for<'a> String: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
{
    query
        .bind(lease.job.clone())
        .bind(i64::from(lease.attempt))
        .bind(lease.worker.clone())
}

impl<D: Dialect> SqlJobs<D>
where
    for<'c> &'c mut <D::DB as Database>::Connection: Executor<'c, Database = D::DB>,
    <D::DB as Database>::Arguments: IntoArguments<D::DB>,
    for<'q> String: Encode<'q, D::DB> + Type<D::DB>,
    for<'q> Option<String>: Encode<'q, D::DB> + Type<D::DB>,
    for<'q> i64: Encode<'q, D::DB> + Type<D::DB>,
    for<'r> (i64,): FromRow<'r, <D::DB as Database>::Row>,
    for<'r> (Option<String>,): FromRow<'r, <D::DB as Database>::Row>,
    for<'r> JobRow: FromRow<'r, <D::DB as Database>::Row>,
{
    /// The one text column of a query of job `id` (`$1`).
    async fn text(&self, id: &str, query: &'static str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(query)
            .bind(id.to_owned())
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
        .bind(id.to_owned())
        .fetch_optional(&self.reader)
        .await
        .db()?
        .ok_or_else(|| StoreError::NotFound(id.to_owned()))?
        .into_job()
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, D::DB>, StoreError> {
        match D::BEGIN_WRITE {
            Some(begin) => self.writer.begin_with(begin).await.db(),
            None => self.writer.begin().await.db(),
        }
    }

    /// Makes concurrent submissions of `job`'s owner wait for this
    /// transaction, when its quota is checked and the database needs it.
    async fn lock_owner(
        tx: &mut sqlx::Transaction<'static, D::DB>,
        job: &NewJob,
    ) -> Result<(), StoreError> {
        if let (Some(lock), Some(_)) = (D::LOCK_OWNER, job.quota) {
            sqlx::query(lock)
                .bind(job.owner.clone())
                .execute(&mut **tx)
                .await
                .db()?;
        }
        Ok(())
    }

    /// Queues `job` as `id` in `tx`, its owner's quota checked in the same
    /// statement (counting no further than it); [`StoreError::Quota`] when
    /// it is reached.
    async fn insert_job(
        tx: &mut sqlx::Transaction<'static, D::DB>,
        id: &str,
        job: &NewJob,
        now: i64,
    ) -> Result<(), StoreError> {
        let spec = serde_json::to_string(&job.spec).map_err(|e| corrupt(id, e))?;
        let quota = job
            .quota
            .map_or(i64::MAX, |q| q.min(i64::MAX as u64) as i64);
        let done = sqlx::query(
            "INSERT INTO jobs (id, owner, platform, profile, spec, status, max_attempts, created, \
             expires, retry_of) SELECT $1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9 \
             WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE owner = $2 AND \
             status IN ('queued', 'running') LIMIT $10) AS active) < $11",
        )
        .bind(id.to_owned())
        .bind(job.owner.clone())
        .bind(job.spec.platform.clone())
        .bind(job.spec.profile.clone())
        .bind(spec)
        .bind(i64::from(job.max_attempts.max(1)))
        .bind(now)
        .bind(now.saturating_add(job.queue_ttl.as_millis() as i64))
        .bind(job.retry_of.clone())
        .bind(if job.quota.is_some() { quota } else { 0 })
        .bind(quota)
        .execute(&mut **tx)
        .await
        .db()
        .map(|r| D::rows_affected(&r))?;
        if done == 0 {
            return Err(StoreError::Quota {
                owner: job.owner.clone(),
                quota: job.quota.unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// Wakes the workers waiting now, and leaves a permit for one that is
    /// between a claim that found nothing and its wait.
    fn queued(&self) {
        self.work.notify_waiters();
        self.work.notify_one();
    }

    /// Records the start of `lease`'s run, in the transaction that took it.
    async fn run_started(
        tx: &mut sqlx::Transaction<'static, D::DB>,
        lease: &Lease,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO runs (job, attempt, worker, started) VALUES ($1, $2, $3, $4)")
            .bind(lease.job.clone())
            .bind(i64::from(lease.attempt))
            .bind(lease.worker.clone())
            .bind(now)
            .execute(&mut **tx)
            .await
            .db()?;
        Ok(())
    }

    /// Ends the run of job `id` still open (at most one is), in the
    /// transaction that ended it.
    async fn run_ended(
        tx: &mut sqlx::Transaction<'static, D::DB>,
        id: &str,
        now: i64,
        end: RunEnd,
        failure: Option<FailureKind>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE runs SET ended = $1, outcome = $2, failure = $3 WHERE job = $4 AND \
             ended IS NULL",
        )
        .bind(now)
        .bind(end.as_str().to_owned())
        .bind(failure.map(|f| f.as_str().to_owned()))
        .bind(id.to_owned())
        .execute(&mut **tx)
        .await
        .db()?;
        Ok(())
    }

    /// Returns jobs whose lease lapsed (their worker is gone) to the queue,
    /// or fails them when they have had their runs; fails jobs that waited
    /// past their queue time-to-live.
    async fn sweep(&self, now: i64) -> Result<(), StoreError> {
        self.swept.store(now, Ordering::Relaxed);
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE runs SET ended = $1, outcome = 'lapsed' WHERE ended IS NULL AND job IN \
             (SELECT id FROM jobs WHERE status = 'running' AND lease_until < $1)",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .db()?;
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
            "UPDATE jobs SET status = 'queued', lease_until = NULL, dispatched = NULL, \
             message = 'run ' || attempts || ' lost its worker; queued again' \
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
        let mut tx = self.begin_write().await?;
        let row = sqlx::query_as::<_, JobRow>(D::TAKE)
            .bind(worker.to_owned())
            .bind(now.saturating_add(lease.as_millis() as i64))
            .bind(now)
            .bind(platform.to_owned())
            .bind(profile.to_owned())
            .fetch_optional(&mut *tx)
            .await
            .db()?;
        let taken = row.map(|row| leased(row, worker)).transpose()?;
        if let Some((lease, _)) = &taken {
            Self::run_started(&mut tx, lease, now).await?;
        }
        tx.commit().await.db()?;
        Ok(taken)
    }
}

/// A job just leased to `worker`, and its lease.
fn leased(row: JobRow, worker: &str) -> Result<(Lease, Job), StoreError> {
    let job = row.into_job()?;
    Ok((
        Lease {
            job: job.id.clone(),
            attempt: job.attempts,
            worker: worker.to_owned(),
        },
        job,
    ))
}

impl<D: Dialect> JobStore for SqlJobs<D>
where
    for<'c> &'c mut <D::DB as Database>::Connection: Executor<'c, Database = D::DB>,
    <D::DB as Database>::Arguments: IntoArguments<D::DB>,
    for<'q> String: Encode<'q, D::DB> + Type<D::DB>,
    for<'q> Option<String>: Encode<'q, D::DB> + Type<D::DB>,
    for<'q> i64: Encode<'q, D::DB> + Type<D::DB>,
    for<'r> (i64,): FromRow<'r, <D::DB as Database>::Row>,
    for<'r> (Option<String>,): FromRow<'r, <D::DB as Database>::Row>,
    for<'r> JobRow: FromRow<'r, <D::DB as Database>::Row>,
    for<'r> PassedRow: FromRow<'r, <D::DB as Database>::Row>,
    for<'r> CountRow: FromRow<'r, <D::DB as Database>::Row>,
    for<'r> WorkerRow: FromRow<'r, <D::DB as Database>::Row>,
    for<'r> RunRow: FromRow<'r, <D::DB as Database>::Row>,
    for<'r> UploadRow: FromRow<'r, <D::DB as Database>::Row>,
    for<'r> GroupRow: FromRow<'r, <D::DB as Database>::Row>,
{
    async fn submit(&self, job: NewJob) -> Result<Job, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let mut tx = self.begin_write().await?;
        Self::lock_owner(&mut tx, &job).await?;
        Self::insert_job(&mut tx, &id, &job, now_ms()).await?;
        tx.commit().await.db()?;
        self.queued();
        self.job(&id).await
    }

    async fn submit_group(&self, group: NewGroup) -> Result<Group, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        if let Some(NewCell::Queued(_, job)) = group
            .cells
            .iter()
            .find(|c| matches!(c, NewCell::Queued(..)))
        {
            Self::lock_owner(&mut tx, job).await?;
        }
        let mut cells = Vec::with_capacity(group.cells.len());
        for cell in group.cells {
            cells.push(match cell {
                NewCell::Queued(cell, job) => {
                    let job_id = uuid::Uuid::new_v4().to_string();
                    // A refusal drops the transaction: nothing is queued.
                    Self::insert_job(&mut tx, &job_id, &job, now).await?;
                    GroupCell {
                        cell,
                        job: Some(job_id),
                        refused: None,
                    }
                }
                NewCell::Refused(cell, why) => GroupCell {
                    cell,
                    job: None,
                    refused: Some(why),
                },
            });
        }
        let json = serde_json::to_string(&cells).map_err(|e| corrupt(&id, e))?;
        sqlx::query("INSERT INTO job_groups (id, owner, created, cells) VALUES ($1, $2, $3, $4)")
            .bind(id.clone())
            .bind(group.owner.clone())
            .bind(now)
            .bind(json)
            .execute(&mut *tx)
            .await
            .db()?;
        tx.commit().await.db()?;
        self.queued();
        Ok(Group {
            id,
            owner: group.owner,
            created_ms: now,
            cells,
        })
    }

    async fn group(&self, id: &str) -> Result<Group, StoreError> {
        sqlx::query_as::<_, GroupRow>(
            "SELECT id, owner, created, cells FROM job_groups WHERE id = $1",
        )
        .bind(id.to_owned())
        .fetch_optional(&self.reader)
        .await
        .db()?
        .ok_or_else(|| StoreError::NotFound(id.to_owned()))?
        .into_group()
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
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE jobs SET status = 'cancelled', finished = $1, lease_until = NULL, \
             message = 'cancelled by its owner' WHERE id = $2 AND status IN ('queued', 'running')",
        )
        .bind(now)
        .bind(id.to_owned())
        .execute(&mut *tx)
        .await
        .db()
        .map(|r| D::rows_affected(&r))?;
        if done == 1 {
            Self::run_ended(&mut tx, id, now, RunEnd::Cancelled, None).await?;
        }
        tx.commit().await.db()?;
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
        .bind(owner.to_owned())
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
        .bind(owner.to_owned())
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
        .bind(platform.to_owned())
        .bind(profile.to_owned())
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
                rows::words(row.result).map_err(bad)?,
                rows::words(row.failure).map_err(bad)?,
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

    async fn runs(&self, id: &str) -> Result<Vec<Run>, StoreError> {
        let rows = sqlx::query_as::<_, RunRow>(
            "SELECT job, attempt, worker, started, ended, outcome, failure FROM runs \
             WHERE job = $1 ORDER BY attempt",
        )
        .bind(id.to_owned())
        .fetch_all(&self.reader)
        .await
        .db()?;
        if rows.is_empty() {
            // No run yet, or no such job.
            self.job(id).await?;
        }
        rows.into_iter().map(RunRow::into_run).collect()
    }

    async fn record_upload(&self, sha256: &str, bytes: u64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO uploads (sha256, bytes, created, used) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (sha256) DO UPDATE SET used = excluded.used",
        )
        .bind(sha256.to_owned())
        .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
        .bind(now_ms())
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }

    async fn upload_record(&self, sha256: &str) -> Result<Option<Upload>, StoreError> {
        sqlx::query_as::<_, UploadRow>(
            "SELECT sha256, bytes, created, used FROM uploads WHERE sha256 = $1",
        )
        .bind(sha256.to_owned())
        .fetch_optional(&self.reader)
        .await
        .db()?
        .map(UploadRow::into_upload)
        .transpose()
    }
}

impl<D: Dialect> JobQueue for SqlJobs<D>
where
    for<'c> &'c mut <D::DB as Database>::Connection: Executor<'c, Database = D::DB>,
    <D::DB as Database>::Arguments: IntoArguments<D::DB>,
    for<'q> String: Encode<'q, D::DB> + Type<D::DB>,
    for<'q> Option<String>: Encode<'q, D::DB> + Type<D::DB>,
    for<'q> i64: Encode<'q, D::DB> + Type<D::DB>,
    for<'r> (i64,): FromRow<'r, <D::DB as Database>::Row>,
    for<'r> (Option<String>,): FromRow<'r, <D::DB as Database>::Row>,
    for<'r> JobRow: FromRow<'r, <D::DB as Database>::Row>,
{
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
            .db()
            .map(|r| D::rows_affected(&r))?;
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
        let (result, end, failure, message, report) = match outcome {
            Outcome::Passed { report } => {
                (JobResult::Passed, RunEnd::Passed, None, None, Some(report))
            }
            Outcome::Failed { kind, message } => (
                JobResult::Failed,
                RunEnd::Failed,
                Some(kind),
                Some(message),
                None,
            ),
        };
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let query = sqlx::query(concat!(
            "UPDATE jobs SET status = 'completed', result = $4, failure = $5, message = $6, \
             report = $7, finished = $8, lease_until = NULL WHERE ",
            held!()
        ));
        let done = held(query, lease)
            .bind(result.as_str().to_owned())
            .bind(failure.map(|f| f.as_str().to_owned()))
            .bind(message)
            .bind(report)
            .bind(now)
            .execute(&mut *tx)
            .await
            .db()
            .map(|r| D::rows_affected(&r))?;
        if done == 1 {
            Self::run_ended(&mut tx, &lease.job, now, end, failure).await?;
        }
        tx.commit().await.db()?;
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
        .bind(worker.id.clone())
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
            .bind(worker.to_owned())
            .execute(&self.writer)
            .await
            .db()?;
        Ok(())
    }

    async fn upload(
        &self,
        sha256: &str,
        cache: &ContentStore,
    ) -> Result<std::path::PathBuf, StoreError> {
        // The service and its embedded workers share one content store.
        cache
            .path(sha256)
            .filter(|p| p.is_file())
            .ok_or_else(|| StoreError::NotFound(format!("upload {sha256}")))
    }
}

impl<D: Dialect> DispatchStore for SqlJobs<D>
where
    for<'c> &'c mut <D::DB as Database>::Connection: Executor<'c, Database = D::DB>,
    <D::DB as Database>::Arguments: IntoArguments<D::DB>,
    for<'q> String: Encode<'q, D::DB> + Type<D::DB>,
    for<'q> Option<String>: Encode<'q, D::DB> + Type<D::DB>,
    for<'q> i64: Encode<'q, D::DB> + Type<D::DB>,
    for<'r> (i64,): FromRow<'r, <D::DB as Database>::Row>,
    for<'r> (Option<String>,): FromRow<'r, <D::DB as Database>::Row>,
    for<'r> JobRow: FromRow<'r, <D::DB as Database>::Row>,
    for<'r> PassedRow: FromRow<'r, <D::DB as Database>::Row>,
    for<'r> CountRow: FromRow<'r, <D::DB as Database>::Row>,
    for<'r> WorkerRow: FromRow<'r, <D::DB as Database>::Row>,
    for<'r> RunRow: FromRow<'r, <D::DB as Database>::Row>,
    for<'r> UploadRow: FromRow<'r, <D::DB as Database>::Row>,
    for<'r> GroupRow: FromRow<'r, <D::DB as Database>::Row>,
    for<'r> QueuedRow: FromRow<'r, <D::DB as Database>::Row>,
{
    async fn claim_job(
        &self,
        worker: &str,
        id: &str,
        lease: Duration,
    ) -> Result<Claimed, StoreError> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query_as::<_, JobRow>(concat!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = $1, \
             lease_until = $2, started = $3, progress = NULL \
             WHERE id = $4 AND attempts < max_attempts AND (status = 'queued' OR \
             (status = 'running' AND lease_until < $3)) RETURNING ",
            job_columns!()
        ))
        .bind(worker.to_owned())
        .bind(now.saturating_add(lease.as_millis() as i64))
        .bind(now)
        .bind(id.to_owned())
        .fetch_optional(&mut *tx)
        .await
        .db()?;
        if let Some(row) = row {
            let (lease, job) = leased(row, worker)?;
            // Taken from a run whose lease lapsed: that run ends here.
            Self::run_ended(&mut tx, id, now, RunEnd::Lapsed, None).await?;
            Self::run_started(&mut tx, &lease, now).await?;
            tx.commit().await.db()?;
            return Ok(Claimed::Taken(lease, Box::new(job)));
        }
        tx.commit().await.db()?;
        let mut job = self.job(id).await?;
        if job.status == JobStatus::Running {
            // Its lease may have lapsed on its last run: the sweep fails it.
            self.sweep(now).await?;
            job = self.job(id).await?;
        }
        Ok(match job.status {
            JobStatus::Completed
                if job.failure == Some(lpdnn_baas_api::FailureKind::InfraError) =>
            {
                Claimed::Exhausted
            }
            JobStatus::Completed | JobStatus::Cancelled => Claimed::Ended(job.status),
            // Running under a live lease, or queued again by the sweep
            // (whose message the reconciler publishes).
            _ => Claimed::Held,
        })
    }

    async fn reconcile(&self, before_ms: i64, limit: u32) -> Result<Vec<Undispatched>, StoreError> {
        self.sweep(now_ms()).await?;
        sqlx::query_as::<_, QueuedRow>(
            "SELECT id, platform, profile, attempts FROM jobs WHERE status = 'queued' AND \
             dispatched IS NULL AND created < $1 ORDER BY seq LIMIT $2",
        )
        .bind(before_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .db()?
        .into_iter()
        .map(|row| {
            Ok(Undispatched {
                attempts: u32::try_from(row.attempts).map_err(|e| corrupt(&row.id, e))?,
                id: row.id,
                platform: row.platform,
                profile: row.profile,
            })
        })
        .collect()
    }

    async fn dispatched(&self, id: &str, attempts: u32) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET dispatched = $1 WHERE id = $2 AND attempts = $3 AND \
             status = 'queued'",
        )
        .bind(now_ms())
        .bind(id.to_owned())
        .bind(i64::from(attempts))
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }
}
