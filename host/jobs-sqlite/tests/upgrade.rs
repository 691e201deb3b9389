//! A `jobs.db` written before the schema was versioned (stop 22's code, kept
//! as `fixtures/jobs-stop22.db`: four jobs of two owners, one passed, one
//! failed, one cancelled, one queued, and a worker) opens with today's
//! store: its jobs are all there, in the state they had, the queued one
//! can still be claimed, and its schema ends as a fresh database's.

use std::path::Path;
use std::time::Duration;

use lpdnn_jobs::{FailureKind, JobQueue, JobResult, JobStatus, JobStore, Outcome};

const PASSED: &str = "427915a7-02ac-4329-96d5-211ecf475b4f";
const FAILED: &str = "45e4f24f-e0ac-45b0-89e2-a8cd2fc0bd88";
const CANCELLED: &str = "2f052495-a6c3-4442-98b8-251b0c40609b";
const QUEUED: &str = "8dd17a11-51ab-4b32-b0fc-071fbfa8fb44";

fn fixture(dir: &Path) -> std::path::PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jobs-stop22.db");
    let to = dir.join("jobs.db");
    std::fs::copy(from, &to).unwrap();
    to
}

/// A plain connection to `db`, beside the store.
async fn connect(db: &Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(db))
        .await
        .unwrap()
}

/// The schema as SQLite holds it: every table and index, by name, its
/// SQL's white space made single spaces (indentation is not schema).
async fn schema(db: &Path) -> Vec<(String, String)> {
    let pool = connect(db).await;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    rows.into_iter()
        .map(|(name, sql)| (name, sql.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect()
}

#[tokio::test]
async fn a_jobs_db_of_the_unversioned_schema_keeps_its_jobs_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture(dir.path());
    let jobs = lpdnn_jobs_sqlite::open(&db).await.unwrap();

    let passed = jobs.get(PASSED).await.unwrap();
    assert_eq!(passed.owner, "alice");
    assert_eq!(passed.status, JobStatus::Completed);
    assert_eq!(passed.result, Some(JobResult::Passed));
    assert_eq!(passed.spec.engine.as_str(), "onnxruntime");
    assert_eq!(passed.spec.options.name.as_deref(), Some("face.onnx"));
    assert_eq!(
        passed.sandbox,
        Some(serde_json::json!({"landlock": "full"}))
    );
    assert_eq!(
        jobs.report(PASSED).await.unwrap().as_deref(),
        Some(r#"{"schema":"lpdnn-benchmark/fixture"}"#)
    );
    let failed = jobs.get(FAILED).await.unwrap();
    assert_eq!(failed.failure, Some(FailureKind::UserError));
    assert_eq!(failed.message.as_deref(), Some("the model does not load"));
    assert_eq!(
        jobs.get(CANCELLED).await.unwrap().status,
        JobStatus::Cancelled
    );
    let ids: Vec<String> = jobs
        .jobs_of("bob", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(ids, [QUEUED, CANCELLED]);
    let passed_since = jobs.passed_since(0).await.unwrap();
    assert_eq!(passed_since.len(), 1);
    assert_eq!(passed_since[0].0.id, PASSED);
    let workers = jobs.workers().await.unwrap();
    assert_eq!(workers.len(), 1);
    assert_eq!(workers[0].0.engines[0].name.as_str(), "onnxruntime");

    // The queue goes on where it stopped.
    let (lease, job) = jobs
        .claim("w2", "x86_64", "default", Duration::from_secs(60))
        .await
        .unwrap()
        .expect("the queued job is still queued");
    assert_eq!(job.id, QUEUED);
    assert!(jobs
        .complete(
            &lease,
            Outcome::Passed {
                report: "{}".into()
            }
        )
        .await
        .unwrap());
    drop(jobs);

    // Opened again, nothing is applied twice; the schema is a fresh one's.
    let jobs = lpdnn_jobs_sqlite::open(&db).await.unwrap();
    assert_eq!(
        jobs.get(QUEUED).await.unwrap().result,
        Some(JobResult::Passed)
    );
    drop(jobs);
    let fresh = dir.path().join("fresh.db");
    drop(lpdnn_jobs_sqlite::open(&fresh).await.unwrap());
    let (upgraded, fresh) = (schema(&db).await, schema(&fresh).await);
    assert!(
        upgraded.iter().any(|(name, _)| name == "_sqlx_migrations"),
        "{upgraded:?}"
    );
    assert_eq!(upgraded, fresh);
}

#[tokio::test]
async fn a_jobs_db_of_a_newer_release_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture(dir.path());
    drop(lpdnn_jobs_sqlite::open(&db).await.unwrap());
    let pool = connect(&db).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
         execution_time) VALUES (99, 'from the future', 1, x'00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let err = lpdnn_jobs_sqlite::open(&db)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("jobs.db") && err.contains("newer lpdnn-host"),
        "{err}"
    );
}
