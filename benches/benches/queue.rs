//! The job queue with tiny jobs: how many claims a second it serves, and
//! what one submit → claim → complete cycle costs. Criterion times the
//! embedded SQLite queue; `dispatch` then measures, side by side in one
//! run, the embedded queue and the distributed one (a front end on
//! PostgreSQL publishing to NATS JetStream, a worker speaking NATS only),
//! both servers real and on loopback. Goals: the queue is never the
//! bottleneck (issue 14: at least 1000 claims/s embedded); on NATS +
//! PostgreSQL dispatch p50 ≤ 5 ms and ≥ 500 claims/s (issue 25).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use lpdnn_baas_api::{JobOptions, JobSpec, SubjectKind};
use std::sync::Arc;

use lpdnn_jobs::{ContentStore, JobQueue, JobStore, NewJob, Outcome};
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
        .block_on(lpdnn_jobs_sqlite::open(&dir.path().join("jobs.db")))
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

/// Dispatch overhead with a worker waiting as a real one does: from the
/// start of a submit to the worker holding the job (accepted → running),
/// and from the start of the worker's completion to a reader of the front
/// end seeing the job completed (completed → visible), over `n` jobs one
/// after the other.
async fn latencies<F: JobStore, W: JobQueue>(
    front: &F,
    worker: Arc<W>,
    sha256: &str,
    n: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let claimer = worker.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    // Stopped between claims, never mid-fetch: a pull request dropped
    // half-way would take the next message with it until its ack wait.
    let task = tokio::spawn(async move {
        while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            match claimer
                .claim("w", "x86_64", "default", Duration::from_secs(60))
                .await
                .unwrap()
            {
                Some((lease, _)) => {
                    if tx.send((Instant::now(), lease)).is_err() {
                        return;
                    }
                }
                None => claimer.wait_for_work(Duration::from_millis(200)).await,
            }
        }
    });
    let (mut running, mut visible) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let start = Instant::now();
        let id = front.submit(job_of(sha256)).await.unwrap().id;
        let (claimed, lease) = rx.recv().await.unwrap();
        running.push(claimed - start);
        let done = Instant::now();
        assert!(worker.complete(&lease, passed()).await.unwrap());
        assert_eq!(
            front.get(&id).await.unwrap().status,
            lpdnn_baas_api::JobStatus::Completed
        );
        visible.push(done.elapsed());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    task.await.unwrap();
    running.sort();
    visible.sort();
    (running, visible)
}

/// Claims a second: `n` jobs queued, then one worker claims and completes
/// them one at a time.
async fn claims_per_second<F: JobStore, W: JobQueue>(
    front: &F,
    worker: &W,
    sha256: &str,
    n: usize,
) -> f64 {
    for _ in 0..n {
        front.submit(job_of(sha256)).await.unwrap();
    }
    let start = Instant::now();
    let mut done = 0;
    while done < n {
        if let Some((lease, _)) = worker
            .claim("w", "x86_64", "default", Duration::from_secs(60))
            .await
            .unwrap()
        {
            assert!(worker.complete(&lease, passed()).await.unwrap());
            done += 1;
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn job_of(sha256: &str) -> NewJob {
    let mut new = job();
    new.spec.sha256 = sha256.to_owned();
    new
}

fn passed() -> Outcome {
    Outcome::Passed {
        report: "{}".into(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The embedded queue and NATS + PostgreSQL, side by side in one run.
fn dispatch(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let content = ContentStore::open(&dir.path().join("models")).unwrap();
    let (sha256, _) = content.put(b"a model").unwrap();
    let mut rows = Vec::new();
    rt.block_on(async {
        let q = Arc::new(
            lpdnn_jobs_sqlite::open(&dir.path().join("jobs.db"))
                .await
                .unwrap(),
        );
        let (running, visible) = latencies(q.as_ref(), q.clone(), &sha256, 400).await;
        let rate = claims_per_second(q.as_ref(), q.as_ref(), &sha256, 1000).await;
        rows.push(("embedded SQLite", running, visible, rate));

        let (nats, pg) = tokio::task::spawn_blocking(|| {
            (
                lpdnn_test_servers::Nats::start().unwrap(),
                lpdnn_test_servers::Postgres::start().unwrap(),
            )
        })
        .await
        .unwrap();
        let settings = lpdnn_jobs_nats::Settings::default();
        let store = Arc::new(lpdnn_jobs_postgres::connect(&pg.url()).await.unwrap());
        let bus = lpdnn_jobs_nats::Bus::connect(&nats.url(), &settings)
            .await
            .unwrap();
        let front = Arc::new(lpdnn_jobs_nats::Cluster::new(store, bus, content.clone()));
        front.start();
        let bus = lpdnn_jobs_nats::Bus::connect(&nats.url(), &settings)
            .await
            .unwrap();
        let worker = Arc::new(lpdnn_jobs_nats::NatsQueue::new(bus));
        let (running, visible) = latencies(front.as_ref(), worker.clone(), &sha256, 400).await;
        let rate = claims_per_second(front.as_ref(), worker.as_ref(), &sha256, 1000).await;
        rows.push(("NATS + PostgreSQL", running, visible, rate));
        drop((nats, pg));
    });
    eprintln!(
        "\n{:<18} {:>22} {:>22} {:>10}",
        "back end", "accepted→running p50/p99", "completed→visible p50/p99", "claims/s"
    );
    for (name, running, visible, rate) in rows {
        eprintln!(
            "{name:<18} {:>10.2} / {:>6.2} ms {:>10.2} / {:>6.2} ms {rate:>10.0}",
            ms(pct(&running, 50.0)),
            ms(pct(&running, 99.0)),
            ms(pct(&visible, 50.0)),
            ms(pct(&visible, 99.0)),
        );
    }
    // Criterion's own figures are the embedded queue's (above).
    let _ = c;
}

criterion_group!(benches, queue, dispatch);
criterion_main!(benches);
