//! `lpdnn_bench::Benchmark::run`, the one entry the CLI, the service's
//! worker and these tests share: an observer sees every engine, phase and
//! sample, and can stop the run; a bare model and an app go through the
//! same runner.

mod common;

use common::{asset, bench_config, example, runtime, test_build};
use lpdnn_bench::{
    BenchError, Benchmark, EndedBy, EngineRun, Event, ModelInputs, Observer, Phase, RunState,
    Sample, Subject, SubjectKind,
};

/// Records what it is told; interrupts after `stop_after` samples.
#[derive(Default)]
struct Recorder {
    started: Vec<(String, usize, usize)>,
    phases: Vec<Phase>,
    samples: Vec<(String, u64, String)>,
    finished: Vec<(String, bool)>,
    stop_after: Option<usize>,
}

impl Observer for Recorder {
    fn engine_started(&mut self, engine: &str, index: usize, count: usize) {
        self.started.push((engine.into(), index, count));
    }
    fn event(&mut self, event: Event) {
        if let Event::Phase(p) = event {
            self.phases.push(p);
        }
    }
    fn engine_finished(&mut self, engine: &str, outcome: Result<&EngineRun, &BenchError>) {
        self.finished.push((engine.into(), outcome.is_ok()));
    }
    fn sample(&mut self, s: &Sample) -> std::io::Result<()> {
        self.samples
            .push((s.engine.into(), s.iteration, s.anchor.into()));
        Ok(())
    }
    fn interrupted(&self) -> bool {
        self.stop_after.is_some_and(|n| self.samples.len() >= n)
    }
}

#[test]
fn a_bare_model_on_two_engines_reports_every_sample_to_the_observer() {
    let cache = tempfile::tempdir().unwrap();
    let bench = Benchmark {
        subject: Subject::Model {
            path: asset("models/face_detection_short_range.onnx"),
            inputs: ModelInputs::Synthetic {
                shapes: Default::default(),
                seed: 1,
            },
        },
        engines: vec!["lne".into(), "onnxruntime".into(), "warp".into()],
        config: bench_config(4),
        source: "face.onnx".into(),
        dataset: String::new(),
        title: None,
        build: test_build(),
    };
    let mut rec = Recorder::default();
    let report = bench.run(&runtime(cache.path()), &mut rec);
    assert!(!report.partial);
    assert_eq!(report.config.subject, SubjectKind::Model);
    assert_eq!(report.runs.len(), 2);
    // An unknown engine fails its own run only, with the known ones named.
    assert_eq!(report.errors.len(), 1);
    assert!(
        report.errors[0].error.contains("unknown engine 'warp'"),
        "{:?}",
        report.errors
    );
    assert_eq!(
        rec.started,
        [
            ("lne".into(), 1, 3),
            ("onnxruntime".into(), 2, 3),
            ("warp".into(), 3, 3)
        ]
    );
    assert_eq!(
        rec.finished,
        [
            ("lne".into(), true),
            ("onnxruntime".into(), true),
            ("warp".into(), false)
        ]
    );
    assert_eq!(
        rec.phases[..3],
        [Phase::Load, Phase::Warmup, Phase::Steady],
        "{:?}",
        rec.phases
    );
    // One `inference` sample per steady iteration and engine, in order.
    let lne: Vec<u64> = rec
        .samples
        .iter()
        .filter(|(e, _, a)| e == "lne" && a == "inference")
        .map(|(_, i, _)| *i)
        .collect();
    assert_eq!(lne, [0, 1, 2, 3]);
    assert_eq!(rec.samples.len(), 8);
    for run in &report.runs {
        let steady = run.phases.steady.as_ref().unwrap();
        assert_eq!(steady.ended_by, EndedBy::Number);
        assert_eq!(run.phases.warmup.ended_by, EndedBy::Iterations);
        assert_ne!(run.state, RunState::Partial);
    }
}

#[test]
fn an_observer_that_stops_the_run_gets_a_partial_report() {
    let cache = tempfile::tempdir().unwrap();
    let app = lpdnn_app::App::load(&example("face-detection")).unwrap();
    let image = lpdnn_engine_api::read_file(&asset("images/astronaut.png")).unwrap();
    let bench = Benchmark {
        subject: Subject::App {
            app: Box::new(app),
            inputs: vec![lpdnn_bench::Input {
                name: "astronaut.png".into(),
                bytes: image,
            }],
        },
        engines: vec!["lne".into(), "onnxruntime".into()],
        config: bench_config(1000),
        source: "face".into(),
        dataset: "assets/images".into(),
        title: None,
        build: test_build(),
    };
    // Four anchors a steady iteration (preprocess, inference, postprocess,
    // total): stop during the third iteration's samples.
    let mut rec = Recorder {
        stop_after: Some(10),
        ..Default::default()
    };
    let report = bench.run(&runtime(cache.path()), &mut rec);
    assert!(report.partial);
    assert_eq!(report.runs.len(), 1, "the second engine never starts");
    let run = &report.runs[0];
    assert_eq!(run.state, RunState::Partial);
    let steady = run.phases.steady.as_ref().unwrap();
    assert_eq!(steady.ended_by, EndedBy::Interrupted);
    assert_eq!(steady.iterations, 3);
    // The face is found in the first pass's prediction.
    let faces = run.predictions[0].prediction["detections"]
        .as_array()
        .unwrap();
    assert_eq!(faces.len(), 1, "{:?}", run.predictions);
}
