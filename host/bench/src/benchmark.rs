//! The one entry of a benchmark, which the CLI, the service's worker and the
//! tests all call: [`Benchmark::run`].

use std::process::Command;

use lpdnn_app::Runtime;
use lpdnn_engine_api::{Device, ModelFormat};

use crate::isolate::{run_in_child, ChildObserver};
use crate::runner::{run_engine, BenchConfig, Observer};
use crate::subject::{ModelInputs, Subject};
use crate::{BenchError, Build};
use lpdnn_report::{BenchConfigRecord, EngineFailure, EngineRun, Report, SubjectKind, SCHEMA};

/// A benchmark: a subject, the engines to run it on, and the settings.
pub struct Benchmark {
    /// What runs.
    pub subject: Subject,
    /// Engines, in order; each gets its own run.
    pub engines: Vec<String>,
    /// Warm-up, steady state, monitors, threads, device.
    pub config: BenchConfig,
    /// The app file or model as the user named it (recorded as given).
    pub source: String,
    /// The dataset as the user named it (a bare model: ignored).
    pub dataset: String,
    /// The report's title instead of the app's name (a bare model: its
    /// file name), e.g. the name a model was uploaded under.
    pub title: Option<String>,
    /// The binary's build, for the provenance.
    pub build: Build,
}

impl Benchmark {
    /// Runs every engine in turn. An engine that fails is recorded in
    /// [`Report::errors`] and the next one runs; an interruption (see
    /// [`Observer::interrupted`]) ends the benchmark with what was measured,
    /// marked partial.
    pub fn run(&self, runtime: &Runtime, observer: &mut dyn Observer) -> Report {
        self.run_each(observer, &mut |engine, observer| {
            run_engine(&self.subject, runtime, engine, &self.config, observer)
        })
    }

    /// As [`Benchmark::run`], but each engine runs in a process of its own,
    /// which `child(engine)` starts (the command, and the bytes its
    /// standard input gets) and which answers with
    /// [`Benchmark::serve_child`]: an engine's memory, threads and libraries
    /// are then its own, not also those of the engines before it, and a
    /// crash in an engine's library ends only that engine's run.
    pub fn run_isolated(
        &self,
        observer: &mut dyn Observer,
        child: &dyn Fn(&str) -> (Command, Vec<u8>),
    ) -> Report {
        self.run_each(observer, &mut |engine, observer| {
            run_in_child(child(engine), engine, &self.config, observer)
        })
    }

    /// The child's side of [`Benchmark::run_isolated`]: runs `engine` here
    /// and writes what it sees, then its result, to `out` (the child's
    /// standard output). `samples`: whether the caller records every
    /// sample; `interrupted`: whether to stop after the current input.
    pub fn serve_child(
        &self,
        runtime: &Runtime,
        engine: &str,
        samples: bool,
        interrupted: &dyn Fn() -> bool,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        let mut observer = ChildObserver::new(out, samples, interrupted);
        let outcome = run_engine(&self.subject, runtime, engine, &self.config, &mut observer);
        observer.finish(outcome)
    }

    fn run_each(
        &self,
        observer: &mut dyn Observer,
        one: &mut dyn FnMut(&str, &mut dyn Observer) -> Result<EngineRun, BenchError>,
    ) -> Report {
        let mut report = Report {
            schema: SCHEMA.into(),
            partial: false,
            provenance: crate::provenance::collect(self.build.clone()),
            config: self.record(),
            runs: Vec::new(),
            errors: Vec::new(),
        };
        for (index, engine) in self.engines.iter().enumerate() {
            if observer.interrupted() {
                break;
            }
            observer.engine_started(engine, index + 1, self.engines.len());
            let result = one(engine, observer);
            observer.engine_finished(engine, result.as_ref());
            match result {
                Ok(run) => report.runs.push(run),
                Err(e) => report.errors.push(EngineFailure {
                    engine: engine.clone(),
                    error: crate::error_chain(&e),
                    placement: None,
                }),
            }
        }
        report.partial = observer.interrupted();
        report
    }

