//! Host overhead of the inference stage, per engine, on BlazeFace (the
//! face app's model, 1 thread):
//!
//! - `direct`: the engine's own API in a tight loop over one session (raw
//!   `ort::Session::run`, raw tract `SimpleState::run`); for NCNN and LiteRT,
//!   whose C APIs lpdnn-host drives itself, the engine crate's `Model::run`;
//! - `host`: `Pipeline::infer` — binding checks, the engine crate, the
//!   `inference` anchor — on the same pre-processed tensor.
//!
//! The goal is host ≤ 1.01 × direct. Inputs are cloned outside the timed
//! region (`iter_batched`), as the pipeline moves them without copying.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use lpdnn_app::{Runtime, RuntimeConfig};
use lpdnn_benches::face_pipeline;
use lpdnn_engine_api::LoadOptions;

fn overhead(c: &mut Criterion) {
    let cache = std::env::temp_dir().join("lpdnn-bench-engines");
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache),
        ..Default::default()
    })
    .expect("runtime");
    let mut group = c.benchmark_group("inference");
    for engine in ["lne", "onnxruntime", "ncnn", "litert"] {
        let (mut p, tensors) = face_pipeline(engine, 1, &runtime);
        group.bench_function(format!("{engine}/host"), |b| {
            b.iter_batched(
                || tensors.clone(),
                |t| p.infer(t).expect("infer"),
                BatchSize::SmallInput,
            )
        });
        let model_path = p.model_path().to_owned();
        match engine {
            "onnxruntime" => {
                let env = lpdnn_onnxruntime::environment().expect("ort");
                let mut session = ort::session::Session::builder(env)
                    .and_then(|b| Ok(b.with_intra_threads(1)?))
                    .and_then(|mut b| b.commit_from_file(&model_path))
                    .expect("session");
                let t = &tensors[0];
                let data: Vec<f32> = t
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                let input =
                    ort::value::Tensor::from_array((t.shape().to_vec(), data)).expect("tensor");
                group.bench_function(format!("{engine}/direct"), |b| {
                    b.iter(|| {
                        let out = session.run(ort::inputs![&input]).expect("run");
                        out.len()
                    })
                });
            }
            "lne" => {
                use tract_onnx::prelude::*;
                let plan = tract_onnx::onnx()
                    .model_for_path(&model_path)
                    .and_then(|m| m.into_optimized())
                    .and_then(|m| m.into_runnable())
                    .expect("tract");
                let mut state = tract_onnx::tract_core::plan::SimpleState::new(&plan).unwrap();
                let t = &tensors[0];
                // SAFETY: f32 data of exactly this shape.
                let input = unsafe {
                    tract_onnx::prelude::Tensor::from_raw_dt(DatumType::F32, t.shape(), t.data())
                }
                .unwrap();
                group.bench_function(format!("{engine}/direct"), |b| {
                    b.iter(|| state.run(tvec![input.clone().into_tvalue()]).expect("run"))
                });
            }
            _ => {
                let mut model = lpdnn_engines::engine(engine)
                    .unwrap()
                    .load(
                        &model_path,
                        &LoadOptions {
                            threads: Some(1),
                            ..Default::default()
                        },
                    )
                    .expect("model");
                group.bench_function(format!("{engine}/direct"), |b| {
                    b.iter_batched(
                        || tensors.clone(),
                        |t| model.run(t).expect("run"),
                        BatchSize::SmallInput,
                    )
                });
            }
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(60);
    targets = overhead
}
criterion_main!(benches);
