//! Two front ends and NATS workers on a real nats-server and a real
//! PostgreSQL (loopback, temporary folders): a job submitted to one front
//! end is run by a worker that speaks NATS only and is read, with its
//! progress, on the other; a worker that goes silent loses its job to the
//! next one after the ack wait and its late result is refused; a failure
//! of the user's is never delivered again; a job accepted while NATS is
//! down is published once it is back; a worker that stops heartbeating
//! leaves the catalog.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lpdnn_baas_api::{JobOptions, JobSpec, SubjectKind, WorkerInfo};
use lpdnn_jobs::{
    ContentStore, FailureKind, JobQueue, JobResult, JobStatus, JobStore, Lease, NewJob, Outcome,
};
use lpdnn_jobs_nats::{Bus, Cluster, NatsQueue, Settings};
use lpdnn_jobs_postgres::PgJobs;
use lpdnn_test_servers::{Nats, Postgres};

/// The servers, a shared upload, and two front ends on them.
struct Setup {
    nats: Nats,
    _pg: Postgres,
    _dirs: Vec<tempfile::TempDir>,
    fronts: Vec<Arc<Cluster<PgJobs>>>,
    sha256: String,
    settings: Settings,
}

async fn setup(settings: Settings) -> Setup {
    let (nats, pg) =
        tokio::task::spawn_blocking(|| (Nats::start().unwrap(), Postgres::start().unwrap()))
            .await
            .unwrap();
    let mut dirs = Vec::new();
    let mut fronts = Vec::new();
    let mut sha256 = String::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let content = ContentStore::open(dir.path()).unwrap();
        // Each front end keeps the uploads it received.
        sha256 = content.put(b"a model's bytes").unwrap().0;
        let bus = Bus::connect(&nats.url(), &settings).await.unwrap();
        let store = Arc::new(lpdnn_jobs_postgres::connect(&pg.url()).await.unwrap());
        let front = Arc::new(Cluster::new(store, bus, content));
        front.start();
        fronts.push(front);
        dirs.push(dir);
    }
    Setup {
        nats,
        _pg: pg,
        _dirs: dirs,
        fronts,
        sha256,
        settings,
    }
}

impl Setup {
    fn job(&self, platform: &str) -> NewJob {
        NewJob {
            spec: JobSpec {
                platform: platform.into(),
                profile: "default".into(),
                engine: lpdnn_baas_api::EngineName::OnnxRuntime,
                device: lpdnn_baas_api::Device::Cpu,
                subject: SubjectKind::Model,
                sha256: self.sha256.clone(),
                format: "ONNX".into(),
                options: JobOptions::default(),
            },
            owner: "alice".into(),
            max_attempts: 3,
            queue_ttl: Duration::from_secs(3600),
            retry_of: None,
            quota: Some(100),
        }
    }

    /// A worker of `platform` on its own connection, registered.
    async fn worker(&self, id: &str, platform: &str) -> NatsQueue {
        let bus = Bus::connect(&self.nats.url(), &self.settings)
            .await
            .unwrap();
        let queue = NatsQueue::new(bus);
        queue.register(&info(id, platform)).await.unwrap();
        queue
    }
}

fn info(id: &str, platform: &str) -> WorkerInfo {
    WorkerInfo {
        id: id.into(),
        platform: platform.into(),
        profile: "default".into(),
        version: "test".into(),
        engines: Vec::new(),
        machine: None,
        descriptor: None,
    }
}

