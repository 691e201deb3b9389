//! The run of one engine: load, first inference, warm-up, steady state,
//! with monitors beside it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lpdnn_anchors::Anchors;
use lpdnn_app::{Runtime, Stage};
use lpdnn_monitors::{Metric, Monitor, Recording};
use sha2::Digest;

pub use crate::config::{BenchConfig, Stop, WarmupPlan};
use crate::stats::{percentile_warning, Stats};
use crate::subject::{Subject, Workload};
use crate::BenchError;
use lpdnn_report::{
    AnchorStats, AnchorTable, EndedBy, EngineRun, InputPrediction, Phases, RunState, StaticTotals,
    Steady, Timeline, Warmup,
};

/// The phases of one engine's run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Loading the components and the model.
    Load,
    /// Warming up until the plan says the times are steady.
    Warmup,
    /// The measured iterations.
    Steady,
    /// Per-layer times on a profiled copy of the model (`--layers`).
    Layers,
    /// The outputs checked against a reference engine's (`--check-against`).
    Check,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Load => "load",
            Phase::Warmup => "warm-up",
            Phase::Steady => "steady",
            Phase::Layers => "layers",
            Phase::Check => "check",
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

/// One steady-state sample of one anchor, as it is taken.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    /// The engine.
    pub engine: &'a str,
    /// Steady-state iteration, from 0.
    pub iteration: u64,
    /// The input's name.
    pub input: &'a str,
    /// The anchor (stage).
    pub anchor: &'a str,
    /// When the iteration began, seconds from the run's start.
    pub t_s: f64,
    /// Real time, ms.
    pub real_ms: f64,
    /// CPU time of the calling thread, ms.
    pub cpu_ms: f64,
    /// Heap bytes allocated.
    pub alloc_bytes: u64,
}

