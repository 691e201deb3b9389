//! Benchmark as a Service: the job store and queue on PostgreSQL
//! ([`PgJobs`]: `lpdnn-jobs-sql`'s store), for several front ends at once.
//!
//! A claim skips the rows another transaction holds (`FOR UPDATE SKIP
//! LOCKED`), so two front ends never hand one job out twice; an owner's
//! submissions take a transaction-scoped advisory lock on the owner, so the
//! quota holds across front ends. The schema is the numbered files of
//! `migrations/` (the SQLite back end's, in PostgreSQL's types), applied
//! at connect under sqlx's migration lock, so replicas may start at once.

#![warn(missing_docs)]

use std::time::Duration;

use lpdnn_jobs::StoreError;
use lpdnn_jobs_sql::{job_columns, Dialect, SqlJobs};
use sqlx::postgres::PgPoolOptions;

/// The schema's migrations, in order: (version, description, SQL).
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
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

/// PostgreSQL's statements where they differ.
pub struct Postgres;

impl Dialect for Postgres {
    type DB = sqlx::Postgres;
    const TAKE: &'static str = concat!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = $1, \
         lease_until = $2, started = $3, progress = NULL \
         WHERE seq = (SELECT seq FROM jobs WHERE platform = $4 AND profile = $5 AND \
         status = 'queued' ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING ",
        job_columns!()
    );
    const BEGIN_WRITE: Option<&'static str> = None;
    const LOCK_OWNER: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))");

    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }
}

/// Jobs and workers in PostgreSQL.
pub type PgJobs = SqlJobs<Postgres>;

/// Connects to `url` (`postgres://user[:password]@host[:port]/database`)
/// and brings its schema up to date; retries for 30 s while the server is
/// not (yet) answering.
pub async fn connect(url: &str) -> Result<PgJobs, StoreError> {
    let options = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10));
    let mut waited = Duration::ZERO;
    let pool = loop {
        match options.clone().connect(url).await {
            Ok(pool) => break pool,
            Err(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut)
                if waited < Duration::from_secs(30) =>
            {
                tokio::time::sleep(Duration::from_millis(250)).await;
                waited += Duration::from_millis(250);
            }
            Err(e) => {
                return Err(StoreError::Backend(
                    format!("cannot connect to PostgreSQL at {}: {e}", redact(url)).into(),
                ))
            }
        }
    };
    lpdnn_jobs_sql::migrator(MIGRATIONS)
        .run(&pool)
        .await
        .map_err(|e| {
            lpdnn_jobs_sql::migrate_error(e, &redact(url).to_string(), MIGRATIONS.len())
        })?;
    Ok(SqlJobs::new(pool.clone(), pool))
}

/// `url` without its password, to be shown.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(
            redact("postgres://lpdnn:s3cret@db:5432/jobs"),
            "postgres://lpdnn:***@db:5432/jobs"
        );
        assert_eq!(
            redact("postgres://lpdnn@db/jobs"),
            "postgres://lpdnn@db/jobs"
        );
        assert_eq!(redact("postgres://db/jobs"), "postgres://db/jobs");
    }

    #[test]
    fn every_file_in_migrations_is_listed_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        lpdnn_jobs_sql::check_listed(&dir, MIGRATIONS).unwrap();
    }
}
