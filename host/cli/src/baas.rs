//! `baas`: the seed's `bonseyes_baas_cli`, a client of a running service.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use lpdnn_baas_api::{
    CellView, Device, DeviceCatalog, EngineName, ExportFormat, ExportTable, GroupView, Job,
    JobOptions, JobResult, JobStatus, ResultFormat,
};
use lpdnn_client::{Client, Sweep, Target};

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
    /// to benchmark on a platform, or on several at once (a sweep).
    #[command(after_help = "\
Examples:
  lpdnn-host baas submit --model-path face.onnx --engine onnx --profile default \\
      --platform x86_64-linux --wait
  lpdnn-host baas submit --model-path face.onnx --engine lne,onnx --profile default \\
      --platform x86_64-linux,raspberry-pi-4b --wait

A list in --platform, --profile, --engine, --device or --threads makes a sweep: one job per
combination, in one group whose report puts the cells side by side (`baas group ID`).

Exit status with --wait: 0 the job (every job of a sweep) passed, 1 otherwise (the reasons on
stderr; a sweep's report still shows the cells that passed).")]
    Submit {
        /// The model or app bundle.
        #[arg(long)]
        model_path: PathBuf,
        /// Engine: onnx, tflite, lpdnn, tensorrt, ncnn, acl (or our names); a
        /// comma-separated list sweeps them.
        #[arg(long, value_delimiter = ',', required = true)]
        engine: Vec<String>,
        /// Profile of the platform (the set of library versions); a list
        /// sweeps them.
        #[arg(long, value_delimiter = ',', required = true)]
        profile: Vec<String>,
        /// Platform (see `baas devices`); a list sweeps them.
        #[arg(long, value_delimiter = ',', required = true)]
        platform: Vec<String>,
        /// cpu, gpu or npu; a list sweeps them.
        #[arg(long, value_delimiter = ',', default_value = "cpu")]
        device: Vec<Device>,
        /// Wait for the result and print it as `benchmark` does.
        #[arg(long)]
        wait: bool,
        /// Give up waiting after this many seconds (the job goes on).
        #[arg(long, default_value_t = 3600)]
        wait_timeout: u64,
        /// Engine threads; a list sweeps them.
        #[arg(long, value_delimiter = ',')]
        threads: Vec<usize>,
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
    /// A sweep's job group: each cell's state, or with --report its
    /// comparison report once every cell ended.
    Group {
        /// The group's id.
        id: String,
        /// The report instead of the cells' states.
        #[arg(long)]
        report: bool,
        /// The report as text (as `benchmark` prints it), json, csv or html.
        #[arg(long, value_enum, default_value_t = Shown::Text, requires = "report")]
        format: Shown,
        /// Write the report to this file instead of standard output.
        #[arg(long, short, requires = "report")]
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

/// A report fetched by `fetch` in the service's format for `format`, text
/// made from its JSON.
fn shown(
    format: Shown,
    fetch: impl Fn(ResultFormat) -> Result<String, lpdnn_client::ClientError>,
) -> Result<String> {
    Ok(match format {
        Shown::Text => text(&fetch(ResultFormat::Json)?)?,
        Shown::Json => fetch(ResultFormat::Json)?,
        Shown::Csv => fetch(ResultFormat::Csv)?,
        Shown::Html => fetch(ResultFormat::Html)?,
    })
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
            let options = JobOptions {
                threads: threads.first().copied(),
                number,
                duration_s: duration,
                warmup,
                input_shapes,
                name: None,
                layers,
                check_against,
            };
            let lists = [
                platform.len(),
                profile.len(),
                engine.len(),
                device.len(),
                threads.len(),
            ];
            if lists.iter().any(|n| *n > 1) {
                let sweep = Sweep {
                    platforms: platform,
                    profiles: profile,
                    engines: engine,
                    devices: device,
                    threads,
                };
                return submit_sweep(&client, &model_path, &sweep, &options, wait, wait_timeout);
            }
            let one = |v: Vec<String>| v.into_iter().next().unwrap_or_default();
            let target = Target {
                platform: one(platform),
                profile: one(profile),
                engine: one(engine),
                device: device.first().copied().unwrap_or_default(),
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
            write_out(&shown(format, |f| client.result(&id, f))?, output)?;
            Ok(ExitCode::SUCCESS)
        }
        BaasCommand::Group {
            id,
            report,
            format,
            output,
        } => {
            if !report {
                print!("{}", group_table(&client.group(&id)?));
                return Ok(ExitCode::SUCCESS);
            }
            write_out(&shown(format, |f| client.group_report(&id, f))?, output)?;
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

/// Submits a sweep; with `wait`, waits for every cell and prints the
/// group's report (exit 0 only when every cell passed).
fn submit_sweep(
    client: &Client,
    model: &std::path::Path,
    sweep: &Sweep,
    options: &JobOptions,
    wait: bool,
    wait_timeout: u64,
) -> Result<ExitCode> {
    let group = client.submit_sweep(model, sweep, options)?;
    if !wait {
        eprint!("{}", group_table(&group));
        println!("{}", group.id);
        return Ok(ExitCode::SUCCESS);
    }
    // A line when the count of ended jobs changes, not at each progress.
    let mut said = String::new();
    let group = client.wait_group(&group.id, Duration::from_secs(wait_timeout), |g| {
        let line = group_line(g);
        if line != said {
            eprintln!("{line}");
            said = line;
        }
    })?;
    if !group.ended() {
        eprintln!(
            "still {} after {wait_timeout} s; see `lpdnn-host baas group {}`",
            group.status, group.id
        );
        return Ok(ExitCode::FAILURE);
    }
    let passed = |c: &CellView| {
        c.job
            .as_ref()
            .is_some_and(|j| j.job.result == Some(JobResult::Passed))
    };
    if group.cells.iter().any(passed) {
        print!(
            "{}",
            text(&client.group_report(&group.id, ResultFormat::Json)?)?
        );
    } else {
        eprint!("{}", group_table(&group));
    }
    Ok(if group.cells.iter().all(passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A cell's state in one word or a few.
fn cell_state(c: &CellView) -> String {
    match &c.job {
        None => "refused".to_owned(),
        Some(j) => match (j.job.result, j.job.failure) {
            (Some(JobResult::Passed), _) => "passed".to_owned(),
            (Some(JobResult::Failed), Some(f)) => format!("failed: {f}"),
            (Some(JobResult::Failed), None) => "failed".to_owned(),
            (None, _) => j.job.status.to_string(),
        },
    }
}

/// One line about a group: how many of its cells ended.
fn group_line(g: &GroupView) -> String {
    let queued = g.cells.iter().filter(|c| c.job.is_some()).count();
    let ended = g
        .cells
        .iter()
        .filter_map(|c| c.job.as_ref())
        .filter(|j| matches!(j.job.status, JobStatus::Completed | JobStatus::Cancelled))
        .count();
    let refused = g.cells.len() - queued;
    let mut line = format!(
        "group {}: {}, {ended} of {queued} job(s) ended",
        g.id, g.status
    );
    if refused > 0 {
        line.push_str(&format!(", {refused} cell(s) refused"));
    }
    line
}

/// A group's cells as a table of at most 100 columns (with each job's
/// full id, what `status` and `result` take), then why each refused or
/// failed cell did not pass.
fn group_table(g: &GroupView) -> String {
    let mut out = format!("{}\n", group_line(g));
    let row = |cols: [&str; 6]| {
        format!(
            "{:<24} {:<11} {:<3} {:>3} {:<18} {}\n",
            cell(cols[0], 24),
            cell(cols[1], 11),
            cols[2],
            cols[3],
            cell(cols[4], 18),
            cols[5]
        )
    };
    out.push_str(&row(["WHERE", "ENGINE", "DEV", "THR", "STATE", "JOB"]));
    for c in &g.cells {
        let threads = c.cell.threads.map_or("-".into(), |t| t.to_string());
        out.push_str(&row([
            &format!("{}/{}", c.cell.platform, c.cell.profile),
            c.cell.engine.as_str(),
            c.cell.device.as_str(),
            &threads,
            &cell_state(c),
            c.job.as_ref().map_or("-", |j| j.job.id.as_str()),
        ]));
    }
    for c in &g.cells {
        let why = match &c.job {
            None => c.refused.clone(),
            Some(j) if j.job.result == Some(JobResult::Failed) => j.job.message.clone(),
            Some(_) => None,
        };
        if let Some(why) = why {
            let line = format!(
                "{} on {}/{}: {why}",
                c.cell.engine, c.cell.platform, c.cell.profile
            );
            let options = textwrap::Options::new(100).subsequent_indent("    ");
            for part in textwrap::wrap(&line, options) {
                out.push_str(&part);
                out.push('\n');
            }
        }
    }
    out
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