    /// Checks every engine against the subject before anything is measured:
    /// the engine runs here, takes a format the model (or the app) has, and
    /// has the device asked for. One refusal per engine that cannot, with
    /// what to do about it.
    pub fn check(&self) -> Result<(), BenchError> {
        let (formats, app) = match &self.subject {
            Subject::App { app, .. } => (
                app.model.available().iter().map(|(f, _)| *f).collect(),
                Some(app.as_ref()),
            ),
            Subject::Model { path, .. } => (
                vec![lpdnn_engine_api::sniff_file(path).unwrap_or(ModelFormat::Unknown)],
                None,
            ),
        };
        let device = self
            .config
            .device
            .or(app.and_then(|a| a.engine.device))
            .unwrap_or_default();
        let mut refusals = Vec::new();
        for name in &self.engines {
            let engine = lpdnn_engines::engine(name)?;
            let info = engine.info();
            let refusal = if !info.available {
                Some((
                    "is not available on this machine".to_owned(),
                    info.reason.clone(),
                ))
            } else if !formats.iter().any(|f| engine.formats().contains(f)) {
                Some(format_refusal(
                    engine.formats(),
                    &formats,
                    app.map(|a| a.file.display().to_string()),
                    &self.source,
                ))
            } else if !info.devices.contains(&device) {
                Some((
                    format!(
                        "runs on {} here, not on {device}",
                        join(info.devices.iter().map(Device::to_string))
                    ),
                    info.reason.clone(),
                ))
            } else {
                None
            };
            if let Some((reason, hint)) = refusal {
                refusals.push(Refusal {
                    engine: name.clone(),
                    reason,
                    hint,
                });
            }
        }
        if refusals.is_empty() {
            Ok(())
        } else {
            Err(BenchError::CannotRun {
                subject: self.source.clone(),
                refusals,
            })
        }
    }

    /// The settings as the report records them.
    fn record(&self) -> BenchConfigRecord {
        let c = &self.config;
        let (subject, app_name, dataset) = match &self.subject {
            Subject::App { app, .. } => (SubjectKind::App, app.name.clone(), self.dataset.clone()),
            Subject::Model { path, inputs } => (
                SubjectKind::Model,
                path.file_name()
                    .map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
                match inputs {
                    ModelInputs::Synthetic { seed, .. } => format!("synthetic, seed {seed}"),
                    ModelInputs::Given(_) => self.dataset.clone(),
                },
            ),
        };
        BenchConfigRecord {
            subject,
            app: self.source.clone(),
            app_name: self.title.clone().unwrap_or(app_name),
            dataset,
            inputs: self.subject.input_names(),
            number: c.stop.number,
            duration_s: c.stop.duration.map(|d| d.as_secs_f64()),
            warmup: c.warmup.to_string(),
            threads: c.threads,
            monitor_interval_ms: c.monitors.as_ref().map(|m| m.interval.as_secs_f64() * 1e3),
            cooldown_c: c.cooldown.map(|(target, _)| target),
            inference_only: c.inference_only || matches!(self.subject, Subject::Model { .. }),
        }
    }
}

/// An engine that cannot run a benchmark's subject ([`Benchmark::check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The engine.
    pub engine: String,
    /// Why it cannot.
    pub reason: String,
    /// What to do about it, when something can be done.
    pub hint: Option<String>,
}

fn join(items: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = items.collect();
    if v.is_empty() {
        "nothing".into()
    } else {
        v.join(", ")
    }
}

/// Why an engine takes none of the formats at hand, and how to get one it
/// takes: `app` is the app file (`None` for a bare model `source`).
fn format_refusal(
    takes: &[ModelFormat],
    has: &[ModelFormat],
    app: Option<String>,
    source: &str,
) -> (String, Option<String>) {
    let reason = format!(
        "takes {} models; {} {}",
        join(takes.iter().map(ToString::to_string)),
        if app.is_some() {
            "the app has"
        } else {
            "this is"
        },
        join(has.iter().map(ToString::to_string))
    );
    let onnx = has.contains(&ModelFormat::Onnx);
    let hint = match (takes.first(), app) {
        (Some(ModelFormat::NcnnParam), None) if onnx => Some(format!(
            "convert it: lpdnn-host convert --to ncnn {source}, then benchmark the .param it writes"
        )),
        (Some(ModelFormat::NcnnParam), Some(app)) if onnx => Some(format!(
            "convert the app's ONNX model with lpdnn-host convert --to ncnn MODEL.onnx and add \
             the .param it writes to {app} as \"model\": {{\"ncnn\": \"....param\"}}"
        )),
        (Some(f), Some(app)) => Some(format!(
            "add the model's {f} form to {app} as \"model\": {{\"{}\": \"FILE\"}}",
            lpdnn_app::model_key(*f)
        )),
        (Some(f), None) => Some(format!(
            "give the model in {f} form (lpdnn-host converts ONNX to NCNN only)"
        )),
        (None, _) => None,
    };
    (reason, hint)
}
