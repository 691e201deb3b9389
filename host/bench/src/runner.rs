//! The run of one engine: load, first inference, warm-up, steady state,
//! with monitors beside it.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lpdnn_anchors::Anchors;
use lpdnn_app::{App, Pipeline, RunOptions, Runtime};
use lpdnn_engine_api::Device;
use lpdnn_monitors::{Metric, Monitor, MonitorConfig};
use sha2::Digest;

use crate::report::{
    AnchorStats, EngineRun, InputPrediction, Phases, RunState, Steady, Timeline, Warmup,
};
use crate::stats::percentile_warning;
use crate::{BenchError, Input};

/// When warm-up ends.
#[derive(Debug, Clone, PartialEq)]
pub enum WarmupPlan {
    /// After this many iterations.
    Iterations(u64),
    /// After this long (at least one iteration).
    Time(Duration),
    /// When the mean `total` time of two successive windows of `window`
    /// iterations differs by at most `tolerance` (relative), or after
    /// `max_time` (then marked `not_converged`).
    Converge {
        /// Relative tolerance, e.g. 0.02.
        tolerance: f64,
        /// Iterations per window.
        window: u64,
        /// Give up after this long.
        max_time: Duration,
    },
}

impl std::fmt::Display for WarmupPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WarmupPlan::Iterations(n) => write!(f, "{n} iteration(s)"),
            WarmupPlan::Time(d) => write!(f, "{:.3} s", d.as_secs_f64()),
            WarmupPlan::Converge {
                tolerance,
                window,
                max_time,
            } => write!(
                f,
                "until two successive {window}-iteration windows agree within {:.1} % (at most {:.0} s)",
                tolerance * 100.0,
                max_time.as_secs_f64()
            ),
        }
    }
}

/// How long the steady state runs. With both limits, whichever is reached
/// first ends it; with neither, [`BenchConfig::DEFAULT_DURATION`].
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    /// Passes over the dataset.
    pub number: Option<u64>,
    /// Wall-clock limit.
    pub duration: Option<Duration>,
}

/// Settings of one engine's run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Engine threads (`None`: the app's).
    pub threads: Option<usize>,
    /// Device (`None`: the app's).
    pub device: Option<Device>,
    /// Warm-up.
    pub warmup: WarmupPlan,
    /// Steady-state limits.
    pub stop: Stop,
    /// Monitors (`None`: off).
    pub monitors: Option<MonitorConfig>,
    /// Wait until the hottest sensor is at or below this (°C), at most this long.
    pub cooldown: Option<(f64, Duration)>,
    /// Time the engine alone, as the engines' own tools do: every input is
    /// pre-processed once before warm-up, and warm-up and steady state run
    /// only the `inference` stage on those tensors.
    pub inference_only: bool,
}

impl BenchConfig {
    /// Steady-state duration when neither a count nor a duration is given.
    pub const DEFAULT_DURATION: Duration = Duration::from_secs(5);
}

/// The phases of one engine's run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Loading the components and the model.
    Load,
    /// Warming up until the plan says the times are steady.
    Warmup,
    /// The measured iterations.
    Steady,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Load => "load",
            Phase::Warmup => "warm-up",
            Phase::Steady => "steady",
        })
    }
}

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A phase begins.
    Phase(Phase),
    /// Warm-up progress: iterations done under the plan.
    Warmup {
        /// Iterations done.
        done: u64,
        /// The warm-up plan.
        plan: &'a WarmupPlan,
        /// Time spent.
        elapsed: Duration,
        /// Real time of the last iteration, ms.
        last_ms: f64,
    },
    /// Steady-state progress: iterations done, and the planned total or
    /// duration.
    Steady {
        /// Iterations done.
        done: u64,
        /// Iterations planned, when a count limits the run.
        total: Option<u64>,
        /// Time planned, when a duration limits it.
        duration: Option<Duration>,
        /// Time spent.
        elapsed: Duration,
        /// Real time of the last iteration, ms.
        last_ms: f64,
    },
}

/// The stage that times a whole iteration: `total`, or `inference` alone
/// with `--inference-only`.
fn timed_stage(config: &BenchConfig) -> &'static str {
    if config.inference_only {
        "inference"
    } else {
        "total"
    }
}

