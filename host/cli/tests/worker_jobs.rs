//! The worker's loop on the embedded queue with the real binary: jobs run
//! one at a time in the sandbox, a hostile model fails its own job only,
//! the isolation applied is recorded, and a cancelled job stops at once.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::root;
use lpdnn_baas_api::{
    FailureKind, JobOptions, JobResult, JobSpec, JobStatus, SubjectKind, WorkerInfo,
};
use lpdnn_jobs::{ContentStore, JobStore, NewJob};
use lpdnn_jobs_sqlite::SqliteJobs;
use lpdnn_worker::{Limits, Worker};

struct Service {
    _dir: tempfile::TempDir,
    jobs: Arc<SqliteJobs>,
    content: ContentStore,
}

async fn service() -> Service {
    let dir = tempfile::tempdir().unwrap();
    let jobs = Arc::new(
        lpdnn_jobs_sqlite::open(&dir.path().join("jobs.db"))
            .await
            .unwrap(),
    );
    let content = ContentStore::open(&dir.path().join("models")).unwrap();
    Service {
        _dir: dir,
        jobs,
        content,
    }
}

impl Service {
    async fn submit(&self, model: &str, engine: &str, options: JobOptions) -> String {
        let (sha256, _) = self
            .content
            .put(&std::fs::read(root().join(model)).unwrap())
            .unwrap();
        let spec = JobSpec {
            platform: "x86_64-linux".into(),
            profile: "default".into(),
            engine: engine.parse().unwrap(),
            device: lpdnn_baas_api::Device::Cpu,
            subject: SubjectKind::Model,
            sha256,
            format: "ONNX".into(),
            options,
        };
        let job = NewJob {
            spec,
            owner: "test".into(),
            max_attempts: 2,
            queue_ttl: Duration::from_secs(600),
            retry_of: None,
            quota: None,
        };
        self.jobs.submit(job).await.unwrap().id
    }

    fn worker(&self) -> Worker<SqliteJobs> {
        Worker {
            info: WorkerInfo {
                id: "w1".into(),
                platform: "x86_64-linux".into(),
                profile: "default".into(),
                version: "test".into(),
                engines: Vec::new(),
                machine: None,
                descriptor: None,
            },
            jobs: self.jobs.clone(),
            content: self.content.clone(),
            host: Path::new(env!("CARGO_BIN_EXE_lpdnn-host")).to_owned(),
            limits: Limits {
                memory_bytes: 1 << 30,
                ..Limits::default()
            },
            lease: Duration::from_secs(3),
            shutdown: Default::default(),
        }
    }
}

const FACE: &str = "assets/models/face_detection_short_range.onnx";

fn quick() -> JobOptions {
    JobOptions {
        number: Some(5),
        warmup: Some(1),
        ..JobOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_in_turn_and_a_hostile_model_fails_only_its_own() {
    let s = service().await;
    let a = s.submit(FACE, "onnxruntime", quick()).await;
    let bomb = s
        .submit("tests/hostile/models/output_1gib.onnx", "lne", quick())
        .await;
    let b = s.submit(FACE, "lne", quick()).await;
    let worker = s.worker();
    for expected in [&a, &bomb, &b] {
        let ran = worker.run_one().await.unwrap().unwrap();
        assert_eq!(&ran.job.id, expected);
        assert!(ran.written);
    }
    assert!(worker.run_one().await.unwrap().is_none());

    for id in [&a, &b] {
        let job = s.jobs.get(id).await.unwrap();
        assert_eq!(
            (job.status, job.result),
            (JobStatus::Completed, Some(JobResult::Passed)),
            "{job:?}"
        );
        let report: serde_json::Value =
            serde_json::from_str(&s.jobs.report(id).await.unwrap().unwrap()).unwrap();
        assert_eq!(report["config"]["subject"], "model");
        assert_eq!(report["runs"][0]["phases"]["steady"]["iterations"], 5);
        assert_eq!(report["runs"][0]["static_metrics"]["macs"], 30_760_960);
        let sandbox = job.sandbox.unwrap();
        assert_eq!(sandbox["rlimits"], true, "{sandbox}");
        assert_eq!(sandbox["own_folder"], true, "{sandbox}");
    }
    let failed = s.jobs.get(&bomb).await.unwrap();
    assert_eq!(failed.result, Some(JobResult::Failed));
    assert_eq!(failed.failure, Some(FailureKind::UserError));
    assert!(
        failed
            .message
            .as_deref()
            .unwrap()
            .contains("memory limit of 1024 MiB"),
        "{failed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_times_the_layers_and_checks_the_outputs_against_another_engine() {
    let s = service().await;
    let options = JobOptions {
        layers: Some(10),
        check_against: Some(lpdnn_baas_api::EngineName::Lne),
        ..quick()
    };
    let id = s.submit(FACE, "onnxruntime", options).await;
    let ran = s.worker().run_one().await.unwrap().unwrap();
    assert_eq!(ran.job.id, id);
    let report: serde_json::Value =
        serde_json::from_str(&s.jobs.report(&id).await.unwrap().unwrap()).unwrap();
    let run = &report["runs"][0];
    assert_eq!(run["layers"]["runs"], 10, "{run}");
    assert!(run["layers"]["layers"].as_array().unwrap().len() > 50);
    assert_eq!(run["check"]["reference"], "lne", "{run}");
    assert_eq!(run["check"]["verdict"], "agrees", "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_stops_its_benchmark_and_writes_nothing() {
    let s = service().await;
    let long = JobOptions {
        duration_s: Some(120.0),
        ..JobOptions::default()
    };
    let id = s.submit(FACE, "lne", long).await;
    let worker = s.worker();
    let jobs = s.jobs.clone();
    let cancel = {
        let id = id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            jobs.cancel(&id).await.unwrap();
        })
    };
    let start = Instant::now();
    let ran = worker.run_one().await.unwrap().unwrap();
    cancel.await.unwrap();
    assert!(!ran.written);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    let job = s.jobs.get(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert!(s.jobs.report(&id).await.unwrap().is_none());
}
