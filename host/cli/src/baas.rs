//! `baas`: the seed's `bonseyes_baas_cli`, a client of a running service.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use lpdnn_baas_api::{
    Device, DeviceCatalog, EngineName, ExportFormat, ExportTable, Job, JobOptions, JobResult,
    JobStatus, ResultFormat,
};
use lpdnn_client::{Client, Target};

/// `lpdnn-host baas` arguments.
#[derive(Args)]
pub struct BaasArgs {
    /// The service's address.
    #[arg(
        long,
        global = true,
        env = "LPDNN_BAAS_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// Bearer token (the SECRET of the service's --token OWNER=SECRET).
    #[arg(long, global = true, env = "LPDNN_BAAS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(subcommand)]
    pub command: BaasCommand,
}

/// How `baas result` shows a report: as `benchmark` prints it, or as one of
/// the service's formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shown {
    /// As `benchmark` prints it.
    Text,
    /// The report's JSON.
    Json,
    /// Its per-stage CSV.
    Csv,
    /// Its HTML page.
    Html,
}

/// What to ask the service.
#[derive(Subcommand)]
pub enum BaasCommand {
    /// Upload a model (ONNX, TFLite) or an app bundle (.tar, .tar.gz, .zip)
    /// to benchmark on a platform.
    #[command(after_help = "\
Example:
  lpdnn-host baas submit --model-path face.onnx --engine onnx --profile default \\
      --platform x86_64-linux --wait

Exit status with --wait: 0 the job passed, 1 it failed or was cancelled (the reason on stderr).")]
    Submit {
        /// The model or app bundle.
        #[arg(long)]
        model_path: PathBuf,
        /// Engine: onnx, tflite, lpdnn, tensorrt, ncnn, acl (or our names).
        #[arg(long)]
        engine: String,
        /// Profile of the platform (the set of library versions).
        #[arg(long)]
        profile: String,
        /// Platform (see `baas devices`).
        #[arg(long)]
        platform: String,
        /// cpu, gpu or npu.
        #[arg(long, default_value = "cpu")]
        device: Device,
        /// Wait for the result and print it as `benchmark` does.
        #[arg(long)]
        wait: bool,
        /// Give up waiting after this many seconds (the job goes on).
        #[arg(long, default_value_t = 3600)]
        wait_timeout: u64,
        /// Engine threads.
        #[arg(long)]
        threads: Option<usize>,
        /// Steady-state passes.
        #[arg(long)]
        number: Option<u64>,
        /// Steady-state seconds.
        #[arg(long)]
        duration: Option<f64>,
        /// Warm-up iterations.
        #[arg(long)]
        warmup: Option<u64>,
        /// A bare model's input shape, NAME=1,3,224,224 (repeat).
        #[arg(long = "input-shape", value_name = "NAME=DIMS")]
        input_shapes: Vec<String>,
        /// Per-layer times over N profiled runs (as `benchmark --layers`).
        #[arg(long, value_name = "N")]
        layers: Option<u64>,
        /// Check the outputs against this engine's on the same worker.
        #[arg(long, value_name = "ENGINE")]
        check_against: Option<EngineName>,
    },
    /// Your jobs (those of your token; all jobs on a service without
    /// tokens), newest first.
    List {
        /// At most this many (1 to 1000).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A job's state.
    Status {
        /// The job's id.
        id: String,
    },
    /// A passed job's result.
    Result {
        /// The job's id.
        id: String,
        /// text (as `benchmark` prints it), json, csv or html.
        #[arg(long, value_enum, default_value_t = Shown::Text)]
        format: Shown,
        /// Write it to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Cancel a queued or running job.
    Cancel {
        /// The job's id.
        id: String,
    },
    /// Run a finished job again.
    Retry {
        /// The job's id.
        id: String,
    },
    /// The platforms, profiles and engines the service offers now.
    Devices {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The profiling dataset: one row per passed job.
    Export {
        /// csv or jsonl.
        #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
        format: ExportFormat,
        /// jobs (a row per passed job) or layers (a row per layer of the
        /// jobs that timed their layers).
        #[arg(long, value_enum, default_value_t = ExportTable::Jobs)]
        table: ExportTable,
        /// Only jobs finished at or after this time (RFC 3339, or ms since 1970).
        #[arg(long)]
        since: Option<String>,
        /// Write it to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// One line about a job.
fn line(job: &Job) -> String {
    let mut out = format!("job {}: {}", job.id, job.status);
    if let Some(r) = job.result {
        out.push_str(&format!(", {r}"));
    }
    if let Some(f) = job.failure {
        out.push_str(&format!(" ({f})"));
    }
    if let Some(p) = &job.progress {
        out.push_str(&format!(" — {} {}", p.engine, p.phase));
        if let Some(f) = p.fraction {
            out.push_str(&format!(" {:.0} %", f * 100.0));
        }
    }
    if let Some(m) = &job.message {
        out.push_str(&format!(": {m}"));
    }
    out
}

fn write_out(text: &str, output: Option<PathBuf>) -> Result<()> {
    match output {
        Some(path) => {
            crate::write_atomically(&path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// The result as `benchmark` prints it.
fn text(json: &str) -> Result<String> {
    let report: lpdnn_bench::Report =
        serde_json::from_str(json).context("the service's result is not a benchmark report")?;
    Ok(lpdnn_bench::text_report(
        &report,
        lpdnn_bench::Detail::Brief,
    ))
}

/// Runs `baas`.
pub fn baas(args: BaasArgs) -> Result<ExitCode> {
    let client = Client::new(&args.url, args.token)?;
    match args.command {
        BaasCommand::Submit {
            model_path,
            engine,
            profile,
            platform,
            device,
            wait,
            wait_timeout,
            threads,
            number,
            duration,
            warmup,
            input_shapes,
            layers,
            check_against,
        } => {
            let target = Target {
                platform,
                profile,
                engine,
                device,
            };
            let options = JobOptions {
                threads,
                number,
                duration_s: duration,
                warmup,
                input_shapes,
                name: None,
                layers,
                check_against,
            };
            let job = client.submit(&model_path, &target, &options)?;
            if !wait {
                eprintln!("{}", line(&job));
                println!("{}", job.id);
                return Ok(ExitCode::SUCCESS);
            }
            let job = client.wait(&job.id, Duration::from_secs(wait_timeout), |j| {
                eprintln!("{}", line(j))
            })?;
            match (job.status, job.result) {
                (JobStatus::Completed, Some(JobResult::Passed)) => {
                    print!("{}", text(&client.result(&job.id, ResultFormat::Json)?)?);
                    Ok(ExitCode::SUCCESS)
                }
                (JobStatus::Completed | JobStatus::Cancelled, _) => Ok(ExitCode::FAILURE),
                _ => {
                    eprintln!(
                        "still {} after {wait_timeout} s; see `lpdnn-host baas status {}`",
                        job.status, job.id
                    );
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        BaasCommand::List { limit, json } => {
            let jobs = client.jobs(limit)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&jobs)?);
            } else {
                print!("{}", jobs_table(&jobs, now_ms()));
            }
            Ok(ExitCode::SUCCESS)
        }
        BaasCommand::Status { id } => {
            let job = client.job(&id)?;
            println!("{}", line(&job));
            Ok(ExitCode::SUCCESS)
        }
        BaasCommand::Result { id, format, output } => {
            let body = match format {
                Shown::Text => text(&client.result(&id, ResultFormat::Json)?)?,
                Shown::Json => client.result(&id, ResultFormat::Json)?,
                Shown::Csv => client.result(&id, ResultFormat::Csv)?,
                Shown::Html => client.result(&id, ResultFormat::Html)?,
            };
            write_out(&body, output)?;
            Ok(ExitCode::SUCCESS)
        }
        BaasCommand::Cancel { id } => {
            println!("{}", line(&client.cancel(&id)?));
            Ok(ExitCode::SUCCESS)
        }
        BaasCommand::Retry { id } => {
            let job = client.retry(&id)?;
            eprintln!("{}", line(&job));
            println!("{}", job.id);
            Ok(ExitCode::SUCCESS)
        }
        BaasCommand::Devices { json } => {
            let devices = client.devices()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&devices)?);
            } else {
                print!("{}", devices_table(&devices));
            }
            Ok(ExitCode::SUCCESS)
        }
        BaasCommand::Export {
            format,
            table,
            since,
            output,
        } => {
            write_out(&client.export(format, table, since.as_deref())?, output)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The catalog as a table: one line per worker, its engines below it.
fn devices_table(catalog: &DeviceCatalog) -> String {
    let mut out = String::new();
    let list = &catalog.devices;
    if list.is_empty() {
        return "no worker has registered yet\n".into();
    }
    out.push_str(&format!(
        "{:<24} {:<12} {:<10} {:>6}  {}\n",
        "PLATFORM", "PROFILE", "STATE", "QUEUED", "LAST SEEN"
    ));
    for d in list {
        let state = if d.available { "up" } else { "absent" };
        out.push_str(&format!(
            "{:<24} {:<12} {:<10} {:>6}  {}\n",
            d.platform, d.profile, state, d.queue_depth, d.last_seen,
        ));
        for e in &d.engines {
            let devices: Vec<&str> = e.devices.iter().map(|d| d.as_str()).collect();
            out.push_str(&format!(
                "    {:<12} {:<22} {}\n",
                e.name.as_str(),
                e.version.as_deref().unwrap_or("-"),
                devices.join(", ")
            ));
        }
    }
    out
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `s` cut to `width` characters, `…` marking a cut.
fn cell(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// How long ago `ms` was, in one short word (`42s`, `5m`, `3h`, `12d`).
fn age(ms: i64, now: i64) -> String {
    let s = (now - ms).max(0) / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// The jobs as a table of at most 100 columns: the full id (what `status`
/// and `result` take), the state, where it ran and the uploaded file's name.
fn jobs_table(jobs: &[Job], now: i64) -> String {
    if jobs.is_empty() {
        return "no jobs yet\n".into();
    }
    let row = |cols: [&str; 6]| {
        format!(
            "{:<36} {:<19} {:<11} {:<13} {:>5} {}\n",
            cols[0],
            cell(cols[1], 19),
            cell(cols[2], 11),
            cell(cols[3], 13),
            cols[4],
            cell(cols[5], 11)
        )
    };
    let mut out = row(["ID", "STATE", "ENGINE", "PLATFORM", "AGE", "NAME"]);
    for job in jobs {
        let state = match (job.result, job.failure) {
            (Some(JobResult::Passed), _) => "passed".to_owned(),
            (Some(JobResult::Failed), Some(f)) => format!("failed: {f}"),
            (Some(JobResult::Failed), None) => "failed".to_owned(),
            (None, _) => job.status.to_string(),
        };
        let name = job
            .spec
            .options
            .name
            .as_deref()
            .unwrap_or(match job.spec.subject {
                lpdnn_baas_api::SubjectKind::Model => "-",
                lpdnn_baas_api::SubjectKind::Bundle => "(bundle)",
            });
        out.push_str(&row([
            &job.id,
            &state,
            job.spec.engine.as_str(),
            &job.spec.platform,
            &age(job.created_ms, now),
            name,
        ]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpdnn_baas_api::{FailureKind, JobOptions, JobSpec, SubjectKind};

    fn job(name: Option<&str>, result: Option<JobResult>) -> Job {
        Job {
            id: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
            owner: "alice".into(),
            spec: JobSpec {
                platform: "raspberry-pi-3b-plus-with-a-long-name".into(),
                profile: "default".into(),
                engine: lpdnn_baas_api::EngineName::OnnxRuntime,
                device: lpdnn_baas_api::Device::Cpu,
                subject: SubjectKind::Model,
                sha256: "ab".repeat(32),
                format: "ONNX".into(),
                options: JobOptions {
                    name: name.map(str::to_owned),
                    ..JobOptions::default()
                },
            },
            status: JobStatus::Completed,
            result,
            failure: result
                .filter(|r| *r == JobResult::Failed)
                .map(|_| FailureKind::InfraError),
            message: None,
            attempts: 1,
            worker: None,
            created_ms: 0,
            started_ms: None,
            finished_ms: None,
            retry_of: None,
            sandbox: None,
            progress: None,
        }
    }

    #[test]
    fn the_jobs_table_fits_100_columns_and_keeps_whole_ids() {
        let jobs = [
            job(
                Some(&"a very long model name ".repeat(9)),
                Some(JobResult::Failed),
            ),
            job(None, Some(JobResult::Passed)),
        ];
        let table = jobs_table(&jobs, 90_000_000);
        assert!(table.lines().all(|l| l.chars().count() <= 100), "{table}");
        assert!(
            table.contains("0f8fad5b-d9cb-469f-a165-70867728950e"),
            "{table}"
        );
        assert!(table.contains("failed: infra_error"), "{table}");
        assert!(table.contains(" 1d "), "{table}");
        assert_eq!(jobs_table(&[], 0), "no jobs yet\n");
    }
}
