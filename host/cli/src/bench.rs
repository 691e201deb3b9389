//! `benchmark`, `inspect` and `compare`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use lpdnn_app::{App, Runtime};
use lpdnn_bench::{
    BenchConfig, BenchError, Benchmark, Build, Detail, EngineRun, Event, ModelInputs, Observer,
    Report, Sample, Stop, Subject, WarmupPlan,
};
use lpdnn_bench_api::{BenchRequest, Warmup};
use lpdnn_engine_api::{Device, ModelFormat};
use lpdnn_monitors::MonitorConfig;

use crate::write_atomically;

/// `lpdnn-host benchmark` arguments (the seed's flags kept: --dataset,
/// --number, --filename).
#[derive(Args)]
pub struct BenchmarkArgs {
    /// The app file (app.json), or a bare model (.onnx, .tflite, NCNN .param)
    /// to time on its engine alone.
    pub app: PathBuf,
    /// An app's inputs: a folder of images, WAV files or recordings, or one file.
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// A bare model's input shape, NAME=1,3,224,224 (repeat for several);
    /// needed for every input with an open dimension.
    #[arg(long = "input-shape", value_name = "NAME=DIMS")]
    pub input_shapes: Vec<String>,
    /// A bare model's inputs: a folder of NAME.npy files (one set), or of
    /// folders of them (one set each). Default: seeded synthetic tensors.
    #[arg(long, conflicts_with = "input_shapes")]
    pub inputs: Option<PathBuf>,
    /// Seed of a bare model's synthetic inputs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Passes over the dataset in the steady state.
    #[arg(long, short = 'n', visible_alias = "iterations")]
    pub number: Option<u64>,
    /// Steady-state duration, seconds. With --number, whichever ends first;
    /// with neither, 5 s.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Warm-up iterations.
    #[arg(long, group = "warm")]
    pub warmup: Option<u64>,
    /// Warm-up time, seconds (default 0.5 s, at least one iteration).
    #[arg(long, group = "warm")]
    pub warmup_time: Option<f64>,
    /// Warm up until two successive 10-iteration windows agree within this
    /// relative tolerance (e.g. 0.02), at most 30 s.
    #[arg(long, group = "warm")]
    pub warmup_converge: Option<f64>,
    /// Engines to run, comma-separated (default: the app's). Several give a
    /// side-by-side table.
    #[arg(long, value_delimiter = ',')]
    pub engine: Vec<String>,
    /// Engine threads instead of the app's.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Device instead of the app's: cpu, gpu or npu.
    #[arg(long)]
    pub device: Option<Device>,
    /// Write the results as JSON to FILE, an HTML report to FILE with .html,
    /// and the predictions to STEM.results.txt beside them (checked writable
    /// before the run).
    #[arg(long)]
    pub filename: Option<PathBuf>,
    /// Also write per-anchor statistics as CSV.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Stream every steady-state sample (engine, iteration, input, anchor,
    /// t, real ms, CPU ms, bytes allocated) as CSV to this file.
    #[arg(long)]
    pub samples: Option<PathBuf>,
    /// Time the engine alone (as onnxruntime_perf_test, benchmark_model and
    /// benchncnn do): inputs are pre-processed once, outside the timings, and
    /// only the inference stage is run and reported.
    #[arg(long)]
    pub inference_only: bool,
    /// After the steady state, time each layer of the model over N more runs
    /// of a second, profiled copy (alternated with the unprofiled model, to
    /// show what profiling costs), on the engines that can: ONNX Runtime, LNE
    /// and LiteRT (by XNNPACK operator type). The text shows the slowest
    /// layers; the JSON and HTML every one.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "100")]
    pub layers: Option<u64>,
    /// After the steady state, run every input through this engine too and
    /// compare each output: max absolute and relative error, cosine
    /// similarity, top-1/top-5 agreement of class scores, matched boxes; a
    /// verdict per engine (agrees within --tolerance, or differs).
    #[arg(long, value_name = "ENGINE")]
    pub check_against: Option<String>,
    /// The model file the --check-against engine runs (a bare model's
    /// reference: the unquantised original, say); default: the same file.
    #[arg(long, value_name = "FILE", requires = "check_against")]
    pub reference_model: Option<PathBuf>,
    /// Largest relative error (max |a − r| over max |r|) that agrees.
    #[arg(long, default_value_t = lpdnn_bench::CheckAgainst::DEFAULT_TOLERANCE, requires = "check_against")]
    pub tolerance: f64,
    /// Exit 1, naming them on stderr, when an engine's outputs differ from
    /// the --check-against reference (or could not be checked): a CI gate.
    #[arg(long, requires = "check_against")]
    pub fail_if_differs: bool,
    /// Monitor sampling interval, ms.
    #[arg(long, default_value_t = 100)]
    pub monitor_interval: u64,
    /// Run without the resource monitors.
    #[arg(long)]
    pub no_monitors: bool,
    /// Before each engine's run, wait until the hottest temperature sensor
    /// is at or below this (°C).
    #[arg(long)]
    pub cooldown: Option<f64>,
    /// Print every statistic and each resource's source or reason (the
    /// default text keeps to 100 columns).
    #[arg(long, short = 'v')]
    pub wide: bool,
    /// Give up cooling down after this many seconds.
    #[arg(long, default_value_t = 300.0)]
    pub cooldown_timeout: f64,
    /// Report progress as events on standard output instead of a progress
    /// bar (a benchmark child does, for whoever started it).
    #[arg(skip)]
    pub progress_json: bool,
    /// Narrow this process's filesystem with Landlock before reading
    /// anything (a service's worker asks for it): read the system, the
    /// binary and the lpdnn cache; write the current folder only.
    #[arg(long, hide = true)]
    pub landlock: bool,
    /// Benchmark on a remote target over SSH (host, port, user, key,
    /// platform, workdir, env): the deployment package and the dataset are
    /// copied there, the package's lpdnn-host runs the benchmark, and the
    /// result files come back here. APP is then an app of the package.
    #[arg(long, value_name = "TARGET.json", requires_all = ["deployment_package", "dataset"])]
    pub target_config: Option<PathBuf>,
    /// The deployment package for --target-config (`lpdnn-host package`).
    #[arg(long, value_name = "DIR", requires = "target_config")]
    pub deployment_package: Option<PathBuf>,
    /// The report's title (default: the app's name, or the model's file
    /// name).
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
    /// Run every engine in this one process. By default each of several
    /// engines runs in a process of its own, so that its memory, threads and
    /// libraries are its own, not also those of the engines before it.
    #[arg(long)]
    pub same_process: bool,
    /// The child's side of a several-engine benchmark: run only this
    /// engine and report to the parent on standard output (its request
    /// says so; see `--same-process`).
    #[arg(skip)]
    pub engine_child: Option<String>,
    /// The global settings a child inherits.
    #[arg(skip)]
    pub host: HostSettings,
}

