//! The worker's loop: claim one job, run its benchmark in the sandbox while
//! renewing the lease, write the result once. One job at a time: two
//! benchmarks on one machine disturb each other's numbers.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lpdnn_baas_api::{FailureKind, Job, SubjectKind, WorkerInfo};
use lpdnn_bench_api::{BenchRequest, Warmup};
use lpdnn_engine_api::{EngineName, ModelFormat};
use lpdnn_jobs::{ContentStore, JobQueue, Lease, Outcome, StoreError};

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
    /// Where uploads are (a cache of a remote service's).
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

impl<Q: JobQueue> Worker<Q> {
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
        let latest = sandbox::Latest::default();
        let renewing = self.renew_while_running(&lease, &stop, &latest);
        let run = async {
            let ran = self.benchmark(&job, stop.clone(), latest.clone()).await;
            // However it ended, the lease's renewal stops with it.
            stop.store(true, Ordering::Relaxed);
            ran
        };
        let (result, ()) = tokio::join!(run, renewing);
        let (outcome, report, sandbox) = match result {
            Ok(done) => done,
            // Could not even start: the worker's fault, not the job's.
            Err(e) => (
                Err(Failure {
                    kind: FailureKind::InfraError,
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
                        kind: FailureKind::InfraError,
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

    /// Renews the lease every third of its length, and with the run's
    /// progress each second it changed, until `stop` is set; sets it when
    /// the lease is lost (the job was cancelled or lapsed).
    async fn renew_while_running(
        &self,
        lease: &Lease,
        stop: &Arc<AtomicBool>,
        latest: &sandbox::Latest,
    ) {
        let every = (self.lease / 3).max(Duration::from_millis(10));
        let tick = Duration::from_millis(100).min(every);
        let mut since = Duration::ZERO;
        let mut since_progress = Duration::ZERO;
        let mut sent: Option<String> = None;
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
            since_progress += tick;
            let progress = if since_progress >= Duration::from_secs(1) {
                since_progress = Duration::ZERO;
                let now = latest.lock().ok().and_then(|l| l.clone());
                (now.is_some() && now != sent).then_some(now).flatten()
            } else {
                None
            };
            if since < every && progress.is_none() {
                continue;
            }
            since = Duration::ZERO;
            let renewed = self
                .jobs
                .renew(lease, self.lease, progress.as_deref())
                .await;
            if progress.is_some() && renewed.is_ok() {
                sent = progress;
            }
            if let Err(StoreError::LeaseLost(_)) = renewed {
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
        latest: sandbox::Latest,
    ) -> std::io::Result<(Result<(), Failure>, Option<String>, Option<String>)> {
        let spec = &job.spec;
        let upload = match self.jobs.upload(&spec.sha256, &self.content).await {
            Ok(path) => path,
            Err(e) => {
                return Ok((
                    Err(Failure {
                        kind: FailureKind::InfraError,
                        message: format!("the worker cannot get the job's upload: {e}"),
                    }),
                    None,
                    None,
                ))
            }
        };
        let engine = spec.engine;
        // What the child is given, as its folder will hold it.
        let subject = match spec.subject {
            SubjectKind::Model => {
                // Checked again here, as the seed says ("when the model is
                // received"): the bytes decide the file's name.
                let name = match lpdnn_engine_api::sniff_file(&upload)? {
                    ModelFormat::TfLite => "model.tflite",
                    ModelFormat::Onnx => "model.onnx",
                    ModelFormat::TfGraph => "model.pb",
                    other => {
                        return Ok((
                            Err(Failure {
                                kind: FailureKind::UserError,
                                message: format!(
                                    "the upload is {other}, not a model this worker runs alone"
                                ),
                            }),
                            None,
                            None,
                        ))
                    }
                };
                Subject::Model(name)
            }
            SubjectKind::Bundle => Subject::Bundle,
        };
        let mut request = BenchRequest::new(match subject {
            Subject::Model(name) => name,
            Subject::Bundle => "bundle/app.json",
        });
        if subject == Subject::Bundle {
            request.dataset = Some("bundle/inputs".into());
        }
        request.engines = vec![spec.engine.to_string()];
        request.device = Some(spec.device);
        request.filename = Some(REPORT.into());
        request.landlock = true;
        // A bare model runs as `model.onnx`; its report is titled with the
        // uploaded file's name (shown, never used as a path).
        request.title = spec
            .options
            .name
            .as_deref()
            .and_then(lpdnn_baas_api::upload_name)
            .filter(|_| matches!(subject, Subject::Model(_)));
        let o = &spec.options;
        request.threads = o.threads;
        request.number = o.number;
        request.duration_s = o.duration_s;
        request.warmup = o.warmup.map(Warmup::Iterations);
        request.input_shapes = o.input_shapes.clone();
        request.layers = o.layers;
        request.check_against = o.check_against.map(|e| e.to_string());
        let input = request.to_json();
        let (host, limits) = (self.host.clone(), self.limits.clone());
        let ran = tokio::task::spawn_blocking(move || {
            let result = sandbox::run_watched(
                &host,
                &["benchmark-child"],
                &input,
                &limits,
                &stop,
                Some(latest),
                |dir| prepare(&upload, subject, engine, dir),
                |dir| {
                    sandbox::read_child_file(&dir.join(REPORT), REPORT_LIMIT)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                },
            );
            stop.store(true, Ordering::Relaxed);
            result.map(|(run, report)| (run, report, limits))
        })
        .await
        .map_err(std::io::Error::other)?;
        let (run, report, limits) = match ran {
            Ok(ran) => ran,
            // A bundle this worker refuses is the sender's fault.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                return Ok((
                    Err(Failure {
                        kind: FailureKind::UserError,
                        message: e.to_string(),
                    }),
                    None,
                    None,
                ))
            }
            Err(e) => return Err(e),
        };
        let sandbox = serde_json::to_string(&run.isolation).ok();
        Ok((classify(&run, &limits), report, sandbox))
    }
}

/// The result's file in a job's folder.
const REPORT: &str = "report.json";

/// The largest report a job's child may leave (a long run's timeline is a
/// few MB).
const REPORT_LIMIT: u64 = 64 << 20;

/// What a job's folder holds for the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    /// The model, under this name.
    Model(&'static str),
    /// The bundle, unpacked in `bundle/`.
    Bundle,
}

/// Puts the job's upload in the child's folder: the model under its name,
/// or the bundle unpacked in `bundle/` and checked against the engine (a
/// refused bundle is an `InvalidInput` error: the sender's fault).
fn prepare(upload: &Path, subject: Subject, engine: EngineName, dir: &Path) -> std::io::Result<()> {
    match subject {
        Subject::Model(name) => std::fs::copy(upload, dir.join(name)).map(|_| ()),
        Subject::Bundle => {
            let bytes = std::fs::read(upload)?;
            let folder = dir.join("bundle");
            std::fs::create_dir(&folder)?;
            let formats = lpdnn_engines::engine(engine.as_str())
                .map(|e| e.formats().to_vec())
                .unwrap_or_default();
            let refused = |e: lpdnn_bundle::BundleError| match e {
                lpdnn_bundle::BundleError::Io(e) => e,
                e => std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "bundle: {}",
                        e.to_string().replace(&format!("{}/", folder.display()), "")
                    ),
                ),
            };
            lpdnn_bundle::unpack(&bytes, &folder, lpdnn_bundle::Limits::default())
                .map_err(refused)?;
            lpdnn_bundle::check(&folder, engine.as_str(), &formats).map_err(refused)?;
            Ok(())
        }
    }
}
