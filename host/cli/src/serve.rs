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
use lpdnn_baas_api::{WorkerEngine, WorkerInfo};
use lpdnn_jobs::{ContentStore, SqliteJobs};
use lpdnn_server::{Config, Service};
use lpdnn_worker::{Limits, Worker};

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
    /// Memory limit of each job's benchmark (e.g. 4G).
    #[arg(long, default_value = "4G", value_parser = crate::parse_size)]
    pub job_memory: u64,
    /// Time limit of each job's benchmark, seconds.
    #[arg(long, default_value_t = 900)]
    pub job_time: u64,
    /// A worker not heard from for this many seconds is absent: its
    /// platform's queued jobs show as pending_device.
    #[arg(long, default_value_t = 30)]
    pub worker_timeout: u64,
}

/// This machine as a worker offers it: its platform (the built-in
/// descriptor of its architecture), the `default` profile, and the engines
/// that can run here.
fn local_worker() -> WorkerInfo {
    let host = lpdnn_platforms::Host::detect();
    let engines = lpdnn_engines::REGISTRY
        .iter()
        .map(|r| (r.make)().info())
        .filter(|i| i.available)
        .map(|i| WorkerEngine {
            name: i.name,
            version: i.version,
            devices: i.devices.iter().map(ToString::to_string).collect(),
            formats: i.formats.iter().map(ToString::to_string).collect(),
        })
        .collect();
    WorkerInfo {
        id: format!("local-{}", std::process::id()),
        platform: host
            .descriptor
            .unwrap_or_else(|| format!("{}-{}", host.arch, host.os)),
        profile: "default".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        engines,
    }
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
        let service = Arc::new(Service {
            jobs: jobs.clone(),
            content: content.clone(),
            config: Config {
                tokens,
                max_upload_bytes: args.max_upload as usize,
                quota: args.quota,
                worker_timeout: Duration::from_secs(args.worker_timeout.max(1)),
                ..Config::default()
            },
        });
        let stop = Arc::new(AtomicBool::new(false));
        let mut local = None;
        if !args.no_worker {
            let worker = Worker {
                info: local_worker(),
                jobs: jobs.clone(),
                content,
                host: std::env::current_exe()?,
                limits: Limits {
                    memory_bytes: args.job_memory,
                    wall: Duration::from_secs(args.job_time),
                    ..Limits::default()
                },
                lease: Duration::from_secs(30),
                shutdown: stop.clone(),
            };
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
