//! The worker's loop: claim one job, run its benchmark in the sandbox while
//! renewing the lease, write the result once. One job at a time: two
//! benchmarks on one machine disturb each other's numbers.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lpdnn_baas_api::{Job, SubjectKind, WorkerInfo};
use lpdnn_jobs::{ContentStore, JobQueue, JobStore, Lease, Outcome, StoreError};

use crate::sandbox::{self, Limits};
use crate::{classify, Failure};

/// Errors of the worker itself (not of a job).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The store or queue failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sandbox could not start the benchmark.
    #[error("cannot start the benchmark: {0}")]
    Spawn(#[from] std::io::Error),
}

/// A worker of one platform and profile.
pub struct Worker<Q> {
    /// What it offers (its id, platform, profile, engines).
    pub info: WorkerInfo,
    /// Where jobs wait.
    pub jobs: Arc<Q>,
    /// Where uploaded models are.
    pub content: ContentStore,
    /// The `lpdnn-host` binary the benchmark runs with.
    pub host: PathBuf,
    /// The sandbox's limits for each job.
    pub limits: Limits,
    /// How long a lease lasts without renewal (renewed every third of it).
    pub lease: Duration,
    /// Set when the worker shuts down: the running benchmark is stopped
    /// (its job's lease then lapses and another run takes it).
    pub shutdown: Arc<AtomicBool>,
}

/// One job a worker ran.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The job, as claimed.
    pub job: Job,
    /// `Ok` when it passed.
    pub outcome: Result<(), Failure>,
    /// Whether this worker's result was written (false: the lease was lost,
    /// the job cancelled or taken by another worker).
    pub written: bool,
}

impl<Q: JobQueue + JobStore> Worker<Q> {
    /// Registers, then runs jobs one at a time until `stop` is set,
    /// heartbeating between them and waiting when none is queued.
    pub async fn run_forever(&self) -> Result<(), WorkerError> {
        self.jobs.register(&self.info).await?;
        while !self.shutdown.load(Ordering::Relaxed) {
            self.jobs.worker_seen(&self.info.id).await?;
            if self.run_one().await?.is_none() {
                self.jobs.wait_for_work(Duration::from_secs(2)).await;
            }
        }
        Ok(())
    }

    /// Claims one job of this worker's platform and profile and runs it to
    /// its end; `None` when none waits.
    pub async fn run_one(&self) -> Result<Option<Ran>, WorkerError> {
        let Some((lease, job)) = self
            .jobs
            .claim(
                &self.info.id,
                &self.info.platform,
                &self.info.profile,
                self.lease,
            )
            .await?
        else {
            return Ok(None);
        };
        let stop = Arc::new(AtomicBool::new(false));
        let renewing = self.renew_while_running(&lease, &stop);
        let run = self.benchmark(&job, stop.clone());
        let (result, ()) = tokio::join!(run, renewing);
        let (outcome, report, sandbox) = match result {
            Ok(done) => done,
            // Could not even start: the worker's fault, not the job's.
            Err(e) => (
                Err(Failure {
                    kind: lpdnn_baas_api::FailureKind::InfraError,
                    message: format!("the worker could not start the benchmark: {e}"),
                }),
                None,
                None,
            ),
        };
        if self.shutdown.load(Ordering::Relaxed) {
            // Stopped by the shutdown, not by the job: no result; the lease
            // lapses and the job runs again on the next worker.
            return Ok(Some(Ran {
                job,
                outcome,
                written: false,
            }));
        }
        if let Some(sandbox) = &sandbox {
            self.jobs.record_sandbox(&lease, sandbox).await?;
        }
        let written = self
            .jobs
            .complete(
                &lease,
                match (&outcome, report) {
                    (Ok(()), Some(report)) => Outcome::Passed { report },
                    (Ok(()), None) => Outcome::Failed {
                        kind: lpdnn_baas_api::FailureKind::InfraError,
                        message: "the benchmark ended well but wrote no report".into(),
                    },
                    (Err(f), _) => Outcome::Failed {
                        kind: f.kind,
                        message: f.message.clone(),
                    },
                },
            )
            .await?;
        Ok(Some(Ran {
            job,
            outcome,
            written,
        }))
    }

    /// Renews the lease every third of its length until `stop` is set;
    /// sets it when the lease is lost (the job was cancelled or lapsed).
    async fn renew_while_running(&self, lease: &Lease, stop: &Arc<AtomicBool>) {
        let every = (self.lease / 3).max(Duration::from_millis(10));
        let tick = Duration::from_millis(100).min(every);
        let mut since = Duration::ZERO;
        loop {
            tokio::time::sleep(tick).await;
            if stop.load(Ordering::Relaxed) {
                return;
            }
            if self.shutdown.load(Ordering::Relaxed) {
                stop.store(true, Ordering::Relaxed);
                return;
            }
            since += tick;
            if since < every {
                continue;
            }
            since = Duration::ZERO;
            if let Err(StoreError::LeaseLost(_)) = self.jobs.renew(lease, self.lease, None).await {
                stop.store(true, Ordering::Relaxed);
                return;
            }
        }
    }

    /// Runs the job's benchmark in the sandbox; gives its outcome, the
    /// report and the isolation record. Sets `stop` when it ends.
    async fn benchmark(
        &self,
        job: &Job,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<(Result<(), Failure>, Option<String>, Option<String>)> {
        let spec = &job.spec;
        let model = self.content.path(&spec.sha256).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "a bad model hash")
        })?;
        let file = match (spec.subject, spec.format.as_str()) {
            (SubjectKind::Model, "TFLite") => "model.tflite",
            _ => "model.onnx",
        };
        let mut args: Vec<String> = vec![
            "benchmark".into(),
            file.into(),
            "--engine".into(),
            spec.engine.clone(),
            "--device".into(),
            spec.device.clone(),
            "--filename".into(),
            "report.json".into(),
        ];
        let o = &spec.options;
        let mut flag = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                args.push(format!("--{name}"));
                args.push(v);
            }
        };
        flag("threads", o.threads.map(|v| v.to_string()));
        flag("number", o.number.map(|v| v.to_string()));
        flag("duration", o.duration_s.map(|v| v.to_string()));
        flag("warmup", o.warmup.map(|v| v.to_string()));
        for shape in &o.input_shapes {
            args.push("--input-shape".into());
            args.push(shape.clone());
        }
        let (host, limits) = (self.host.clone(), self.limits.clone());
        let ran = tokio::task::spawn_blocking(move || {
            let result = sandbox::run_until(
                &host,
                &args,
                &limits,
                &stop,
                |dir| std::fs::copy(&model, dir.join(file)).map(|_| ()),
                |dir| std::fs::read_to_string(dir.join("report.json")).ok(),
            );
            stop.store(true, Ordering::Relaxed);
            result.map(|(run, report)| (run, report, limits))
        })
        .await
        .map_err(std::io::Error::other)??;
        let (run, report, limits) = ran;
        let sandbox = serde_json::to_string(&run.isolation).ok();
        Ok((classify(&run, &limits), report, sandbox))
    }
}
