//! Benchmark as a Service: the embedded job store and queue, one SQLite
//! file through sqlx ([`SqliteJobs`]: `lpdnn-jobs-sql`'s store on SQLite).
//!
//! WAL journal, `synchronous=NORMAL`, a busy timeout; every write goes
//! through one connection (so a transaction never upgrades from reader to
//! writer and meets `SQLITE_BUSY`), reads through a pool beside it. A
//! [`tokio::sync::Notify`] wakes waiting workers when a job is queued.
//!
//! The schema is the numbered files of `migrations/`, applied at open and
//! recorded in the database (`_sqlx_migrations`), so a `jobs.db` of an
//! earlier release is brought up to date.

#![warn(missing_docs)]

use std::path::Path;
use std::time::Duration;

use lpdnn_jobs::StoreError;
use lpdnn_jobs_sql::{job_columns, Backend, Dialect, SqlJobs};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// The schema's migrations, in order: (version, description, SQL). A file
/// added to `migrations/` is listed here too (a test checks).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "jobs and workers",
        include_str!("../migrations/0001_jobs_and_workers.sql"),
    ),
    (
        2,
        "dispatch",
        include_str!("../migrations/0002_dispatch.sql"),
    ),
    (
        3,
        "runs and uploads",
        include_str!("../migrations/0003_runs_and_uploads.sql"),
    ),
    (
        4,
        "job groups",
        include_str!("../migrations/0004_job_groups.sql"),
    ),
];

/// SQLite's statements where they differ.
pub struct Sqlite;

impl Dialect for Sqlite {
    type DB = sqlx::Sqlite;
    const TAKE: &'static str = concat!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = $1, \
         lease_until = $2, started = $3, progress = NULL \
         WHERE seq = (SELECT seq FROM jobs WHERE platform = $4 AND profile = $5 AND \
         status = 'queued' ORDER BY seq LIMIT 1) RETURNING ",
        job_columns!()
    );
    // One writer connection: a write transaction takes the lock at once.
    const BEGIN_WRITE: Option<&'static str> = Some("BEGIN IMMEDIATE");
    const LOCK_OWNER: Option<&'static str> = None;

    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }
}

/// Jobs and workers in one SQLite file.
pub type SqliteJobs = SqlJobs<Sqlite>;

/// Opens (or creates) the database at `path` and brings its schema up to
/// date (the migrations it has not had yet).
pub async fn open(path: &Path) -> Result<SqliteJobs, StoreError> {
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
    lpdnn_jobs_sql::migrator(MIGRATIONS)
        .run(&writer)
        .await
        .map_err(|e| {
            lpdnn_jobs_sql::migrate_error(e, &path.display().to_string(), MIGRATIONS.len())
        })?;
    let reader = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .db()?;
    Ok(SqlJobs::new(writer, reader))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_migrations_is_listed_in_order() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        lpdnn_jobs_sql::check_listed(&dir, MIGRATIONS).unwrap();
    }
}