/// Claims until a job comes, at most `limit`.
async fn claim(
    q: &NatsQueue,
    worker: &str,
    platform: &str,
    lease: Duration,
) -> (Lease, lpdnn_jobs::Job) {
    let start = Instant::now();
    loop {
        // An error (NATS or the front ends restarting) is retried, as the
        // worker's loop does.
        if let Ok(Some(taken)) = q.claim(worker, platform, "default", lease).await {
            return taken;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no job came");
    }
}

fn passed() -> Outcome {
    Outcome::Passed {
        report: "{\"runs\":[]}".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_submitted_to_one_front_end_runs_on_a_nats_worker_and_reads_on_the_other() {
    let s = setup(Settings::default()).await;
    let (a, b) = (&s.fronts[0], &s.fronts[1]);
    let worker = s.worker("w1", "x86_64-linux").await;
    let job = a.submit(s.job("x86_64-linux")).await.unwrap();
    assert_eq!(b.get(&job.id).await.unwrap().status, JobStatus::Queued);

    let (lease, claimed) = claim(&worker, "w1", "x86_64-linux", Duration::from_secs(30)).await;
    assert_eq!(
        (claimed.id.as_str(), claimed.attempts),
        (job.id.as_str(), 1)
    );
    // The model reaches the worker through the object store, checked.
    let cache = tempfile::tempdir().unwrap();
    let cache = ContentStore::open(cache.path()).unwrap();
    let path = worker.upload(&s.sha256, &cache).await.unwrap();
    assert_eq!(std::fs::read(path).unwrap(), b"a model's bytes");

    worker
        .renew(
            &lease,
            Duration::from_secs(30),
            Some("{\"phase\":\"steady\"}"),
        )
        .await
        .unwrap();
    assert_eq!(
        b.progress(&job.id).await.unwrap().as_deref(),
        Some("{\"phase\":\"steady\"}")
    );
    let listed = b.workers().await.unwrap();
    assert!(listed.iter().any(|(w, _)| w.id == "w1"), "{listed:?}");

    // A report larger than a NATS message (1 MiB) arrives whole.
    let large = format!("{{\"runs\":[],\"pad\":\"{}\"}}", "x".repeat(3 << 20));
    let report = Outcome::Passed {
        report: large.clone(),
    };
    assert!(worker.complete(&lease, report).await.unwrap());
    let done = b.get(&job.id).await.unwrap();
    assert_eq!(
        (done.status, done.result, done.attempts),
        (JobStatus::Completed, Some(JobResult::Passed), 1)
    );
    assert_eq!(
        b.report(&job.id).await.unwrap().as_deref(),
        Some(large.as_str())
    );
    // Nothing is left to deliver.
    assert!(worker
        .claim("w1", "x86_64-linux", "default", Duration::from_secs(30))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_silent_workers_job_is_delivered_again_and_its_late_result_refused() {
    let s = setup(Settings::default()).await;
    let job = s.fronts[0].submit(s.job("rpi4")).await.unwrap();
    let silent = s.worker("silent", "rpi4").await;
    let lease = Duration::from_secs(1);
    let (stale, _) = claim(&silent, "silent", "rpi4", lease).await;

    // It sends no in-progress ack: after the ack wait the next worker
    // gets the message and takes the job over, as its second run.
    let next = s.worker("next", "rpi4").await;
    let start = Instant::now();
    let (fresh, claimed) = claim(&next, "next", "rpi4", Duration::from_secs(30)).await;
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        (claimed.id.as_str(), claimed.attempts),
        (job.id.as_str(), 2)
    );

    assert!(!silent.complete(&stale, passed()).await.unwrap());
    assert!(next.complete(&fresh, passed()).await.unwrap());
    let done = s.fronts[1].get(&job.id).await.unwrap();
    assert_eq!((done.worker.as_deref(), done.attempts), (Some("next"), 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_users_failure_is_never_delivered_again() {
    let s = setup(Settings::default()).await;
    let job = s.fronts[0].submit(s.job("rpi4")).await.unwrap();
    let worker = s.worker("w", "rpi4").await;
    let (lease, _) = claim(&worker, "w", "rpi4", Duration::from_secs(1)).await;
    let bad = Outcome::Failed {
        kind: FailureKind::UserError,
        message: "the model does not load".into(),
    };
    assert!(worker.complete(&lease, bad).await.unwrap());
    // Past the ack wait, nothing comes back.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(worker
        .claim("w", "rpi4", "default", Duration::from_secs(1))
        .await
        .unwrap()
        .is_none());
    let done = s.fronts[1].get(&job.id).await.unwrap();
    assert_eq!(
        (done.failure, done.attempts),
        (Some(FailureKind::UserError), 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_accepted_while_nats_restarts_is_published_when_it_is_back() {
    let mut s = setup(Settings::default()).await;
    // The upload is already shared; the job's message cannot be published.
    let first = s.fronts[0].submit(s.job("rpi4")).await.unwrap();
    s.nats.stop(false);
    let accepted = s.fronts[0].submit(s.job("rpi4")).await;
    s.nats.resume().unwrap();
    let worker = s.worker("w", "rpi4").await;
    let mut ids = vec![first.id];
    if let Ok(job) = accepted {
        ids.push(job.id);
    }
    for _ in 0..ids.len() {
        let (lease, job) = claim(&worker, "w", "rpi4", Duration::from_secs(30)).await;
        assert!(ids.contains(&job.id));
        assert!(worker.complete(&lease, passed()).await.unwrap());
    }
    for id in &ids {
        let done = s.fronts[1].get(id).await.unwrap();
        assert_eq!(done.result, Some(JobResult::Passed), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_that_stops_heartbeating_leaves_the_catalog() {
    let s = setup(Settings {
        worker_ttl: Duration::from_secs(1),
        ..Settings::default()
    })
    .await;
    let worker = s.worker("brief", "rpi4").await;
    let seen = |list: Vec<(WorkerInfo, i64)>| list.iter().any(|(w, _)| w.id == "brief");
    assert!(seen(s.fronts[0].workers().await.unwrap()));
    drop(worker);
    let start = Instant::now();
    while seen(s.fronts[1].workers().await.unwrap()) {
        assert!(start.elapsed() < Duration::from_secs(10), "still listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_soak_of_1000_jobs_from_concurrent_clients_over_three_workers_loses_none() {
    let s = Arc::new(setup(Settings::default()).await);
    const JOBS: usize = 1000;
    // Three workers; the third drops every 40th job it takes without a
    // word (as a worker that dies), leaving it to the lease and the others.
    let mut workers = Vec::new();
    for n in 0..3 {
        let queue = s.worker(&format!("soak-{n}"), "soak").await;
        workers.push(tokio::spawn(async move {
            let (mut written, mut dropped) = (Vec::new(), 0);
            let mut idle = Instant::now();
            loop {
                let id = format!("soak-{n}");
                match queue
                    .claim(&id, "soak", "default", Duration::from_secs(1))
                    .await
                    .unwrap()
                {
                    Some((lease, job)) => {
                        idle = Instant::now();
                        if n == 2 && (written.len() + dropped) % 40 == 39 {
                            dropped += 1;
                            continue;
                        }
                        if queue.complete(&lease, passed()).await.unwrap() {
                            written.push(job.id);
                        }
                    }
                    // Done when nothing came for a while.
                    None if idle.elapsed() > Duration::from_secs(8) => break,
                    None => {}
                }
            }
            (written, dropped)
        }));
    }
    let start = Instant::now();
    // Four clients submit at once, alternating between the front ends.
    let mut clients = Vec::new();
    for c in 0..4 {
        let s = s.clone();
        clients.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..JOBS / 4 {
                let front = &s.fronts[(c + i) % 2];
                let job = NewJob {
                    owner: format!("client-{c}"),
                    quota: None,
                    ..s.job("soak")
                };
                ids.push(front.submit(job).await.unwrap().id);
            }
            ids
        }));
    }
    let mut submitted = std::collections::HashSet::new();
    for c in clients {
        submitted.extend(c.await.unwrap());
    }
    assert_eq!(submitted.len(), JOBS);
    let (mut written, mut dropped) = (Vec::new(), 0);
    for w in workers {
        let (w, d) = w.await.unwrap();
        written.extend(w);
        dropped += d;
    }
    // Each job's result written exactly once.
    assert_eq!(written.len(), JOBS, "dropped {dropped}");
    let unique: std::collections::HashSet<_> = written.iter().cloned().collect();
    assert_eq!(unique, submitted);
    let passed = s.fronts[1].passed_since(0).await.unwrap();
    assert_eq!(passed.len(), JOBS);
    let reruns: u32 = passed.iter().map(|(j, _)| j.attempts - 1).sum();
    assert_eq!(reruns as usize, dropped, "every dropped run ran once more");
    assert!(dropped > 0);
    eprintln!(
        "figure: soak: {JOBS} jobs from 4 clients over 2 front ends and 3 workers in {:.1} s \
         (with 8 s of idle wait at the end), {dropped} runs dropped and run again, none lost, \
         none written twice",
        start.elapsed().as_secs_f64()
    );
}
