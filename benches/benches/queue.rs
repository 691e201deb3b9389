//! The embedded job queue (SQLite through sqlx) with tiny jobs: how many
//! claims a second it serves, and what one submit → claim → complete cycle
//! costs. Goal (issue 14): the queue is never the bottleneck, at least
//! 1000 claims/s.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use lpdnn_baas_api::{JobOptions, JobSpec, SubjectKind};
use lpdnn_jobs::{JobQueue, JobStore, NewJob, Outcome, SqliteJobs};

fn job() -> NewJob {
    NewJob {
        spec: JobSpec {
            platform: "x86_64".into(),
            profile: "default".into(),
            engine: "lne".into(),
            device: "cpu".into(),
            subject: SubjectKind::Model,
            sha256: "ab".repeat(32),
            format: "ONNX".into(),
            options: JobOptions::default(),
        },
        owner: "bench".into(),
        max_attempts: 3,
        queue_ttl: Duration::from_secs(3600),
        retry_of: None,
        quota: None,
    }
}

async fn claim_and_complete(q: &SqliteJobs, lease: Duration) {
    let (l, _) = q
        .claim("w", "x86_64", "default", lease)
        .await
        .unwrap()
        .unwrap();
    let passed = Outcome::Passed {
        report: "{}".into(),
    };
    assert!(q.complete(&l, passed).await.unwrap());
}

fn queue(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let q = rt
        .block_on(SqliteJobs::open(&dir.path().join("jobs.db")))
        .unwrap();
    let lease = Duration::from_secs(60);
    let mut group = c.benchmark_group("sqlite_queue");
    group.bench_function("submit", |b| {
        b.iter(|| rt.block_on(q.submit(job())).unwrap())
    });
    group.bench_function("claim_and_complete", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                for _ in 0..iters {
                    q.submit(job()).await.unwrap();
                }
                let start = Instant::now();
                for _ in 0..iters {
                    claim_and_complete(&q, lease).await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("submit_claim_complete", |b| {
        b.iter(|| {
            rt.block_on(async {
                q.submit(job()).await.unwrap();
                claim_and_complete(&q, lease).await;
            })
        })
    });
    group.finish();
}

criterion_group!(benches, queue);
criterion_main!(benches);