/// Watches a benchmark: progress, raw samples, and whether to stop. Every
/// method has a default that does nothing.
pub trait Observer {
    /// Engine `index` (from 1) of `count` begins.
    fn engine_started(&mut self, _engine: &str, _index: usize, _count: usize) {}
    /// Progress of the current engine.
    fn event(&mut self, _event: Event) {}
    /// The current engine's run ended, with its result or its error.
    fn engine_finished(&mut self, _engine: &str, _outcome: Result<&EngineRun, &BenchError>) {}
    /// One steady-state sample; an error ends the run with it.
    fn sample(&mut self, _sample: &Sample) -> std::io::Result<()> {
        Ok(())
    }
    /// Whether to stop after the current iteration (Ctrl-C, SIGTERM, a
    /// cancelled job); the run then reports what it measured, as partial.
    fn interrupted(&self) -> bool {
        false
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

/// Runs one engine over the subject, with monitors beside it.
pub(crate) fn run_engine(
    subject: &Subject,
    runtime: &Runtime,
    engine: &str,
    config: &BenchConfig,
    observer: &mut dyn Observer,
) -> Result<EngineRun, BenchError> {
    let cooldown = config
        .cooldown
        .map(|(target, timeout)| lpdnn_monitors::cool_down(target, timeout))
        .transpose()?;
    let epoch = Instant::now();
    let monitor = config.monitors.clone().map(|m| Monitor::start(m, epoch));

    observer.event(Event::Phase(Phase::Load));
    let mut work = match crate::subject::load(subject, runtime, engine, config) {
        Ok(w) => w,
        Err(e) => {
            if let Some(m) = monitor {
                m.stop();
            }
            return Err(e);
        }
    };
    let info = lpdnn_engines::engine(engine).map(|e| e.info()).ok();
    // Read, hashed and dropped before the measurements: a model held in
    // memory through the run would show in its resident memory.
    let (model_format, model_sha256) = {
        let bytes = lpdnn_engine_api::read_file(work.model_path()).unwrap_or_default();
        (
            lpdnn_engine_api::sniff(&bytes).to_string(),
            hex::encode(sha2::Sha256::digest(&bytes)),
        )
    };
    let load = first_sample_ms(&work.take_anchors());

    let mut warnings = Vec::new();
    let mut predictions = Vec::new();
    let outcome = measure(work.as_mut(), config, epoch, observer, &mut predictions);
    let recording = monitor.map(Monitor::stop);
    let (first_ms, warmup, steady, mut timeline) = outcome?;

    if warmup.ended_by == EndedBy::NotConverged {
        warnings.push(format!("warm-up did not converge: {}", config.warmup));
    }
    if let Some(steady) = &steady {
        // Every anchor has one sample per iteration.
        warnings.extend(percentile_warning(
            "steady state",
            steady.iterations as usize,
        ));
    }
    let (resources, throttle) = match recording {
        Some(rec) => {
            timeline.interval_ms = Some(rec.interval_ms);
            resources(rec, work.as_ref(), steady.as_ref(), &mut timeline)
        }
        None => (BTreeMap::new(), None),
    };
    let one_thread = config.threads.or(app_threads(subject)) == Some(1);
    let mut single_threaded: Vec<&str> = work.single_threaded().iter().map(|s| s.name()).collect();
    if one_thread {
        single_threaded.push(Stage::Inference.name());
    }
    let interference = steady.as_ref().map(|steady| {
        crate::noise::assess(&crate::noise::Readings {
            steady,
            warmup: &warmup,
            timeline: &timeline,
            timed: work.timed_stage().name(),
            single_threaded: &single_threaded,
            inputs: work.inputs(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        })
    });
    let noisy = interference.as_ref().is_some_and(|i| i.noisy);
    let state = if steady
        .as_ref()
        .is_none_or(|s| s.ended_by == EndedBy::Interrupted)
    {
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
    let statics = lpdnn_inspect::inspect(work.model_path());
    // The check first: the layers pass leaves the benchmark's model in the
    // host's clock wrapper.
    let check = match &config.check_against {
        Some(against) if steady.is_some() && against.engine != work.engine() => {
            observer.event(Event::Phase(Phase::Check));
            match crate::check::check(subject, runtime, work.as_mut(), config, against) {
                Ok(check) => Some(check),
                Err(e) => {
                    warnings.push(format!(
                        "outputs not checked against {}: {e}",
                        against.engine
                    ));
                    None
                }
            }
        }
        _ => None,
    };
    let layers = match config.layers {
        Some(runs) if steady.is_some() => {
            observer.event(Event::Phase(Phase::Layers));
            match crate::layers::profile(work.as_mut(), runs, statics.as_ref().ok()) {
                Ok(Some(layers)) => Some(layers),
                Ok(None) => {
                    warnings.push(format!(
                        "no per-layer times: engine {} gives none (ONNX Runtime, LNE, LiteRT and NCNN do)",
                        work.engine()
                    ));
                    None
                }
                Err(e) => {
                    warnings.push(format!("no per-layer times: {e}"));
                    None
                }
            }
        }
        _ => None,
    };
    let static_metrics = match statics {
        Ok(s) => Some(static_totals(s)),
        Err(e) => {
            warnings.push(format!("no static metrics: {e}"));
            None
        }
    };
    let device = match subject {
        Subject::App { app, .. } => config.device.or(app.engine.device),
        Subject::Model { .. } => config.device,
    };
    Ok(EngineRun {
        engine: work.engine().to_owned(),
        placement: None,
        engine_version: info.as_ref().and_then(|i| i.version.clone()),
        engine_library: info
            .as_ref()
            .and_then(|i| i.library.as_ref())
            .map(|l| l.display().to_string()),
        device: device.unwrap_or_default(),
        model: work.model_path().display().to_string(),
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
        layers,
        check,
        predictions,
        warnings,
    })
}

/// The app's own thread setting (a bare model has none).
fn app_threads(subject: &Subject) -> Option<usize> {
    match subject {
        Subject::App { app, .. } => app.engine.threads,
        Subject::Model { .. } => None,
    }
}

type Measured = (BTreeMap<String, f64>, Warmup, Option<Steady>, Timeline);

/// The first inference, warm-up and steady state.
fn measure(
    work: &mut dyn Workload,
    config: &BenchConfig,
    epoch: Instant,
    observer: &mut dyn Observer,
    predictions: &mut Vec<InputPrediction>,
) -> Result<Measured, BenchError> {
    // First inference: cold caches, lazy initialisation.
    predictions.push(work.predict(0)?);
    let first_ms = first_sample_ms(&work.take_anchors());
    let engine_only = config.inference_only || work.timed_stage() == Stage::Inference;
    if engine_only {
        // The other inputs' predictions once, outside the timed phases.
        for ix in 1..work.inputs() {
            predictions.push(work.predict(ix)?);
        }
        work.take_anchors();
    }
    work.prepare()?;

    let warmup = warm_up(work, config, observer)?;
    if warmup.ended_by == EndedBy::Interrupted {
        return Ok((first_ms, warmup, None, Timeline::default()));
    }
    let (steady, timeline) = steady_state(work, config, epoch, observer, predictions)?;
    Ok((first_ms, warmup, Some(steady), timeline))
}

/// Warm-up, until the plan says the times are steady.
fn warm_up(
    work: &mut dyn Workload,
    config: &BenchConfig,
    observer: &mut dyn Observer,
) -> Result<Warmup, BenchError> {
    observer.event(Event::Phase(Phase::Warmup));
    let start = Instant::now();
    let mut n = 0u64;
    let mut windows: Vec<f64> = Vec::new();
    let mut window_sum = 0.0;
    let ended_by = loop {
        if observer.interrupted() {
            break EndedBy::Interrupted;
        }
        match &config.warmup {
            WarmupPlan::Iterations(k) if n >= *k => break EndedBy::Iterations,
            WarmupPlan::Time(d) if n > 0 && start.elapsed() >= *d => break EndedBy::Time,
            WarmupPlan::Converge { max_time, .. } if start.elapsed() >= *max_time => {
                break EndedBy::NotConverged
            }
            _ => {}
        }
        let mark = Instant::now();
        work.step((n as usize + 1) % work.inputs())?;
        let took = mark.elapsed().as_secs_f64();
        n += 1;
        observer.event(Event::Warmup {
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
                        break EndedBy::Converged;
                    }
                }
            }
        }
    };
    Ok(Warmup {
        iterations: n,
        seconds: start.elapsed().as_secs_f64(),
        ended_by,
        anchors: anchor_table(&work.take_anchors()),
    })
}

/// The measured iterations, until the count or the duration is reached.
fn steady_state(
    work: &mut dyn Workload,
    config: &BenchConfig,
    epoch: Instant,
    observer: &mut dyn Observer,
    predictions: &mut Vec<InputPrediction>,
) -> Result<(Steady, Timeline), BenchError> {
    observer.event(Event::Phase(Phase::Steady));
    let stop = &config.stop;
    let duration = match (stop.number, stop.duration) {
        (None, None) => Some(BenchConfig::DEFAULT_DURATION),
        (_, d) => d,
    };
    let inputs = work.inputs();
    let total = stop.number.map(|p| p * inputs as u64);
    let mut timeline = Timeline::default();
    let start = Instant::now();
    let mut i = 0u64;
    let ended_by = loop {
        if observer.interrupted() {
            break EndedBy::Interrupted;
        }
        if total.is_some_and(|t| i >= t) {
            break EndedBy::Number;
        }
        if duration.is_some_and(|d| start.elapsed() >= d) {
            break EndedBy::Duration;
        }
        let ix = i as usize % inputs;
        let t = epoch.elapsed().as_secs_f64();
        let mark = Instant::now();
        let prediction = work.step(ix)?;
        let last_ms = mark.elapsed().as_secs_f64() * 1e3;
        timeline.iterations_t.push(t);
        // The first pass's predictions replace the first inference's.
        if let Some(p) = prediction.filter(|_| (i as usize) < inputs) {
            if i == 0 {
                predictions.clear();
            }
            predictions.push(p);
        }
        for a in work.anchors().anchors() {
            if let Some(s) = a.samples.last() {
                observer
                    .sample(&Sample {
                        engine: work.engine(),
                        iteration: i,
                        input: work.input_name(ix),
                        anchor: &a.name,
                        t_s: t,
                        real_ms: s.real.as_secs_f64() * 1e3,
                        cpu_ms: s.cpu.as_secs_f64() * 1e3,
                        alloc_bytes: s.allocated,
                    })
                    .map_err(BenchError::Samples)?;
            }
        }
        i += 1;
        observer.event(Event::Steady {
            done: i,
            total,
            duration,
            elapsed: start.elapsed(),
            last_ms,
        });
    };
    let seconds = start.elapsed().as_secs_f64();
    let anchors = work.take_anchors();
    timeline.iterations_ms = anchors
        .get(work.timed_stage().name())
        .map(|a| {
            a.samples
                .iter()
                .map(|s| s.real.as_secs_f64() * 1e3)
                .collect()
        })
        .unwrap_or_default();
    let steady = Steady {
        iterations: i,
        passes: i / inputs as u64,
        seconds,
        ended_by,
        throughput_per_s: if seconds > 0.0 {
            i as f64 / seconds
        } else {
            0.0
        },
        anchors: anchor_table(&anchors),
    };
    Ok((steady, timeline))
}

/// The monitors' metrics, with the heap and component memory beside them,
/// and the throttling seen.
fn resources(
    rec: Recording,
    work: &dyn Workload,
    steady: Option<&Steady>,
    timeline: &mut Timeline,
) -> (BTreeMap<String, Metric>, Option<lpdnn_monitors::Throttle>) {
    let mut resources = rec.metrics;
    timeline.samples = rec.timeline;
    resources.insert(
        "heap_allocated".into(),
        if lpdnn_anchors::is_counting() {
            let per_call = steady
                .and_then(|s| s.anchors.get(work.timed_stage().name()))
                .and_then(|a| a.alloc_bytes.as_ref());
            match per_call {
                Some(s) => Metric::Measured {
                    mean: s.mean / 1024.0,
                    peak: s.max / 1024.0,
                    unit: "KiB per iteration".into(),
                    source: "counting global allocator (per stage in each anchor's alloc_bytes)"
                        .into(),
                    samples: s.n,
                },
                None => Metric::unsupported("no steady-state iteration ran"),
            }
        } else {
            Metric::unsupported("this binary does not install lpdnn_anchors::CountingAllocator")
        },
    );
    for (path, bytes) in work.component_memory() {
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
    (resources, Some(rec.throttle))
}

/// Statistics of every anchor, in recording order.
fn anchor_table(anchors: &Anchors) -> AnchorTable {
    let counting = lpdnn_anchors::is_counting();
    AnchorTable(
        anchors
            .anchors()
            .iter()
            .filter_map(|a| {
                let ms = |f: &dyn Fn(&lpdnn_anchors::Sample) -> std::time::Duration| {
                    a.samples
                        .iter()
                        .map(|s| f(s).as_secs_f64() * 1e3)
                        .collect::<Vec<_>>()
                };
                let real_ms = Stats::of(&ms(&|s| s.real))?;
                let cpu_ms = Stats::of(&ms(&|s| s.cpu))?;
                let alloc_bytes = counting
                    .then(|| {
                        Stats::of(
                            &a.samples
                                .iter()
                                .map(|s| s.allocated as f64)
                                .collect::<Vec<_>>(),
                        )
                    })
                    .flatten();
                Some((
                    a.name.clone(),
                    AnchorStats {
                        throughput_per_s: if real_ms.mean > 0.0 {
                            1e3 / real_ms.mean
                        } else {
                            0.0
                        },
                        real_ms,
                        cpu_ms,
                        alloc_bytes,
                    },
                ))
            })
            .collect(),
    )
}

/// The totals of a model's static metrics, with its operators counted.
fn static_totals(m: lpdnn_inspect::StaticMetrics) -> StaticTotals {
    let mut operators = BTreeMap::new();
    for layer in &m.layers {
        *operators.entry(layer.op_type.clone()).or_insert(0) += 1;
    }
    StaticTotals {
        operators,
        model: m.model,
        format: m.format,
        parameters: m.parameters,
        parameter_bytes: m.parameter_bytes,
        storage_bytes: m.storage_bytes,
        macs: m.macs,
        flops: m.flops,
        other_ops: m.other_ops,
        convention: m.convention,
        notes: m.notes,
    }
}
