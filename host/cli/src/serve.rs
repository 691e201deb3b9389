//! `serve`: the Benchmark-as-a-Service API on the embedded store, with one
//! worker for this machine unless told not to.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use lpdnn_jobs::ContentStore;
use lpdnn_serve::LocalQueue;
use lpdnn_worker::{JobUser, Limits, Worker};

/// The limits of each job a worker runs.
#[derive(Args)]
pub struct JobLimits {
    /// Memory limit of each job's benchmark (e.g. 4G).
    #[arg(long, default_value = "4G", value_parser = lpdnn_serve::parse_size)]
    pub job_memory: u64,
    /// Time limit of each job's benchmark, seconds.
    #[arg(long, default_value_t = 900)]
    pub job_time: u64,
    /// Lease of a job, seconds (renewed every third of it while it runs; a
    /// worker not heard from for this long loses its job to the next one).
    #[arg(long, default_value_t = 30, hide = true)]
    pub lease: u64,
    /// Who runs each job's benchmark when the worker runs as root: `nobody`
    /// (the default, where nobody can reach lpdnn-host and its cache), UID:GID,
    /// or `same` (root: only on a machine you give to the service alone).
    #[arg(long, value_name = "USER", value_parser = parse_job_user)]
    pub job_user: Option<JobUserArg>,
}

/// `--job-user`.
#[derive(Debug, Clone, Copy)]
pub enum JobUserArg {
    /// As the worker.
    Same,
    /// These ids.
    Ids(JobUser),
}

fn parse_job_user(text: &str) -> Result<JobUserArg, String> {
    match text {
        "same" => Ok(JobUserArg::Same),
        "nobody" => Ok(JobUserArg::Ids(JobUser::NOBODY)),
        _ => {
            let (u, g) = text.split_once(':').unwrap_or((text, text));
            match (u.parse(), g.parse()) {
                (Ok(uid), Ok(gid)) => Ok(JobUserArg::Ids(JobUser { uid, gid })),
                _ => Err("give nobody, same, or UID:GID (numbers)".into()),
            }
        }
    }
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
        let host = std::env::current_exe()?;
        let root = lpdnn_worker::sandbox::running_as_root();
        let user = match self.job_user {
            Some(JobUserArg::Same) => None,
            Some(JobUserArg::Ids(_)) if !root => {
                anyhow::bail!(
                    "--job-user: only a worker started as root can run jobs as another user"
                )
            }
            Some(JobUserArg::Ids(ids)) => Some(ids),
            None => match lpdnn_worker::default_job_user(&host, &lpdnn_engine_api::cache_dir()) {
                Ok(user) => user,
                Err(closed) => {
                    eprintln!(
                        "warning: jobs run as root: user nobody cannot reach {}\n  \
                         (install lpdnn-host where others can read it, or give --job-user same)",
                        closed.display()
                    );
                    None
                }
            },
        };
        Ok(Worker {
            info,
            jobs,
            content,
            host,
            limits: Limits {
                memory_bytes: self.job_memory,
                wall: Duration::from_secs(self.job_time),
                user,
                ..Limits::default()
            },
            lease: Duration::from_secs(self.lease.max(1)),
            shutdown,
        })
    }
}

/// `lpdnn-host serve` arguments: the front end's, and the machine's own
/// worker.
#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub front: lpdnn_serve::ServeArgs,
    /// Start no worker for this machine (workers connect from elsewhere).
    #[arg(long)]
    pub no_worker: bool,
    #[command(flatten)]
    pub jobs: JobLimits,
}

/// Runs `serve` until Ctrl-C or SIGTERM, with a worker for this machine
/// unless `--no-worker`.
pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    if !args.no_worker {
        // Its jobs' children must not read its environment (tokens, the
        // database's address).
        lpdnn_worker::sandbox::protect_worker();
    }
    lpdnn_serve::serve(args.front, |opened| {
        if args.no_worker {
            return Ok(None);
        }
        let info = lpdnn_worker::local_info(None, "default", None);
        let (content, shutdown) = (opened.content.clone(), opened.shutdown.clone());
        Ok(Some(match &opened.queue {
            LocalQueue::Embedded(jobs) => {
                let worker = args.jobs.worker(info, jobs.clone(), content, shutdown)?;
                tokio::spawn(async move { serve_locally(worker).await })
            }
            LocalQueue::Nats(bus) => {
                let queue = Arc::new(lpdnn_jobs_nats::NatsQueue::new(bus.as_ref().clone()));
                let worker = args.jobs.worker(info, queue, content, shutdown)?;
                tokio::spawn(async move { serve_locally(worker).await })
            }
        }))
    })
}

