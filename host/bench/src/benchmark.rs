//! The one entry of a benchmark, which the CLI, the service's worker and the
//! tests all call: [`Benchmark::run`].

use lpdnn_app::Runtime;

use crate::report::{BenchConfigRecord, EngineFailure, Report, SubjectKind, SCHEMA};
use crate::runner::{run_engine, BenchConfig, Observer};
use crate::subject::{ModelInputs, Subject};
use crate::{Build, Provenance};

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
    /// The binary's build, for the provenance.
    pub build: Build,
}

impl Benchmark {
    /// Runs every engine in turn. An engine that fails is recorded in
    /// [`Report::errors`] and the next one runs; an interruption (see
    /// [`Observer::interrupted`]) ends the benchmark with what was measured,
    /// marked partial.
    pub fn run(&self, runtime: &Runtime, observer: &mut dyn Observer) -> Report {
        let mut report = Report {
            schema: SCHEMA.into(),
            partial: false,
            provenance: Provenance::collect(self.build.clone()),
            config: self.record(),
            runs: Vec::new(),
            errors: Vec::new(),
        };
        for (index, engine) in self.engines.iter().enumerate() {
            if observer.interrupted() {
                break;
            }
            observer.engine_started(engine, index + 1, self.engines.len());
            let result = run_engine(&self.subject, runtime, engine, &self.config, observer);
            observer.engine_finished(engine, result.as_ref());
            match result {
                Ok(run) => report.runs.push(run),
                Err(e) => report.errors.push(EngineFailure {
                    engine: engine.clone(),
                    error: crate::error_chain(&e),
                }),
            }
        }
        report.partial = observer.interrupted();
        report
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
            app_name,
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