/// Each anchor's first sample, in ms (load and first-inference phases
/// have one sample per anchor).
fn first_sample_ms(anchors: &Anchors) -> BTreeMap<String, f64> {
    anchors
        .anchors()
        .iter()
        .filter_map(|a| Some((a.name.clone(), a.samples.first()?.real.as_secs_f64() * 1e3)))
        .collect()
}

fn run_one(pipeline: &mut Pipeline, input: &Input) -> Result<lpdnn_app::Prediction, BenchError> {
    pipeline
        .run(&input.bytes)
        .map_err(|source| BenchError::Input {
            input: input.name.clone(),
            source,
        })
}

/// Runs one engine over the inputs. `stop` (set by Ctrl-C) ends the run
/// early with what was measured, marked partial; `samples` receives every
/// steady-state sample as CSV as it is taken.
#[allow(clippy::too_many_arguments)]
pub fn run_engine(
    app: &App,
    runtime: &Runtime,
    engine: &str,
    inputs: &[Input],
    config: &BenchConfig,
    interrupt: &AtomicBool,
    progress: &mut dyn FnMut(Event),
    mut samples: Option<&mut dyn Write>,
) -> Result<EngineRun, BenchError> {
    let cooldown = config
        .cooldown
        .map(|(target, timeout)| lpdnn_monitors::cool_down(target, timeout))
        .transpose()?;
    let epoch = Instant::now();
    let monitor = config.monitors.clone().map(|m| Monitor::start(m, epoch));

    progress(Event::Phase(Phase::Load));
    let options = RunOptions {
        engine: Some(engine.to_owned()),
        threads: config.threads,
        device: config.device,
    };
    let mut pipeline = match Pipeline::load(app, runtime, &options) {
        Ok(p) => p,
        Err(e) => {
            if let Some(m) = monitor {
                m.stop();
            }
            return Err(e.into());
        }
    };
    let info = lpdnn_app::engine(engine).map(|e| e.info()).ok();
    // Read, hashed and dropped before the measurements: a model held in
    // memory through the run would show in its resident memory.
    let (model_format, model_sha256) = {
        let bytes = lpdnn_engine_api::read_file(pipeline.model_path()).unwrap_or_default();
        (
            lpdnn_engine_api::sniff(&bytes).to_string(),
            hex::encode(sha2::Sha256::digest(&bytes)),
        )
    };
    let load = first_sample_ms(&pipeline.take_anchors());

    let mut warnings = Vec::new();
    let mut predictions = Vec::new();
    let interrupted = || interrupt.load(Ordering::Relaxed);
    type Measured = (BTreeMap<String, f64>, Warmup, Option<Steady>, Timeline);
    let outcome = (|| -> Result<Measured, BenchError> {
        // First inference: cold caches, lazy initialisation.
        let first = &inputs[0];
        let prediction = run_one(&mut pipeline, first)?;
        predictions.push(InputPrediction {
            input: first.name.clone(),
            prediction: serde_json::to_value(&prediction).unwrap_or_default(),
        });
        let first_ms = first_sample_ms(&pipeline.take_anchors());

        // Engine-only mode: the other inputs' predictions once, then their
        // tensors, all outside the timed phases.
        let mut tensors = Vec::new();
        if config.inference_only {
            for input in &inputs[1..] {
                let prediction = run_one(&mut pipeline, input)?;
                predictions.push(InputPrediction {
                    input: input.name.clone(),
                    prediction: serde_json::to_value(&prediction).unwrap_or_default(),
                });
            }
            for input in inputs {
                tensors.push(
                    pipeline
                        .preprocess(&input.bytes)
                        .map(|p| p.chunks)
                        .map_err(|source| BenchError::Input {
                            input: input.name.clone(),
                            source,
                        })?,
                );
            }
            pipeline.take_anchors();
        }
        let step = |pipeline: &mut Pipeline,
                    ix: usize|
         -> Result<Option<lpdnn_app::Prediction>, BenchError> {
            if config.inference_only {
                pipeline
                    .infer_stream(tensors[ix].clone())
                    .map_err(|source| BenchError::Input {
                        input: inputs[ix].name.clone(),
                        source,
                    })?;
                Ok(None)
            } else {
                run_one(pipeline, &inputs[ix]).map(Some)
            }
        };

        // Warm-up.
        progress(Event::Phase(Phase::Warmup));
        let start = Instant::now();
        let mut n = 0u64;
        let mut windows: Vec<f64> = Vec::new();
        let mut window_sum = 0.0;
        let ended_by = loop {
            if interrupted() {
                break "interrupted";
            }
            match &config.warmup {
                WarmupPlan::Iterations(k) if n >= *k => break "iterations",
                WarmupPlan::Time(d) if n > 0 && start.elapsed() >= *d => break "time",
                WarmupPlan::Converge { max_time, .. } if start.elapsed() >= *max_time => {
                    break "not_converged"
                }
                _ => {}
            }
            let mark = Instant::now();
            step(&mut pipeline, (n as usize + 1) % inputs.len())?;
            let took = mark.elapsed().as_secs_f64();
            n += 1;
            progress(Event::Warmup {
                done: n,
                plan: &config.warmup,
                elapsed: start.elapsed(),
                last_ms: took * 1e3,
            });
            if let WarmupPlan::Converge {
                tolerance, window, ..
            } = &config.warmup
            {
                window_sum += took;
                if n.is_multiple_of(*window) {
                    windows.push(window_sum / *window as f64);
                    window_sum = 0.0;
                    if let [.., a, b] = windows[..] {
                        if (b - a).abs() <= tolerance * a {
                            break "converged";
                        }
                    }
                }
            }
        };
        if ended_by == "not_converged" {
            warnings.push(format!("warm-up did not converge: {}", config.warmup));
        }
        let warmup = Warmup {
            iterations: n,
            seconds: start.elapsed().as_secs_f64(),
            ended_by: ended_by.into(),
            anchors: AnchorStats::of(&pipeline.take_anchors()),
        };
        if interrupted() {
            return Ok((first_ms, warmup, None, Timeline::default()));
        }

        // Steady state.
        progress(Event::Phase(Phase::Steady));
        let stop = &config.stop;
        let duration = match (stop.number, stop.duration) {
            (None, None) => Some(BenchConfig::DEFAULT_DURATION),
            (_, d) => d,
        };
        let total = stop.number.map(|p| p * inputs.len() as u64);
        let mut timeline = Timeline::default();
        let start = Instant::now();
        let mut i = 0u64;
        let ended_by = loop {
            if interrupted() {
                break "interrupted";
            }
            if total.is_some_and(|t| i >= t) {
                break "number";
            }
            if duration.is_some_and(|d| start.elapsed() >= d) {
                break "duration";
            }
            let input = &inputs[i as usize % inputs.len()];
            let t = epoch.elapsed().as_secs_f64();
            let mark = Instant::now();
            let prediction = step(&mut pipeline, i as usize % inputs.len())?;
            let last_ms = mark.elapsed().as_secs_f64() * 1e3;
            timeline.iterations_t.push(t);
            if let Some(prediction) = prediction.filter(|_| (i as usize) < inputs.len()) {
                let value = serde_json::to_value(&prediction).unwrap_or_default();
                if i == 0 {
                    predictions.clear();
                }
                predictions.push(InputPrediction {
                    input: input.name.clone(),
                    prediction: value,
                });
            }
            if let Some(out) = samples.as_deref_mut() {
                for a in pipeline.anchors().anchors() {
                    if let Some(s) = a.samples.last() {
                        writeln!(
                            out,
                            "{engine},{i},{},{},{t:.6},{:.6},{:.6},{}",
                            input.name.replace(',', ";"),
                            a.name,
                            s.real.as_secs_f64() * 1e3,
                            s.cpu.as_secs_f64() * 1e3,
                            s.allocated
                        )
                        .map_err(BenchError::Samples)?;
                    }
                }
            }
            i += 1;
            progress(Event::Steady {
                done: i,
                total,
                duration,
                elapsed: start.elapsed(),
                last_ms,
            });
        };
        let seconds = start.elapsed().as_secs_f64();
        let anchors = pipeline.take_anchors();
        timeline.iterations_ms = anchors
            .get(timed_stage(config))
            .map(|a| {
                a.samples
                    .iter()
                    .map(|s| s.real.as_secs_f64() * 1e3)
                    .collect()
            })
            .unwrap_or_default();
        let steady = Steady {
            iterations: i,
            passes: i / inputs.len() as u64,
            seconds,
            ended_by: ended_by.into(),
            throughput_per_s: if seconds > 0.0 {
                i as f64 / seconds
            } else {
                0.0
            },
            anchors: AnchorStats::of(&anchors),
        };
        Ok((first_ms, warmup, Some(steady), timeline))
    })();
    let recording = monitor.map(Monitor::stop);
    let (first_ms, warmup, steady, mut timeline) = outcome?;

    if let Some(steady) = &steady {
        // Every anchor has one sample per iteration.
        warnings.extend(percentile_warning(
            "steady state",
            steady.iterations as usize,
        ));
    }
    let mut resources = BTreeMap::new();
    let mut throttle = None;
    if let Some(rec) = recording {
        resources = rec.metrics;
        timeline.interval_ms = Some(rec.interval_ms);
        timeline.samples = rec.timeline;
        throttle = Some(rec.throttle);
        resources.insert(
            "heap_allocated".into(),
            if lpdnn_anchors::is_counting() {
                let per_call = steady
                    .as_ref()
                    .and_then(|s| s.anchors.get("total").or(s.anchors.get("inference")))
                    .and_then(|a| a.alloc_bytes.as_ref());
                match per_call {
                    Some(s) => Metric::Measured {
                        mean: s.mean / 1024.0,
                        peak: s.max / 1024.0,
                        unit: "KiB per iteration".into(),
                        source:
                            "counting global allocator (per stage in each anchor's alloc_bytes)"
                                .into(),
                        samples: s.n,
                    },
                    None => Metric::unsupported("no steady-state iteration ran"),
                }
            } else {
                Metric::unsupported("this binary does not install lpdnn_anchors::CountingAllocator")
            },
        );
        for (path, bytes) in pipeline.component_memory() {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |f| f.to_string_lossy().into(),
            );
            resources.insert(
                format!("wasm_memory_peak.{name}"),
                Metric::Measured {
                    mean: bytes as f64 / 1048576.0,
                    peak: bytes as f64 / 1048576.0,
                    unit: "MiB".into(),
                    source: format!(
                        "wasmtime ResourceLimiter, peak linear memory of {}",
                        path.display()
                    ),
                    samples: 1,
                },
            );
        }
    }
    let one_thread = config.threads.or(app.engine.threads) == Some(1);
    let interference = steady.as_ref().map(|steady| {
        crate::noise::assess(&crate::noise::Readings {
            steady,
            warmup: &warmup,
            timeline: &timeline,
            timed: timed_stage(config),
            single_threaded: if one_thread {
                &["preprocess", "inference", "postprocess"]
            } else {
                &["preprocess", "postprocess"]
            },
            inputs: inputs.len(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        })
    });
    let noisy = interference.as_ref().is_some_and(|i| i.noisy);
    let state = if steady.as_ref().is_none_or(|s| s.ended_by == "interrupted") {
        RunState::Partial
    } else if throttle.as_ref().and_then(|t| t.detected) == Some(true) {
        RunState::Throttled
    } else if noisy {
        RunState::Noisy
    } else {
        RunState::Ok
    };
    if let Some(t) = throttle.as_ref().filter(|t| t.detected == Some(true)) {
        warnings.push(format!("throttled: {}", t.reasons.join("; ")));
    }
    let static_metrics = match lpdnn_inspect::inspect(pipeline.model_path()) {
        Ok(s) => Some(s.into()),
        Err(e) => {
            warnings.push(format!("no static metrics: {e}"));
            None
        }
    };
    Ok(EngineRun {
        engine: pipeline.engine().to_owned(),
        engine_version: info.as_ref().and_then(|i| i.version.clone()),
        engine_library: info
            .as_ref()
            .and_then(|i| i.library.as_ref())
            .map(|l| l.display().to_string()),
        device: config
            .device
            .or(app.engine.device)
            .unwrap_or_default()
            .to_string(),
        model: pipeline.model_path().display().to_string(),
        model_format,
        model_sha256,
        state,
        static_metrics,
        phases: Phases {
            load_ms: load,
            first_inference_ms: first_ms,
            warmup,
            steady,
        },
        resources,
        throttle,
        interference,
        cooldown,
        timeline,
        predictions,
        warnings,
    })
}