/// The global settings (`--max-file-size`, `--cache-dir`, `--no-deadline`)
/// that a benchmark's children run with too.
#[derive(Clone, Default)]
pub struct HostSettings {
    /// `--max-file-size`.
    pub max_file_bytes: Option<u64>,
    /// `--cache-dir`, or its default.
    pub cache_dir: Option<PathBuf>,
    /// `--no-deadline`.
    pub no_deadline: bool,
}

fn secs(name: &str, v: f64) -> Result<Duration> {
    if !(v.is_finite() && v > 0.0) {
        bail!("--{name} must be a positive number of seconds, not {v}");
    }
    Ok(Duration::from_secs_f64(v))
}

/// Runs `benchmark --target-config`: on the target, over SSH.
fn remote(args: &BenchmarkArgs, config: &Path) -> Result<ExitCode> {
    for (given, flag) in [
        (args.inputs.is_some(), "--inputs"),
        (args.csv.is_some(), "--csv"),
        (args.samples.is_some(), "--samples"),
    ] {
        if given {
            bail!("{flag} is not available with --target-config (the result's JSON has it all)");
        }
    }
    let target = lpdnn_remote::TargetConfig::load(config)?;
    let package = args.deployment_package.clone().expect("clap requires it");
    // The app: a name in the package, or a local app of that name.
    let app = match lpdnn_app::App::load(&args.app) {
        Ok(a) => a.name,
        Err(_) => args.app.to_string_lossy().into_owned(),
    };
    let job = lpdnn_remote::RemoteBenchmark {
        request: args.request(),
        target,
        package,
        app,
        dataset: args.dataset.clone().expect("clap requires it"),
        filename: args.filename.clone(),
    };
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let label = job.target.label();
    let outcome = job.run(&mut |e| match e {
        lpdnn_remote::Event::Step(s) => bar.set_message(format!("{label}: {s}")),
        lpdnn_remote::Event::Progress(p) => {
            let of = p.total.map_or(String::new(), |t| format!("/{t}"));
            bar.set_message(format!(
                "{label}: {} {} {}{of} ({:.1} s)",
                p.engine, p.phase, p.done, p.elapsed_s
            ));
        }
        lpdnn_remote::Event::Line(l) => bar.suspend(|| println!("{l}")),
        lpdnn_remote::Event::Stderr(l) => bar.suspend(|| eprintln!("{l}")),
    });
    bar.finish_and_clear();
    let outcome = outcome?;
    for f in &outcome.written {
        eprintln!("wrote {}", f.display());
    }
    Ok(match outcome.status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

impl BenchmarkArgs {
    /// The request a benchmark child reads for these arguments (what
    /// travels to a remote target's `benchmark-child`).
    pub fn request(&self) -> BenchRequest {
        let mut r = BenchRequest::new(&self.app);
        r.dataset = self.dataset.clone();
        r.inputs = self.inputs.clone();
        r.input_shapes = self.input_shapes.clone();
        r.seed = self.seed;
        r.engines = self.engine.clone();
        r.device = self.device;
        r.threads = self.threads;
        r.number = self.number;
        r.duration_s = self.duration;
        r.warmup = match (self.warmup, self.warmup_time, self.warmup_converge) {
            (Some(n), _, _) => Some(Warmup::Iterations(n)),
            (_, Some(t), _) => Some(Warmup::Seconds(t)),
            (_, _, Some(tol)) => Some(Warmup::Converge(tol)),
            _ => None,
        };
        r.inference_only = self.inference_only;
        r.layers = self.layers;
        r.check_against = self.check_against.clone();
        r.reference_model = self.reference_model.clone();
        r.tolerance = Some(self.tolerance);
        r.monitor_interval_ms = (!self.no_monitors).then_some(self.monitor_interval);
        r.cooldown_c = self.cooldown;
        r.cooldown_timeout_s = self.cooldown_timeout;
        r.wide = self.wide;
        r.title = self.title.clone();
        r.filename = self.filename.clone();
        r.csv = self.csv.clone();
        r.samples = self.samples.clone();
        r.same_process = self.same_process;
        r.landlock = self.landlock;
        r.max_file_bytes = self.host.max_file_bytes;
        r.cache_dir = self.host.cache_dir.clone();
        r.no_deadline = self.host.no_deadline;
        r.engine_child = self.engine_child.clone();
        r
    }

    /// The arguments of a child's request: the same benchmark, reporting
    /// as events instead of a progress bar.
    pub fn from_request(r: BenchRequest) -> Self {
        let (warmup, warmup_time, warmup_converge) = match r.warmup {
            Some(Warmup::Iterations(n)) => (Some(n), None, None),
            Some(Warmup::Seconds(t)) => (None, Some(t), None),
            Some(Warmup::Converge(tol)) => (None, None, Some(tol)),
            None => (None, None, None),
        };
        BenchmarkArgs {
            app: r.subject,
            dataset: r.dataset,
            input_shapes: r.input_shapes,
            inputs: r.inputs,
            seed: r.seed,
            number: r.number,
            duration: r.duration_s,
            warmup,
            warmup_time,
            warmup_converge,
            engine: r.engines,
            threads: r.threads,
            device: r.device,
            filename: r.filename,
            csv: r.csv,
            samples: r.samples,
            inference_only: r.inference_only,
            layers: r.layers,
            check_against: r.check_against,
            reference_model: r.reference_model,
            tolerance: r
                .tolerance
                .unwrap_or(lpdnn_bench::CheckAgainst::DEFAULT_TOLERANCE),
            fail_if_differs: false,
            monitor_interval: r.monitor_interval_ms.unwrap_or(100),
            no_monitors: r.monitor_interval_ms.is_none(),
            cooldown: r.cooldown_c,
            wide: r.wide,
            cooldown_timeout: r.cooldown_timeout_s,
            progress_json: true,
            landlock: r.landlock,
            target_config: None,
            deployment_package: None,
            title: r.title,
            same_process: r.same_process,
            engine_child: r.engine_child,
            host: HostSettings {
                max_file_bytes: r.max_file_bytes,
                cache_dir: r.cache_dir,
                no_deadline: r.no_deadline,
            },
        }
    }
}

/// The largest request `benchmark-child` reads.
const REQUEST_BYTES: u64 = 1 << 20;

/// Reads `benchmark-child`'s request: one JSON [`BenchRequest`] on standard
/// input, of this binary's protocol.
pub fn read_request() -> Result<BenchRequest> {
    use std::io::Read;
    let mut text = String::new();
    std::io::stdin()
        .take(REQUEST_BYTES)
        .read_to_string(&mut text)
        .context("benchmark-child: reading the request on standard input")?;
    // The protocol first, so an old or new sender hears what differs.
    let protocol = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("protocol").and_then(|p| p.as_u64()));
    if protocol != Some(u64::from(lpdnn_bench_api::PROTOCOL)) {
        bail!(
            "benchmark-child: the request is of protocol {}, this lpdnn-host {} reads protocol {}",
            protocol.map_or("(none)".to_owned(), |p| p.to_string()),
            env!("CARGO_PKG_VERSION"),
            lpdnn_bench_api::PROTOCOL
        );
    }
    serde_json::from_str(&text).context("benchmark-child: the request on standard input")
}

/// Runs `benchmark`.
pub fn benchmark(runtime: &Runtime, args: BenchmarkArgs) -> Result<ExitCode> {
    if let Some(config) = &args.target_config {
        return remote(&args, config);
    }
    if let Some(Err(m)) = args.threads.map(lpdnn_engine_api::check_threads) {
        bail!("--threads: {m}");
    }
    if args.number == Some(0) {
        bail!("--number must be at least 1");
    }
    if args.monitor_interval == 0 {
        bail!("--monitor-interval must be at least 1 ms");
    }
    let warmup = match (args.warmup, args.warmup_time, args.warmup_converge) {
        (Some(n), _, _) => WarmupPlan::Iterations(n),
        (_, Some(t), _) => WarmupPlan::Time(secs("warmup-time", t)?),
        (_, _, Some(tol)) => {
            if !(tol > 0.0 && tol < 1.0) {
                bail!("--warmup-converge must be a relative tolerance between 0 and 1, e.g. 0.02");
            }
            WarmupPlan::Converge {
                tolerance: tol,
                window: 10,
                max_time: Duration::from_secs(30),
            }
        }
        _ => WarmupPlan::Time(Duration::from_millis(500)),
    };
    let duration = args.duration.map(|d| secs("duration", d)).transpose()?;
    if args.cooldown.is_some() && lpdnn_monitors::max_temperature().is_none() {
        bail!("--cooldown: {}", lpdnn_monitors::CoolDownError::NoSensor);
    }
    let (subject, format) = subject(&args)?;
    let engines = if !args.engine.is_empty() {
        args.engine.clone()
    } else {
        match &subject {
            Subject::App { app, .. } => vec![app.engine.name.clone()],
            Subject::Model { .. } => vec![default_engine(format)?],
        }
    };
    for e in &engines {
        lpdnn_engines::engine(e).map_err(|m| anyhow::anyhow!("--engine: {m}"))?;
    }
    let config = BenchConfig {
        threads: args.threads,
        device: args.device,
        warmup: warmup.clone(),
        stop: Stop {
            number: args.number,
            duration,
        },
        monitors: (!args.no_monitors).then(|| MonitorConfig {
            interval: Duration::from_millis(args.monitor_interval),
            board: lpdnn_monitors::BoardSensors::detect(),
            ..Default::default()
        }),
        cooldown: args
            .cooldown
            .map(|c| Ok::<_, anyhow::Error>((c, secs("cooldown-timeout", args.cooldown_timeout)?)))
            .transpose()?,
        inference_only: args.inference_only,
        layers: args.layers,
        check_against: args
            .check_against
            .clone()
            .map(|engine| lpdnn_bench::CheckAgainst {
                engine,
                model: args.reference_model.clone(),
                tolerance: args.tolerance,
            }),
    };

    // Ctrl-C, SIGTERM (timeout, systemd, containers, CI) or SIGHUP: stop
    // after the current input and write what was measured; a second one
    // quits at once (an engine's child dies with its parent; in the child
    // every signal only asks it to stop).
    let interrupt = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupt.clone();
        let child = args.engine_child.is_some();
        ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) && !child {
                std::process::exit(130);
            }
        })
        .context("installing the Ctrl-C handler")?;
    }

    let benchmark = Benchmark {
        subject,
        engines,
        config,
        source: args.app.display().to_string(),
        dataset: args
            .dataset
            .as_ref()
            .or(args.inputs.as_ref())
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
        title: args.title.clone(),
        build: Build {
            version: env!("CARGO_PKG_VERSION").into(),
            commit: env!("LPDNN_GIT_COMMIT").into(),
            target: env!("LPDNN_TARGET").into(),
            profile: env!("LPDNN_PROFILE").into(),
        },
    };
    if let Some(engine) = &args.engine_child {
        // Not the locked handle: a line an engine library prints must not
        // wait for the end of the run.
        let mut out = std::io::BufWriter::new(std::io::stdout());
        benchmark.serve_child(
            runtime,
            engine,
            args.samples.is_some(),
            &|| interrupt.load(Ordering::SeqCst),
            &mut out,
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    // Every engine is checked against the subject before anything runs.
    benchmark.check()?;

    // Every output is checked before the run, not lost after it.
    if let Some(path) = &args.filename {
        for p in output_files(path) {
            crate::check_writable("--filename", &p)?;
        }
    }
    if let Some(path) = &args.csv {
        crate::check_writable("--csv", path)?;
    }
    let samples = match &args.samples {
        Some(path) => {
            crate::check_writable("--samples", path)?;
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot write --samples {}", path.display()))?,
            );
            writeln!(
                f,
                "engine,iteration,input,anchor,t_s,real_ms,cpu_ms,alloc_bytes"
            )?;
            Some(f)
        }
        None => None,
    };

    let mut observer = Terminal {
        bar: None,
        json: args.progress_json.then_some(None),
        samples,
        interrupt,
        hints: Vec::new(),
    };
    let report = if benchmark.engines.len() > 1 && !args.same_process {
        let exe = std::env::current_exe().context("finding this program to run each engine")?;
        benchmark.run_isolated(&mut observer, &|engine| {
            // The same settings, and the engine this child runs.
            let mut request = args.request();
            request.engine_child = Some(engine.to_owned());
            let mut c = std::process::Command::new(&exe);
            c.arg("benchmark-child");
            (c, request.to_json())
        })
    } else {
        benchmark.run(runtime, &mut observer)
    };
    if let Some(mut s) = observer.samples {
        s.flush().context("writing --samples")?;
    }

    let mut out = std::io::stdout().lock();
    out.write_all(
        lpdnn_bench::text_report_without_errors(
            &report,
            if args.wide {
                Detail::Wide
            } else {
                Detail::Brief
            },
        )
        .as_bytes(),
    )?;
    out.flush()?;
    let written = write_outputs(&report, &args)?;
    if args.progress_json {
        println!(
            "{}",
            lpdnn_bench_api::ChildEvent::Written {
                files: written.clone()
            }
            .line()
        );
    }
    if !written.is_empty() {
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        eprintln!("wrote {}", names.join(", "));
    }
    for hint in &observer.hints {
        eprintln!("hint: {hint}");
    }

    let differ = if args.fail_if_differs {
        differing(&report, args.check_against.as_deref().unwrap_or_default())
    } else {
        Vec::new()
    };
    if !differ.is_empty() {
        eprintln!("outputs differ: {}", differ.join("; "));
    }
    Ok(if report.partial {
        ExitCode::from(130)
    } else if !report.errors.is_empty() || !differ.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The engines whose outputs do not agree with `reference`'s, each with
/// why (`--fail-if-differs`).
fn differing(report: &lpdnn_bench::Report, reference: &str) -> Vec<String> {
    report
        .runs
        .iter()
        .filter(|r| r.engine != reference)
        .filter_map(|r| match &r.check {
            None => Some(format!("{} was not checked (see its warnings)", r.engine)),
            Some(c) if c.verdict == lpdnn_bench::Verdict::Agrees => None,
            Some(c) => {
                let worst = c.outputs.iter().map(|o| o.max_rel).fold(0.0f64, f64::max);
                Some(format!(
                    "{} {} from {} (max relative error {worst:.2e}, tolerance {:e})",
                    r.engine,
                    c.verdict.word(),
                    c.reference,
                    c.tolerance
                ))
            }
        })
        .collect()
}

/// The benchmark's view on a terminal: a progress line per engine, the
/// `--samples` CSV, and Ctrl-C.
struct Terminal {
    bar: Option<crate::progress::EngineBar>,
    /// A child's progress events instead of the bar (`Some(None)` between
    /// engines).
    json: Option<Option<crate::progress::JsonProgress>>,
    samples: Option<std::io::BufWriter<std::fs::File>>,
    interrupt: Arc<AtomicBool>,
    /// What to do about the engines that failed, printed once after the
    /// report.
    hints: Vec<String>,
}

impl Observer for Terminal {
    fn engine_started(&mut self, engine: &str, index: usize, count: usize) {
        match &mut self.json {
            Some(lines) => *lines = Some(crate::progress::JsonProgress::new(engine)),
            None => self.bar = Some(crate::progress::EngineBar::new(engine, index, count)),
        }
    }

    fn event(&mut self, event: Event) {
        if let Some(Some(lines)) = &mut self.json {
            lines.event(event);
        } else if let Some(bar) = &mut self.bar {
            bar.event(event);
        }
    }

    fn engine_finished(&mut self, engine: &str, outcome: Result<&EngineRun, &BenchError>) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
        if let Err(e) = outcome {
            // Once, here, as it happens (the text report leaves it out).
            eprintln!("error: engine {engine}: {}", crate::error_text(e));
            if let BenchError::InputShape {
                example: Some(example),
                ..
            } = e
            {
                let hint = format!("give each size with --input-shape {example} (N: a size)");
                if !self.hints.contains(&hint) {
                    self.hints.push(hint);
                }
            }
        }
    }

    fn sample(&mut self, s: &Sample) -> std::io::Result<()> {
        if let Some(out) = &mut self.samples {
            writeln!(
                out,
                "{},{},{},{},{:.6},{:.6},{:.6},{}",
                s.engine,
                s.iteration,
                s.input.replace(',', ";"),
                s.anchor,
                s.t_s,
                s.real_ms,
                s.cpu_ms,
                s.alloc_bytes
            )?;
        }
        Ok(())
    }

    fn interrupted(&self) -> bool {
        self.interrupt.load(Ordering::SeqCst)
    }
}

/// An app over its dataset, or a bare model (which the file's bytes tell)
/// over synthetic or given tensors; with the model's format (`Unknown`
/// for an app).
fn subject(args: &BenchmarkArgs) -> Result<(Subject, ModelFormat)> {
    let format = if args.app.is_file() {
        lpdnn_engine_api::sniff_file(&args.app)
            .with_context(|| format!("cannot read {}", args.app.display()))?
    } else {
        ModelFormat::Unknown
    };
    if format == ModelFormat::Unknown {
        if let Some(hint) = lpdnn_engine_api::tensorflow_hint(&args.app) {
            bail!("{} is {hint}", args.app.display());
        }
        if !args.input_shapes.is_empty() || args.inputs.is_some() {
            bail!(
                "--input-shape and --inputs are for a bare model; {} is an app (its \
                 pre-processor makes the tensors from --dataset)",
                args.app.display()
            );
        }
        let app = App::load(&args.app)?;
        let Some(dataset) = &args.dataset else {
            bail!("--dataset is needed for an app: a folder of inputs, or one input file");
        };
        let inputs = lpdnn_bench::load_dataset(dataset, app.class)?;
        let app = Subject::App {
            app: Box::new(app),
            inputs,
        };
        return Ok((app, format));
    }
    if args.dataset.is_some() {
        bail!(
            "--dataset is for an app; {} is a{} {format} model: give its tensors with \
             --inputs DIR (NAME.npy files) or let it run on synthetic ones",
            args.app.display(),
            if format == ModelFormat::Onnx { "n" } else { "" }
        );
    }
    let inputs = match &args.inputs {
        Some(dir) => ModelInputs::Given(lpdnn_bench::load_tensor_sets(dir)?),
        None => ModelInputs::Synthetic {
            shapes: args
                .input_shapes
                .iter()
                .map(|s| parse_input_shape(s))
                .collect::<Result<_>>()?,
            seed: args.seed,
        },
    };
    let model = Subject::Model {
        path: args.app.clone(),
        inputs,
    };
    Ok((model, format))
}

/// `NAME=1,3,224,224` (also `NAME:1x3x224x224`).
fn parse_input_shape(s: &str) -> Result<(String, Vec<usize>)> {
    lpdnn_engine_api::parse_input_shape(s).map_err(|m| anyhow::anyhow!("--input-shape {m}"))
}

/// The first engine of this build that takes the model's format and can
/// run here.
fn default_engine(format: ModelFormat) -> Result<String> {
    lpdnn_engines::REGISTRY
        .iter()
        .map(|r| (r.make)())
        .find(|e| e.formats().contains(&format) && e.info().available)
        .map(|e| e.name().to_owned())
        .with_context(|| format!("no engine here runs {format} models; see `lpdnn-host engines`"))
}

/// The files `--filename FILE` writes: FILE (JSON), FILE with `.html`, and
/// the predictions in `STEM.results.txt` beside them (the seed's
/// `results.txt`, named after the result so that two runs into one folder
/// keep theirs).
fn output_files(path: &Path) -> [PathBuf; 3] {
    BenchRequest::result_files(path)
}

/// Writes the result files; returns their paths.
fn write_outputs(report: &Report, args: &BenchmarkArgs) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    if let Some(path) = &args.filename {
        let [json, html, results] = output_files(path);
        write_atomically(&json, &serde_json::to_vec_pretty(report)?)?;
        write_atomically(&html, lpdnn_bench::html_report(report).as_bytes())?;
        write_atomically(&results, results_txt(report).as_bytes())?;
        written.extend([json, html, results]);
    }
    if let Some(path) = &args.csv {
        write_atomically(path, lpdnn_bench::anchor_csv(report).as_bytes())?;
        written.push(path.clone());
    }
    Ok(written)
}

