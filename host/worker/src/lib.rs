//! Benchmark as a Service, the worker's side: every job is untrusted, so
//! its benchmark runs in a child process ([`sandbox::run`]) under limits,
//! and how that child ended becomes the job's result ([`classify`]).
//! [`Worker`] claims one job at a time from a [`lpdnn_jobs::JobQueue`],
//! renews its lease while the child runs, and writes the result once.

#![warn(missing_docs)]

pub mod landlock;
pub mod sandbox;
mod worker;

use lpdnn_baas_api::{FailureKind, WorkerEngine, WorkerInfo};

pub use sandbox::{default_job_user, ChildRun, Ended, Isolation, JobUser, Limits};
pub use worker::{Ran, Worker, WorkerError};

/// This machine as a worker offers it: its platform (`platform`, else the
/// built-in descriptor of its architecture, else `ARCH-OS`), the profile,
/// and the engines that can run here with their library versions. Its id
/// starts with `name` when given (a container's role, so that an operator
/// tells workers apart), else with the platform.
pub fn local_info(platform: Option<String>, profile: &str, name: Option<&str>) -> WorkerInfo {
    let host = lpdnn_platforms::Host::detect();
    let engines = lpdnn_engines::REGISTRY
        .iter()
        .map(|r| (r.make)().info())
        .filter(|i| i.available)
        .filter_map(|i| {
            Some(WorkerEngine {
                name: i.name.parse().ok()?,
                version: i.version,
                devices: i.devices,
                formats: i.formats,
            })
        })
        .collect();
    let platform = platform
        .or(host.descriptor.clone())
        .unwrap_or_else(|| format!("{}-{}", host.arch, host.os));
    let descriptor = lpdnn_platforms::Descriptor::builtin()
        .into_iter()
        .find(|d| d.name == platform);
    WorkerInfo {
        id: format!(
            "{}-{}-{}",
            name.unwrap_or(&platform),
            std::process::id(),
            lpdnn_jobs::now_ms()
        ),
        platform,
        profile: profile.to_owned(),
        version: env!("CARGO_PKG_VERSION").into(),
        engines,
        machine: Some(host),
        descriptor,
    }
}

/// A failed run, as the job records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Whose fault.
    pub kind: FailureKind,
    /// Why, for the user.
    pub message: String,
}

/// How a benchmark child's end becomes a job's result: `Ok(())` when it
/// exited 0, else the failure's kind and reason. `lpdnn-host` exits 1 for
/// a model, app or option it refuses (the user's), 2 for a usage error
/// (ours: the worker built the command line).
pub fn classify(run: &ChildRun, limits: &Limits) -> Result<(), Failure> {
    let error_line = || {
        run.stderr
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("error: "))
            .map(str::to_owned)
    };
    let fail = |kind, message: String| Err(Failure { kind, message });
    let memory = || {
        format!(
            "the benchmark exhausted its memory limit of {} MiB",
            limits.memory_bytes >> 20
        )
    };
    match run.ended {
        Ended::Exited(0) => Ok(()),
        Ended::Exited(2) => fail(
            FailureKind::InfraError,
            format!(
                "the worker gave the benchmark a command it refused: {}",
                error_line().unwrap_or_else(|| run.stderr.clone())
            ),
        ),
        Ended::Exited(code) => {
            let message = error_line().unwrap_or_else(|| format!("the benchmark exited {code}"));
            if out_of_memory(&message) {
                fail(FailureKind::UserError, format!("{}: {message}", memory()))
            } else {
                fail(FailureKind::UserError, message)
            }
        }
        Ended::Stopped => fail(
            FailureKind::InfraError,
            "the worker stopped the benchmark (cancelled, or its lease was lost)".into(),
        ),
        Ended::TimedOut => fail(
            FailureKind::Timeout,
            format!(
                "the benchmark ran past its time limit of {} s and was stopped",
                limits.wall.as_secs()
            ),
        ),
        Ended::Signal(sig) => {
            let name = signal_name(sig);
            if sig == libc::SIGXCPU {
                fail(
                    FailureKind::Timeout,
                    format!(
                        "the benchmark used up its {} s of CPU time",
                        limits.cpu_seconds
                    ),
                )
            } else if sig == libc::SIGABRT && out_of_memory(&run.stderr) {
                fail(FailureKind::UserError, memory())
            } else if sig == libc::SIGKILL {
                // Not ours (that is TimedOut): the kernel's OOM killer.
                fail(
                    FailureKind::UserError,
                    format!("{} (killed by the kernel)", memory()),
                )
            } else {
                fail(
                    FailureKind::UserError,
                    format!("the engine died by signal {name} running this model"),
                )
            }
        }
    }
}

/// Whether an engine's or the allocator's words say memory ran out.
fn out_of_memory(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    [
        "memory allocation",
        "failed to allocate",
        "bad_alloc",
        "out of memory",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// `SIGSEGV`, `SIGABRT`, … or the number.
pub fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGABRT => "SIGABRT".into(),
        libc::SIGBUS => "SIGBUS".into(),
        libc::SIGILL => "SIGILL".into(),
        libc::SIGFPE => "SIGFPE".into(),
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGXCPU => "SIGXCPU".into(),
        libc::SIGXFSZ => "SIGXFSZ".into(),
        libc::SIGTERM => "SIGTERM".into(),
        n => format!("{n}"),
    }
}
