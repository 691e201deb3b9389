//! `lpdnn-host`: run and benchmark AI apps across inference engines.

mod baas;
mod bench;
mod component;
mod convert;
mod image;
mod package;
mod platform;
mod progress;
mod serve;

// Heap bytes allocated per stage, for the benchmark's anchors.
#[global_allocator]
static ALLOCATOR: lpdnn_anchors::CountingAllocator = lpdnn_anchors::CountingAllocator;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use lpdnn_app::{App, Pipeline, Prediction, RunOptions, Runtime, RuntimeConfig};
use lpdnn_engine_api::{Device, EngineInfo};
use lpdnn_platforms::Host;
use serde::Serialize;

#[derive(Parser)]
#[command(
    name = "lpdnn-host",
    version,
    about = "Deploy and benchmark AI apps across inference engines"
)]
struct Cli {
    /// Folder for compiled components (default: $LPDNN_CACHE_DIR/components or ~/.cache/lpdnn/components).
    #[arg(long, global = true)]
    cache_dir: Option<PathBuf>,
    /// Trusted components only: no per-call deadline, so wasmtime compiles no
    /// interruption check into their loops (up to 1.7x faster on numeric
    /// code). The memory cap stays. Never for components you did not write.
    #[arg(long, global = true)]
    no_deadline: bool,
    /// Largest file read as a model, app, label file, component or input,
    /// in bytes (suffixes K, M, G); only regular files are read.
    #[arg(long, global = true, value_parser = parse_size, default_value = "4G")]
    max_file_size: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an app on inputs (images, audio, signals): pre-process (wasm) →
    /// inference → post-process (wasm).
    Run {
        /// The app: its app.json, or the folder holding it.
        app: PathBuf,
        /// An input file, or a folder whose input files are all run: images
        /// (PNG, JPEG, PNM), audio (WAV) or signals (CSV, raw f32), as the
        /// app's class takes. Repeatable.
        #[arg(long = "input", short, required = true)]
        inputs: Vec<PathBuf>,
        /// Also write predictions and anchors as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Use this engine instead of the app's (see `lpdnn-host engines`).
        #[arg(long)]
        engine: Option<String>,
        /// Engine threads instead of the app's.
        #[arg(long)]
        threads: Option<usize>,
        /// Device instead of the app's: cpu, gpu or npu.
        #[arg(long)]
        device: Option<Device>,
        /// Also write what each input's post-processor was handed, to feed
        /// `component run`: DIR/INPUT/OUTPUT.npy per engine output (chunks
        /// stacked on a new first axis) and DIR/INPUT/meta.json.
        #[arg(long, value_name = "DIR")]
        dump_outputs: Option<PathBuf>,
    },
    /// Benchmark an app over a dataset: phases, statistics per stage,
    /// resources with their sources, static metrics and provenance.
    Benchmark(Box<bench::BenchmarkArgs>),
    /// The benchmark as a child of a worker or a remote run: reads one
    /// request (JSON) on standard input, reports events on standard output.
    #[command(hide = true)]
    BenchmarkChild,
    /// Serve Benchmark as a Service: the seed's upload route and the /v1
    /// API, jobs in an embedded store, a sandboxed worker for this machine.
    Serve(serve::ServeArgs),
    /// Serve jobs of a remote Benchmark-as-a-Service on this machine, one
    /// at a time, each in the sandbox.
    Worker(serve::WorkerArgs),
    /// Talk to a Benchmark-as-a-Service: submit a model, follow a job, get
    /// its result, list the devices, export the profiling dataset.
    Baas(baas::BaasArgs),
    /// Static metrics of a model: parameters, MACs, FLOPs, storage, per layer.
    Inspect {
        /// The model: ONNX, TFLite or NCNN .param (its .bin beside it).
        model: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Compare two benchmark results (B against A) per engine and stage, or
    /// two engines of one result; warns when they measured different things.
    #[command(after_help = "\
Examples:
  lpdnn-host compare before.json after.json                 every engine both have, by name
  lpdnn-host compare face.json --engines lne,onnxruntime    two engines of one result
  lpdnn-host compare a.json b.json --engines lne,ncnn       A's lne against B's ncnn
  lpdnn-host compare base.json new.json --fail-if-slower 5  a CI gate

A verdict on a disturbed run (NOISY, THROTTLED or partial, in A or B) is
inconclusive: the table says which run and why; --allow-noisy judges it all the same.

Exit status: 0 compared (with --fail-if-slower: no stage of B is significantly slower
than A by more than PCT %); 1 some stage is (one line on stderr names it), or an error
(a file that is not a result, an engine it lacks); 2 bad arguments; 3 --fail-if-slower
could not judge: no stage fails, but a disturbed run left some stage inconclusive (one
line on stderr names the runs, their state and why).")]
    Compare {
        /// The baseline result (JSON from `benchmark --filename`).
        a: PathBuf,
        /// The result compared with A. Leave it out to compare two engines
        /// of A, named with --engines X,Y.
        b: Option<PathBuf>,
        /// Compare A's engine X with B's engine Y only (X,Y), or engine X of
        /// both (X). Default: every engine both results have, by name.
        /// Without B, two engines of A: X,Y.
        #[arg(long, value_name = "X[,Y]", value_delimiter = ',')]
        engines: Vec<String>,
        /// Exit with status 1 when any stage of B is slower than A by more
        /// than PCT percent and the difference is significant (its 95 %
        /// interval excludes 0); with status 3 when none is but a disturbed
        /// run left some stage inconclusive.
        #[arg(long, value_name = "PCT")]
        fail_if_slower: Option<f64>,
        /// Judge disturbed runs (NOISY, THROTTLED, partial) as quiet ones
        /// instead of calling their verdicts inconclusive.
        #[arg(long)]
        allow_noisy: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List the inference engines: availability, library version, devices, formats.
    Engines {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Work with processor components: inspect, check, compile, run alone.
    #[command(subcommand)]
    Component(component::ComponentCommand),
    /// Platforms: list the boards lpdnn-host knows, show one, detect this
    /// machine.
    #[command(subcommand)]
    Platform(platform::PlatformCommand),
    /// Build a deployment package for a platform (bin/, lib/, apps/,
    /// solutions/, package.yml, runtime.yml, engines.yml), or verify one.
    Package(package::PackageArgs),
    /// Make a container image (OCI archive) of a worker from a package, or
    /// of the service's front end.
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Convert a model to another engine's format.
    Convert {
        /// Target format (ncnn).
        #[arg(long, value_parser = ["ncnn"])]
        to: String,
        /// The source model (ONNX).
        model: PathBuf,
        /// An input's shape, NAME=1,3,224,224 as `benchmark` takes it;
        /// repeat per input (default: the model's own, when it has no open
        /// dimension). A model of one input also takes bare 1,3,224,224.
        #[arg(long = "input-shape", value_name = "NAME=DIMS", value_parser = convert::parse_shape)]
        input_shapes: Vec<convert::ShapeArg>,
        /// Output folder (default: beside the model).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("LPDNN_LOG"))
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        // The reader went away (`lpdnn-host run ... | head`): stop quietly.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
                || e.downcast_ref::<serde_json::Error>()
                    .and_then(|e| e.io_error_kind())
                    .is_some_and(|k| k == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", error_text(e.as_ref()));
            if hit_file_limit(e.as_ref()) {
                eprintln!("hint: raise the limit with --max-file-size (e.g. --max-file-size 8G)");
            }
            ExitCode::FAILURE
        }
    }
}

/// Whether a file was refused for its size (anywhere in the chain, also
/// inside an `io::Error`).
fn hit_file_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    use lpdnn_engine_api::ReadError;
    let too_large = |r: Option<&ReadError>| matches!(r, Some(ReadError::TooLarge { .. }));
    std::iter::successors(Some(e), |e| e.source()).any(|cause| {
        too_large(cause.downcast_ref::<ReadError>())
            || too_large(
                cause
                    .downcast_ref::<std::io::Error>()
                    .and_then(|io| io.get_ref())
                    .and_then(|inner| inner.downcast_ref::<ReadError>()),
            )
    })
}

pub(crate) use lpdnn_bench::error_chain as error_text;

use lpdnn_serve::parse_size;

fn run(cli: Cli) -> Result<ExitCode> {
    lpdnn_engine_api::set_max_file_bytes(cli.max_file_size);
    let cache_dir = cli.cache_dir.or_else(RuntimeConfig::default_cache_dir);
    if let Command::Benchmark(args) = &cli.command {
        if args.landlock {
            narrow(cache_dir.as_deref())?;
        }
    }
    let mut limits = lpdnn_runtime::Limits::default();
    if cli.no_deadline {
        limits.call_timeout = None;
    }
    match cli.command {
        Command::Run {
            app,
            inputs,
            json,
            engine,
            threads,
            device,
            dump_outputs,
        } => {
            if let Some(Err(m)) = threads.map(lpdnn_engine_api::check_threads) {
                bail!("--threads: {m}");
            }
            if let Some(name) = &engine {
                lpdnn_engines::engine(name).map_err(|e| anyhow::anyhow!("--engine: {e}"))?;
            }
            let runtime = Runtime::new(RuntimeConfig { cache_dir, limits })?;
            run_app(
                &runtime,
                &app,
                &inputs,
                json.as_deref(),
                dump_outputs.as_deref(),
                RunOptions {
                    engine,
                    threads,
                    device,
                },
            )
        }
        Command::Serve(args) => serve::serve(args),
        Command::Baas(args) => baas::baas(args),
        Command::Worker(args) => serve::worker(args),
        Command::Benchmark(mut args) => {
            args.host = bench::HostSettings {
                max_file_bytes: Some(cli.max_file_size),
                cache_dir: cache_dir.clone(),
                no_deadline: cli.no_deadline,
            };
            let runtime = Runtime::new(RuntimeConfig { cache_dir, limits })?;
            bench::benchmark(&runtime, *args)
        }
        Command::BenchmarkChild => {
            // The same benchmark as `benchmark`, its settings from the
            // request (read before the filesystem is narrowed).
            let request = bench::read_request()?;
            if let Some(bytes) = request.max_file_bytes {
                lpdnn_engine_api::set_max_file_bytes(bytes);
            }
            let cache_dir = request.cache_dir.clone().or(cache_dir);
            if request.no_deadline {
                limits.call_timeout = None;
            }
            let mut args = bench::BenchmarkArgs::from_request(request);
            args.host.cache_dir = cache_dir.clone();
            if args.landlock {
                narrow(cache_dir.as_deref())?;
            }
            let runtime = Runtime::new(RuntimeConfig { cache_dir, limits })?;
            bench::benchmark(&runtime, args)
        }
        Command::Inspect { model, json } => bench::inspect(&model, json),
        Command::Component(c) => component::run(c, RuntimeConfig { cache_dir, limits }),
        Command::Compare {
            a,
            b,
            engines,
            fail_if_slower,
            allow_noisy,
            json,
        } => {
            if b.is_none() && !matches!(engines.as_slice(), [x, y] if x != y) {
                // A usage error, said as clap says one (exit status 2).
                use clap::CommandFactory;
                let mut cli = Cli::command();
                cli.build();
                let compare = cli
                    .find_subcommand_mut("compare")
                    .expect("compare is a subcommand");
                compare
                    .error(
                        clap::error::ErrorKind::MissingRequiredArgument,
                        "B is missing: give a second result, or two engines of A with \
                         --engines X,Y (e.g. --engines lne,onnxruntime)",
                    )
                    .exit();
            }
            bench::compare(
                &a,
                b.as_deref(),
                &engines,
                fail_if_slower,
                allow_noisy,
                json,
            )
        }
        Command::Package(args) => package::run(args).map(|()| ExitCode::SUCCESS),
        Command::Image(command) => image::run(command).map(|()| ExitCode::SUCCESS),
        Command::Platform(c) => platform::run(c).map(|()| ExitCode::SUCCESS),
        Command::Engines { json } => {
            let infos: Vec<EngineInfo> = lpdnn_engines::REGISTRY
                .iter()
                .map(|r| (r.make)().info())
                .collect();
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &infos)?;
                writeln!(out)?;
            } else {
                print_engines(&mut out, &infos)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Convert {
            to: _,
            model,
            input_shapes,
            output,
        } => {
            let done = convert::to_ncnn(&model, &input_shapes, output.as_deref())?;
            let param = done.param.display();
            println!("checked: {}", done.check);
            println!(
                "wrote {param} (+ .bin, + .json naming its blobs); use it in app.json as \"model\": {{\"ncnn\": \"{param}\"}}"
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_engines(out: &mut impl Write, infos: &[EngineInfo]) -> std::io::Result<()> {
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "-".to_owned()
        } else {
            v.join(",")
        }
    };
    writeln!(
        out,
        "{:<12} {:<10} {:<22} {:<9} {:<8}",
        "engine", "available", "version", "devices", "formats"
    )?;
    for i in infos {
        writeln!(
            out,
            "{:<12} {:<10} {:<22} {:<9} {:<8}",
            i.name,
            if i.available { "yes" } else { "no" },
            i.version.as_deref().unwrap_or("-"),
            list(i.devices.iter().map(ToString::to_string).collect()),
            list(i.formats.iter().map(ToString::to_string).collect()),
        )?;
    }
    for i in infos {
        if let Some(lib) = &i.library {
            writeln!(out, "  {}: library {}", i.name, lib.display())?;
        }
        if let Some(reason) = &i.reason {
            writeln!(out, "  {}: {reason}", i.name)?;
        }
    }
    Ok(())
}

/// One input's prediction, as written to JSON.
#[derive(Serialize)]
struct InputResult {
    input: String,
    #[serde(flatten)]
    prediction: Prediction,
}

/// One input that failed.
#[derive(Serialize)]
struct InputError {
    input: String,
    error: String,
}

#[derive(Serialize)]
struct RunReport<'a> {
    app: &'a str,
    engine: &'a str,
    model: String,
    predictions: Vec<InputResult>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<InputError>,
    anchors: lpdnn_anchors::Summary,
    platform: Host,
}

fn run_app(
    runtime: &Runtime,
    app_path: &Path,
    inputs: &[PathBuf],
    json: Option<&Path>,
    dump: Option<&Path>,
    options: RunOptions,
) -> Result<ExitCode> {
    let app = App::load(app_path)?;
    if let Some(dir) = dump {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--dump-outputs: cannot create {}", dir.display()))?;
    }
    let mut dumped = std::collections::HashSet::new();
    let files = expand_inputs(inputs, app.class.input_extensions())?;
    let mut pipeline = Pipeline::load(&app, runtime, &options)?;
    // Load times are the benchmark's business; `run` reports the stages.
    pipeline.take_anchors();
    let platform = Host::detect();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "app {} | engine {} | model {} | {} {}, {}, {} core(s)",
        app.name,
        pipeline.engine(),
        pipeline.model_path().display(),
        platform.arch,
        platform.os,
        platform.cpu_model.as_deref().unwrap_or("unknown CPU"),
        platform.cores
    )?;
    let (mut predictions, mut errors) = (Vec::new(), Vec::new());
    for file in &files {
        let input = file.display().to_string();
        let ran = lpdnn_engine_api::read_file(file)
            .map_err(|e| lpdnn_app::AppError::Read {
                path: file.clone(),
                source: e.into(),
            })
            .and_then(|bytes| pipeline.run_traced(&bytes));
        match ran {
            Ok((prediction, trace)) => {
                print_prediction(&mut out, &input, &prediction)?;
                if let Some(dir) = dump {
                    let to = component::dump_trace(dir, file, &trace, &mut dumped)?;
                    writeln!(out, "  outputs -> {}", to.display())?;
                }
                predictions.push(InputResult { input, prediction });
            }
            Err(e) => {
                let e = error_text(&e);
                eprintln!("error: {input}: {e}");
                errors.push(InputError { input, error: e });
            }
        }
    }
    let summary = pipeline.anchors().summary();
    if !predictions.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", summary.table(|stage| pipeline.plugin(stage)))?;
    }
    out.flush()?;
    if let Some(path) = json {
        let report = RunReport {
            app: &app.name,
            engine: pipeline.engine(),
            model: pipeline.model_path().display().to_string(),
            predictions,
            errors,
            anchors: summary,
            platform,
        };
        write_atomically(path, &serde_json::to_vec_pretty(&report)?)?;
        if !report.errors.is_empty() {
            return Ok(ExitCode::FAILURE);
        }
    } else if !errors.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Files as given, folders expanded to their input files (by the app's
/// extensions) in name order.
fn expand_inputs(inputs: &[PathBuf], extensions: &[&str]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        let meta =
            std::fs::metadata(input).with_context(|| format!("input {}", input.display()))?;
        if meta.is_dir() {
            let (found, _) = lpdnn_app::input_files(input, extensions)
                .with_context(|| format!("input folder {}", input.display()))?;
            if found.is_empty() {
                bail!(
                    "input folder {} holds no input file (.{})",
                    input.display(),
                    extensions.join(", .")
                );
            }
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

fn print_prediction(
    out: &mut impl Write,
    input: &str,
    prediction: &Prediction,
) -> std::io::Result<()> {
    match prediction {
        Prediction::Classes(classes) => {
            writeln!(out, "{input}:")?;
            for c in classes {
                writeln!(
                    out,
                    "  {:>5}  {:<30} {:.4}",
                    c.id,
                    lpdnn_runtime::untrusted(c.label.as_deref().unwrap_or("-")),
                    c.score
                )?;
            }
        }
        Prediction::Detections(found) => {
            writeln!(out, "{input}: {} object(s)", found.len())?;
            for d in found {
                let [x0, y0, x1, y1] = d.bounds;
                writeln!(
                    out,
                    "  {} {:.4}  box ({x0:.1}, {y0:.1})-({x1:.1}, {y1:.1})  {} keypoint(s)",
                    lpdnn_runtime::untrusted(d.label.as_deref().unwrap_or("class")),
                    d.score,
                    d.keypoints.len()
                )?;
            }
        }
        Prediction::Segments(segments) => {
            writeln!(out, "{input}: {} segment(s)", segments.len())?;
            for s in segments {
                writeln!(
                    out,
                    "  {:>8.3} s - {:>8.3} s  {} {:.4}",
                    s.start_s,
                    s.end_s,
                    lpdnn_runtime::untrusted(s.label.as_deref().unwrap_or("segment")),
                    s.score
                )?;
            }
        }
        Prediction::Tensors(tensors) => {
            writeln!(out, "{input}:")?;
            for t in tensors {
                let head: Vec<String> = t.data.iter().take(8).map(|v| format!("{v:.4}")).collect();
                let more = if t.data.len() > 8 { ", ..." } else { "" };
                writeln!(
                    out,
                    "  {} {:?}  [{}{more}]",
                    t.name,
                    t.shape,
                    head.join(", ")
                )?;
            }
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same folder,
/// renamed over `path` at the end: never half-written, and the temporary file
/// is removed if anything fails. Errors name `path`, never the temporary.
///
/// The file gets the mode `cp` would give a new file, 0666 less the umask
/// (results are meant to be read by others), not the temporary file's 0600:
/// the temporary file is created with mode 0666 and the kernel applies the
/// umask in that same `open`, so the umask is never read or changed (reading
/// it with `umask(2)` means setting it, racy in a threaded process).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = output_dir(path)?;
    let mut tmp = tempfile::Builder::new()
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_data())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The folder an output file goes to; a folder given as the file is refused.
fn output_dir(path: &Path) -> Result<&Path> {
    if path.is_dir() || path.file_name().is_none() {
        bail!(
            "{} is a folder: give a file name (e.g. {})",
            path.display(),
            path.join("result.json").display()
        );
    }
    Ok(path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new(".")))
}

/// Checks, before a long run, that `path` can be written: not a folder, its
/// folder created if missing, and a file can be made there (then removed).
pub(crate) fn check_writable(flag: &str, path: &Path) -> Result<()> {
    let dir = output_dir(path).context(flag.to_owned())?;
    std::fs::create_dir_all(dir)
        .and_then(|()| tempfile::NamedTempFile::new_in(dir).map(drop))
        .with_context(|| format!("{flag}: cannot write {}", path.display()))
}

/// Narrows this benchmark's filesystem with Landlock (before it reads the
/// model) and says how far, in its folder, for the worker.
fn narrow(components: Option<&Path>) -> Result<()> {
    let folder = std::env::current_dir().context("--landlock: the current folder")?;
    let mut read = vec![lpdnn_engine_api::cache_dir()];
    read.extend(components.map(Path::to_owned));
    let (read, write) = lpdnn_worker::landlock::child_rules(&folder, &read);
    let narrowed = lpdnn_worker::landlock::narrow(&read, &write)
        .map_err(|e| anyhow::anyhow!("--landlock: {e}"))?;
    write_atomically(
        &folder.join(lpdnn_worker::landlock::LANDLOCK_FILE),
        serde_json::to_string(&narrowed)?.as_bytes(),
    )
}