/// Runs `worker` until its shutdown is set; a failure of its queue (a
/// server restarting) is said, prefixed with `who`, and retried after
/// `pause`.
async fn keep_serving<Q: lpdnn_jobs::JobQueue>(worker: &Worker<Q>, who: &str, pause: Duration) {
    while !worker.shutdown.load(std::sync::atomic::Ordering::Relaxed) {
        if let Err(e) = worker.run_forever().await {
            eprintln!("warning: {who}{e}; trying again in {} s", pause.as_secs());
            tokio::time::sleep(pause).await;
        }
    }
}

/// The machine's own worker beside the service.
async fn serve_locally<Q: lpdnn_jobs::JobQueue>(worker: Worker<Q>) {
    keep_serving(&worker, "the local worker: ", Duration::from_secs(1)).await
}

/// `lpdnn-host worker` arguments.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("service").required(true).args(["server", "nats"])))]
pub struct WorkerArgs {
    /// The service's address, e.g. http://10.0.0.2:8080.
    #[arg(long, env = "LPDNN_SERVER_URL", value_name = "URL")]
    pub server: Option<String>,
    /// The service's NATS server(s), e.g. nats://10.0.0.2:4222 (a service
    /// started with `serve --nats URL --postgres URL`; this machine then
    /// connects out to NATS only).
    #[arg(long, env = "LPDNN_NATS_URL", value_name = "URL")]
    pub nats: Option<String>,
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
    /// A name that starts this worker's id (e.g. the board or container it
    /// is), so that an operator tells workers apart (default: the platform).
    #[arg(long, env = "LPDNN_WORKER_NAME", value_parser = worker_name)]
    pub name: Option<String>,
    /// Folder where the jobs' uploads are kept once fetched.
    #[arg(long, env = "LPDNN_WORKER_CACHE", default_value = "worker-cache")]
    pub cache: PathBuf,
}

/// A worker name: letters, digits, `.`, `_` and `-`, at most 64.
fn worker_name(text: &str) -> Result<String, String> {
    let fits = !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if fits {
        Ok(text.to_owned())
    } else {
        Err("letters, digits, '.', '_' and '-' only, at most 64".into())
    }
}

/// Runs a worker for a remote service until Ctrl-C or SIGTERM: one job at a
/// time, each in the sandbox; an unreachable service is retried.
pub fn worker(args: WorkerArgs) -> Result<ExitCode> {
    // Its environment holds the service's address and token: no job's
    // child may read it.
    lpdnn_worker::sandbox::protect_worker();
    let content = ContentStore::open(&args.cache)
        .with_context(|| format!("cannot create --cache {}", args.cache.display()))?;
    let stop = Arc::new(AtomicBool::new(false));
    let info = lpdnn_worker::local_info(args.platform.clone(), &args.profile, args.name.as_deref());
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        match (&args.server, &args.nats) {
            (Some(server), _) => {
                let queue = lpdnn_client::RemoteQueue::new(server, args.token.clone())?;
                let worker = args
                    .jobs
                    .worker(info, Arc::new(queue), content, stop.clone())?;
                run_worker(worker, server, stop).await
            }
            (None, Some(nats)) => {
                let bus = lpdnn_jobs_nats::Bus::connect(nats, &Default::default()).await?;
                let queue = lpdnn_jobs_nats::NatsQueue::new(bus);
                let worker = args
                    .jobs
                    .worker(info, Arc::new(queue), content, stop.clone())?;
                run_worker(worker, nats, stop).await
            }
            (None, None) => unreachable!("clap requires --server or --nats"),
        }
    })
}

/// Runs `worker` until `stop` is set by a signal.
async fn run_worker<Q: lpdnn_jobs::JobQueue>(
    worker: Worker<Q>,
    service: &str,
    stop: Arc<AtomicBool>,
) -> Result<ExitCode> {
    println!(
        "worker {} offers {}/{} to {service}",
        worker.info.id, worker.info.platform, worker.info.profile
    );
    use std::io::Write;
    std::io::stdout().flush()?;
    let serving = keep_serving(&worker, "", Duration::from_secs(5));
    // On a signal the running benchmark is stopped (its job's lease lapses
    // and the job runs again on the next worker) and the loop ends after
    // the claim in flight.
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
}