/// The seed's `results.txt`: every input's prediction, per engine.
fn results_txt(report: &Report) -> String {
    let mut out = String::new();
    for run in &report.runs {
        for p in &run.predictions {
            out.push_str(&format!("{}\t{}\t{}\n", run.engine, p.input, p.prediction));
        }
    }
    out
}

/// Runs `inspect`.
pub fn inspect(model: &Path, json: bool) -> Result<ExitCode> {
    let m = lpdnn_inspect::inspect(model)?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &m)?;
        writeln!(out)?;
    } else {
        out.write_all(m.table().as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `compare`: B against A (`b` absent: A's two `--engines`), then
/// `--fail-if-slower`'s gate (exit status 1).
pub fn compare(
    a: &Path,
    b: Option<&Path>,
    engines: &[String],
    fail_if_slower: Option<f64>,
    allow_noisy: bool,
    json: bool,
) -> Result<ExitCode> {
    let engines = match engines {
        [] => None,
        [x] => Some((x.as_str(), x.as_str())),
        [x, y] => Some((x.as_str(), y.as_str())),
        more => bail!(
            "--engines takes A's engine and B's (e.g. lne,onnxruntime), not {} engines",
            more.len()
        ),
    };
    if b.is_none() && engines.is_none_or(|(x, y)| x == y) {
        bail!(
            "with one result, --engines names two of its engines: A's and B's \
             (e.g. --engines lne,onnxruntime)"
        );
    }
    if let Some(p) = fail_if_slower {
        if !(p.is_finite() && p >= 0.0) {
            bail!("--fail-if-slower must be a percentage of at least 0, not {p}");
        }
    }
    let mut c = lpdnn_bench::compare_reports(a, b.unwrap_or(a), engines, allow_noisy)?;
    c.gate = fail_if_slower.map(|p| c.judge(p));
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &c)?;
        writeln!(out)?;
    } else {
        writeln!(out, "A = {}\nB = {}", a.display(), b.unwrap_or(a).display())?;
        out.write_all(c.table().as_bytes())?;
    }
    out.flush()?;
    // Exit status: 0 pass, 1 fail, 3 inconclusive (2 is clap's usage error).
    Ok(match &c.gate {
        None => ExitCode::SUCCESS,
        Some(g) => match g.outcome {
            lpdnn_bench::GateOutcome::Pass => ExitCode::SUCCESS,
            lpdnn_bench::GateOutcome::Fail => {
                eprintln!("{}", g.message);
                ExitCode::FAILURE
            }
            lpdnn_bench::GateOutcome::Inconclusive => {
                eprintln!("{}", g.message);
                ExitCode::from(3)
            }
        },
    })
}
