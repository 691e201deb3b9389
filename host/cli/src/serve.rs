//! `serve`: the Benchmark-as-a-Service API on the embedded store, with one
//! worker for this machine unless told not to.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use lpdnn_jobs::ContentStore;
use lpdnn_jobs_sqlite::SqliteJobs;
use lpdnn_server::{Config, Service};
use lpdnn_worker::{Limits, Worker};

/// The limits of each job a worker runs.
#[derive(Args)]
pub struct JobLimits {
    /// Memory limit of each job's benchmark (e.g. 4G).
    #[arg(long, default_value = "4G", value_parser = crate::parse_size)]
    pub job_memory: u64,
    /// Time limit of each job's benchmark, seconds.
    #[arg(long, default_value_t = 900)]
    pub job_time: u64,
    /// Lease of a job, seconds (renewed every third of it while it runs; a
    /// worker not heard from for this long loses its job to the next one).
    #[arg(long, default_value_t = 30, hide = true)]
    pub lease: u64,
}

impl JobLimits {
    /// A worker with these limits, running benchmarks with this binary.
    fn worker<Q: lpdnn_jobs::JobQueue>(
        &self,
        info: lpdnn_baas_api::WorkerInfo,
        jobs: Arc<Q>,
        content: ContentStore,
        shutdown: Arc<AtomicBool>,
    ) -> Result<Worker<Q>> {
        Ok(Worker {
            info,
            jobs,
            content,
            host: std::env::current_exe()?,
            limits: Limits {
                memory_bytes: self.job_memory,
                wall: Duration::from_secs(self.job_time),
                ..Limits::default()
            },
            lease: Duration::from_secs(self.lease.max(1)),
            shutdown,
        })
    }
}

/// `lpdnn-host serve` arguments.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Folder of the job database and the uploaded models.
    #[arg(long, default_value = "baas-data")]
    pub data: PathBuf,
    /// A bearer token, OWNER=SECRET (repeat for several); needed to listen
    /// beyond loopback.
    #[arg(long = "token", value_name = "OWNER=SECRET")]
    pub tokens: Vec<String>,
    /// Largest upload (e.g. 256M).
    #[arg(long, default_value = "256M", value_parser = crate::parse_size)]
    pub max_upload: u64,
    /// Queued or running jobs allowed per owner.
    #[arg(long, default_value_t = 64)]
    pub quota: u64,
    /// Start no worker for this machine (workers connect from elsewhere).
    #[arg(long)]
    pub no_worker: bool,
    #[command(flatten)]
    pub jobs: JobLimits,
    /// A worker not heard from for this many seconds is absent: its
    /// platform's queued jobs show as pending_device.
    #[arg(long, default_value_t = 30)]
    pub worker_timeout: u64,
    /// A token remote workers give (`lpdnn-host worker --token`); needed for
    /// workers when --token is given. Repeat for several.
    #[arg(long = "worker-token", value_name = "SECRET")]
    pub worker_tokens: Vec<String>,
}

/// Runs `serve` until Ctrl-C or SIGTERM.
pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    let tokens = args
        .tokens
        .iter()
        .map(|t| {
            t.split_once('=')
                .filter(|(o, s)| !o.is_empty() && s.len() >= 8)
                .map(|(o, s)| (o.to_owned(), s.to_owned()))
                .with_context(|| {
                    format!("--token {t}: give OWNER=SECRET, the secret 8 characters or more")
                })
        })
        .collect::<Result<Vec<_>>>()?;
    if let Some(t) = args.worker_tokens.iter().find(|t| t.len() < 8) {
        bail!("--worker-token {t}: a secret of 8 characters or more");
    }
    if !args.bind.ip().is_loopback() && tokens.is_empty() {
        bail!(
            "--bind {}: listening beyond loopback needs --token OWNER=SECRET (anyone could \
             otherwise run models on this machine)",
            args.bind
        );
    }
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create --data {}", args.data.display()))?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let jobs = Arc::new(SqliteJobs::open(&args.data.join("jobs.db")).await?);
        let content = ContentStore::open(&args.data.join("models"))?;
        let service = Arc::new(Service::new(
            jobs.clone(),
            content.clone(),
            Config {
                tokens,
                worker_tokens: args.worker_tokens.clone(),
                max_upload_bytes: args.max_upload as usize,
                quota: args.quota,
                worker_timeout: Duration::from_secs(args.worker_timeout.max(1)),
                ..Config::default()
            },
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let mut local = None;
        if !args.no_worker {
            let info = lpdnn_worker::local_info(None, "default");
            let worker = args
                .jobs
                .worker(info, jobs.clone(), content, stop.clone())?;
            local = Some(tokio::spawn(async move {
                if let Err(e) = worker.run_forever().await {
                    eprintln!("error: the local worker stopped: {e}");
                }
            }));
        }
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .with_context(|| format!("cannot listen on {}", args.bind))?;
        println!("listening on http://{}", listener.local_addr()?);
        use std::io::Write;
        std::io::stdout().flush()?;
        axum::serve(listener, lpdnn_server::router(service))
            .with_graceful_shutdown(async {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .expect("SIGTERM handler");
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            })
            .await?;
        // Stop the running benchmark (its job goes back to the queue when
        // its lease lapses) before the runtime goes.
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(worker) = local {
            let _ = tokio::time::timeout(Duration::from_secs(10), worker).await;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `lpdnn-host worker` arguments.
#[derive(Args)]
pub struct WorkerArgs {
    /// The service's address, e.g. http://10.0.0.2:8080.
    #[arg(long)]
    pub server: String,
    /// The service's worker token (its --worker-token).
    #[arg(long, env = "LPDNN_WORKER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Platform name to offer (default: this machine's descriptor, or ARCH-linux).
    #[arg(long)]
    pub platform: Option<String>,
    /// Profile name to offer (the set of engine library versions here).
    #[arg(long, default_value = "default")]
    pub profile: String,
    #[command(flatten)]
    pub jobs: JobLimits,
    /// Folder where the jobs' uploads are kept once fetched.
    #[arg(long, default_value = "worker-cache")]
    pub cache: PathBuf,
}

/// Runs a worker for a remote service until Ctrl-C or SIGTERM: one job at a
/// time, each in the sandbox; an unreachable service is retried.
pub fn worker(args: WorkerArgs) -> Result<ExitCode> {
    let queue = lpdnn_client::RemoteQueue::new(&args.server, args.token.clone())?;
    let content = ContentStore::open(&args.cache)
        .with_context(|| format!("cannot create --cache {}", args.cache.display()))?;
    let stop = Arc::new(AtomicBool::new(false));
    let info = lpdnn_worker::local_info(args.platform.clone(), &args.profile);
    let worker = args
        .jobs
        .worker(info, Arc::new(queue), content, stop.clone())?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        println!(
            "worker {} offers {}/{} to {}",
            worker.info.id, worker.info.platform, worker.info.profile, args.server
        );
        use std::io::Write;
        std::io::stdout().flush()?;
        let serving = async {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Err(e) = worker.run_forever().await {
                    eprintln!("warning: {e}; trying again in 5 s");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        };
        // On a signal the running benchmark is stopped (its job's lease
        // lapses and the job runs again on the next worker) and the loop
        // ends after the claim in flight.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let stopper = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            stopper.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        serving.await;
        Ok(ExitCode::SUCCESS)
    })
}
