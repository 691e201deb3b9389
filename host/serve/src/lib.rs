//! The Benchmark-as-a-Service front end as a command: the arguments of
//! `serve`, the checks on them, the back end (the embedded SQLite store
//! under `--data`, or NATS JetStream and PostgreSQL shared with other front
//! ends: `--nats URL --postgres URL`), the HTTP API until Ctrl-C or SIGTERM.
//!
//! Two binaries run it: `lpdnn-serve`, the front end alone (no engine, no
//! WebAssembly runtime linked; workers connect from elsewhere), and
//! `lpdnn-host serve`, which adds a worker for the machine it runs on.

#![warn(missing_docs)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use lpdnn_jobs::{ContentStore, JobQueue, JobStore};
use lpdnn_jobs_nats::{Bus, Cluster};
use lpdnn_jobs_sqlite::SqliteJobs;
use lpdnn_server::{Config, Service};

/// The front end's arguments.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Folder of the job database and the uploaded models (with --nats and
    /// --postgres: of this front end's copies of the uploads only).
    #[arg(long, default_value = "baas-data")]
    pub data: PathBuf,
    /// NATS server(s) that carry jobs, uploads and workers' presence, e.g.
    /// nats://10.0.0.2:4222 (with --postgres: several front ends serve one
    /// service; workers connect with `lpdnn-host worker --nats URL`).
    #[arg(
        long,
        env = "LPDNN_NATS_URL",
        requires = "postgres",
        value_name = "URL"
    )]
    pub nats: Option<String>,
    /// PostgreSQL database that keeps jobs and results for every front end,
    /// e.g. postgres://lpdnn:SECRET@10.0.0.3/lpdnn (with --nats).
    #[arg(
        long,
        env = "LPDNN_POSTGRES_URL",
        hide_env_values = true,
        requires = "nats",
        value_name = "URL"
    )]
    pub postgres: Option<String>,
    /// A bearer token, OWNER=SECRET (repeat for several); needed to listen
    /// beyond loopback.
    #[arg(long = "token", value_name = "OWNER=SECRET")]
    pub tokens: Vec<String>,
    /// Largest upload (e.g. 256M).
    #[arg(long, default_value = "256M", value_parser = parse_size)]
    pub max_upload: u64,
    /// Queued or running jobs allowed per owner.
    #[arg(long, default_value_t = 64)]
    pub quota: u64,
    /// A worker not heard from for this many seconds is absent: its
    /// platform's queued jobs show as pending_device.
    #[arg(long, default_value_t = 30)]
    pub worker_timeout: u64,
    /// A token remote workers give (`lpdnn-host worker --token`); needed for
    /// workers when --token is given. Repeat for several.
    #[arg(long = "worker-token", value_name = "SECRET")]
    pub worker_tokens: Vec<String>,
}

/// Where a worker beside the service takes its jobs.
pub enum LocalQueue {
    /// The embedded store itself.
    Embedded(Arc<SqliteJobs>),
    /// NATS, as any remote worker does.
    Nats(Box<Bus>),
}

/// What the service opened, handed to whoever starts a worker beside it.
pub struct Opened {
    /// Where the worker takes its jobs.
    pub queue: LocalQueue,
    /// The uploads.
    pub content: ContentStore,
    /// Set when the service stops; a worker beside it stops its benchmark.
    pub shutdown: Arc<AtomicBool>,
}

/// A task started beside the service (the machine's own worker), awaited
/// for a while when the service stops.
pub type Beside = tokio::task::JoinHandle<()>;

/// Runs the service until Ctrl-C or SIGTERM. `beside` is called inside the
/// runtime once the store is open, and may start a task (a worker) that the
/// shutdown waits for, at most 10 s.
pub fn serve(
    args: ServeArgs,
    beside: impl FnOnce(&Opened) -> Result<Option<Beside>>,
) -> Result<ExitCode> {
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
    let config = Config {
        tokens,
        worker_tokens: args.worker_tokens.clone(),
        max_upload_bytes: args.max_upload as usize,
        quota: args.quota,
        worker_timeout: Duration::from_secs(args.worker_timeout.max(1)),
        ..Config::default()
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let content = ContentStore::open(&args.data.join("models"))?;
        let shutdown = Arc::new(AtomicBool::new(false));
        match (&args.nats, &args.postgres) {
            (Some(nats), Some(postgres)) => {
                let settings = lpdnn_jobs_nats::Settings {
                    worker_ttl: config.worker_timeout,
                    ..Default::default()
                };
                let bus = Bus::connect(nats, &settings).await?;
                let store = Arc::new(lpdnn_jobs_postgres::connect(postgres).await?);
                let cluster = Arc::new(Cluster::new(store, bus.clone(), content.clone()));
                cluster.start();
                let opened = Opened {
                    queue: LocalQueue::Nats(Box::new(bus)),
                    content: content.clone(),
                    shutdown,
                };
                let task = beside(&opened)?;
                let service = Service::new(cluster, content, config);
                listen(args.bind, service, &opened, task).await
            }
            _ => {
                let jobs = Arc::new(lpdnn_jobs_sqlite::open(&args.data.join("jobs.db")).await?);
                let opened = Opened {
                    queue: LocalQueue::Embedded(jobs.clone()),
                    content: content.clone(),
                    shutdown,
                };
                let task = beside(&opened)?;
                let service = Service::new(jobs, content, config);
                listen(args.bind, service, &opened, task).await
            }
        }
    })
}

/// Serves `service` on `bind` until Ctrl-C or SIGTERM; then stops the
/// worker beside it (`task`), waiting for it at most 10 s.
async fn listen<S: JobStore + JobQueue>(
    bind: SocketAddr,
    service: Service<S>,
    opened: &Opened,
    task: Option<Beside>,
) -> Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    println!("listening on http://{}", listener.local_addr()?);
    use std::io::Write;
    std::io::stdout().flush()?;
    axum::serve(listener, lpdnn_server::router(Arc::new(service)))
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
    // Stop the running benchmark (its job goes back to the queue when its
    // lease lapses) before the runtime goes.
    opened.shutdown.store(true, Ordering::Relaxed);
    if let Some(task) = task {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads a size: bytes, or a number with K, M or G (binary units).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t, ""),
    };
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KIB" => 10,
        "M" | "MIB" => 20,
        "G" | "GIB" => 30,
        _ => {
            return Err(format!(
                "'{s}' is not a size: give bytes, or a number with K, M or G"
            ))
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("'{s}' is not a size: give bytes, or a number with K, M or G"))
}
