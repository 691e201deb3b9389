//! The embedded job queue (SQLite through sqlx) with tiny jobs: how many
//! claims a second it serves, and what one submit → claim → complete cycle
//! costs. Goal (issue 14): the queue is never the bottleneck, at least
//! 1000 claims/s.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use lpdnn_baas_api::{JobOptions, JobSpec, SubjectKind};
use lpdnn_jobs::{JobQueue, JobStore, NewJob, Outcome};
use lpdnn_jobs_sqlite::SqliteJobs;

fn job() -> NewJob {
    NewJob {
        spec: JobSpec {
            platform: "x86_64".into(),
            profile: "default".into(),
            engine: lpdnn_baas_api::EngineName::Lne,
            device: lpdnn_baas_api::Device::Cpu,
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

/// Nearest-rank percentile of sorted `v`.
fn pct(v: &[Duration], p: f64) -> Duration {
    v[((p / 100.0 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
}

/// Dispatch overhead with a worker waiting as the embedded one does: from
/// the start of a submit to the worker holding the job (accepted →
/// running), and from the start of a completion to a reader seeing the
/// job completed (completed → result visible). Printed as p50/p99.
fn dispatch(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let q = rt
        .block_on(SqliteJobs::open(&dir.path().join("jobs.db")))
        .unwrap();
    let (to_running, to_visible) = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let worker = q.clone();
        tokio::spawn(async move {
            loop {
                match worker
                    .claim("w", "x86_64", "default", Duration::from_secs(60))
                    .await
                    .unwrap()
                {
                    Some((lease, _)) => {
                        if tx.send((Instant::now(), lease)).is_err() {
                            return;
                        }
                    }
                    None => worker.wait_for_work(Duration::from_secs(2)).await,
                }
            }
        });
        let (mut running, mut visible) = (Vec::new(), Vec::new());
        for _ in 0..400 {
            let start = Instant::now();
            let id = q.submit(job()).await.unwrap().id;
            let (claimed, lease) = rx.recv().await.unwrap();
            running.push(claimed - start);
            let done = Instant::now();
            q.complete(
                &lease,
                Outcome::Passed {
                    report: "{}".into(),
                },
            )
            .await
            .unwrap();
            assert_eq!(
                q.get(&id).await.unwrap().status,
                lpdnn_baas_api::JobStatus::Completed
            );
            visible.push(done.elapsed());
        }
        running.sort();
        visible.sort();
        (running, visible)
    });
    eprintln!(
        "dispatch, accepted -> running: p50 {:.2} ms, p99 {:.2} ms; completed -> visible: p50 {:.2} ms, p99 {:.2} ms ({} jobs)",
        pct(&to_running, 50.0).as_secs_f64() * 1e3,
        pct(&to_running, 99.0).as_secs_f64() * 1e3,
        pct(&to_visible, 50.0).as_secs_f64() * 1e3,
        pct(&to_visible, 99.0).as_secs_f64() * 1e3,
        to_running.len()
    );
    // Criterion's own figure: one whole cycle with the waiting worker.
    let _ = c;
}

criterion_group!(benches, queue, dispatch);
criterion_main!(benches);
