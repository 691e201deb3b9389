//! The ratios `docs/performance.md` reports, each measured side by side:
//! A and B alternate round after round in one process, and the median of the
//! per-round ratios is printed with its quartiles (see
//! `lpdnn_benches::interleaved`). Run: `cargo bench -p lpdnn-benches --bench
//! ratios` (about two minutes); `LPDNN_RATIO_SECONDS` sets each row's budget
//! (default 3); arguments that do not start with `-` keep only the sections
//! whose title contains one of them (`image`, `face`, `mfcc`, `inference`,
//! `host`, `heap`).
//!
//! Needs `scripts/setup.sh` (components, models, images and speech under
//! `assets/`).

use std::time::{Duration, Instant};

use lpdnn_anchors::CountingAllocator;
use lpdnn_benches::{asset, face_pipeline, interleaved, ms, ppm, timed, Comparison};
use lpdnn_engine_api::{LoadOptions, Model, Tensor};
use lpdnn_runtime::{Limits, Runtime, RuntimeConfig};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// What a row aims for.
#[derive(Clone, Copy)]
enum Goal {
    /// A / B at most this.
    Ratio(f64),
    /// A at most this many milliseconds.
    Millis(f64),
    /// Reported, no goal.
    None,
}

struct Table {
    budget: Duration,
    filters: Vec<String>,
    shown: bool,
}

impl Table {
    /// Starts a section; false when the filters leave it out.
    fn section(&mut self, title: &str) -> bool {
        let keep = self.filters.is_empty()
            || self
                .filters
                .iter()
                .any(|f| title.to_lowercase().contains(f));
        if keep {
            println!("\n{title}");
            self.shown = true;
        }
        keep
    }

    fn row(
        &self,
        label: &str,
        a: impl FnMut() -> Duration,
        b: impl FnMut() -> Duration,
        goal: Goal,
    ) -> Comparison {
        let c = interleaved(a, b, self.budget);
        let goal = match goal {
            Goal::Ratio(g) => format!("≤ {g:.2}× {}", mark(c.ratio <= g)),
            Goal::Millis(g) => format!("A ≤ {g} ms {}", mark(c.a.as_secs_f64() * 1e3 <= g)),
            Goal::None => String::new(),
        };
        println!(
            "  {label:<40}{}{} {:>6.2}× {:>5.2}–{:<5.2} {goal}",
            ms(c.a),
            ms(c.b),
            c.ratio,
            c.ratio_p25,
            c.ratio_p75
        );
        c
    }
}

fn mark(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

fn runtime(deadline: bool) -> Runtime {
    let mut limits = Limits::default();
    if !deadline {
        limits.call_timeout = None;
    }
    Runtime::new(RuntimeConfig {
        cache_dir: RuntimeConfig::default_cache_dir(),
        limits,
    })
    .expect("wasm runtime")
}

/// Keeps freed memory in the process, as a wasm instance keeps its linear
/// memory from call to call: otherwise glibc hands the native side's large
/// buffers back to the kernel after each call and the next call pays page
/// faults for them (native MFCC measured 2.7 ms or 5.5 ms from one run to the
/// next, by the allocator's state alone).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator thresholds, before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

fn main() {
    keep_freed_memory();
    let budget = std::env::var("LPDNN_RATIO_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(Duration::from_secs(3), Duration::from_secs_f64);
    let mut t = Table {
        budget,
        filters: std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with('-'))
            .map(|a| a.to_lowercase())
            .collect(),
        shown: false,
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.into());
    println!(
        "lpdnn-host: own stages side by side — {cpu}, {} threads{}; {:.0} s a row",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        x86_features(),
        budget.as_secs_f64()
    );
    println!(
        "  {:<40}{:>9}{:>9} {:>7} {:>11} goal",
        "A / B", "A (ms)", "B (ms)", "A/B", "p25–p75"
    );
    let rt = runtime(true);
    image_rows(&mut t, &rt);
    face_rows(&mut t, &rt);
    mfcc_rows(&mut t, &rt);
    inference_rows(&mut t);
    host_rows(&mut t, &rt);
    heap_rows(&mut t, &rt);
    if !t.shown {
        eprintln!("no section matches {:?}", t.filters);
        std::process::exit(2);
    }
}

fn x86_features() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let f = [
            ("sse4.1", std::is_x86_feature_detected!("sse4.1")),
            ("avx2", std::is_x86_feature_detected!("avx2")),
            ("fma", std::is_x86_feature_detected!("fma")),
            ("avx512f", std::is_x86_feature_detected!("avx512f")),
        ];
        let have: Vec<&str> = f.iter().filter(|(_, h)| *h).map(|(n, _)| *n).collect();
        format!(" ({})", have.join(", "))
    }
    #[cfg(not(target_arch = "x86_64"))]
    String::new()
}

/// The image pre-processor in wasm (deadline on) against the same Rust
/// compiled natively for SSE4.1 (128-bit, as wasm's simd128) and for
/// AVX2 + FMA.
fn image_rows(t: &mut Table, rt: &Runtime) {
    if !t.section("image pre-processing: chelsea 451×300 → 224² f32 NCHW, wasm vs native") {
        return;
    }
    let params =
        r#"{"width": 224, "height": 224, "mean": [127.5, 127.5, 127.5], "std": [128, 128, 128]}"#;
    let mut wasm = rt
        .preprocessor(&asset("components/image_preprocess.wasm"), params, &[])
        .expect("image_preprocess.wasm");
    let p = imageproc_core::Params::from_json(params).expect("params");
    let png = std::fs::read(asset("images/chelsea.png")).expect("chelsea.png");
    for (name, bytes) in [("PPM", ppm("images/chelsea.png")), ("PNG", png)] {
        for level in [
            imageproc_core::X86Level::Sse41,
            imageproc_core::X86Level::Avx2Fma,
        ] {
            if !level.available() {
                println!("  (this CPU has no {level:?})");
                continue;
            }
            t.row(
                &format!("{name}: wasm / native {level:?}"),
                timed(|| {
                    wasm.process(&bytes).expect("wasm");
                }),
                timed(|| {
                    let img = imageproc_core::decode(&bytes, p.max_pixels).expect("decode");
                    imageproc_core::preprocess_x86(&img, &p, level)
                        .expect("level")
                        .expect("preprocess");
                }),
                Goal::Ratio(1.15),
            );
        }
    }
}

/// The face app's pre-processing (PNG decode + letterbox) against its
/// model's inference on ONNX Runtime, and the stage split in decode and
/// resize + normalise (one fused pass).
fn face_rows(t: &mut Table, rt: &Runtime) {
    if !t.section("face app pre-processing: astronaut.png 512² → 128² letterbox") {
        return;
    }
    let (mut pre, _) = face_pipeline("onnxruntime", 1, rt);
    let (mut pre_ppm, _) = face_pipeline("onnxruntime", 1, rt);
    let (mut ort, tensors) = face_pipeline("onnxruntime", 1, rt);
    let png = std::fs::read(asset("images/astronaut.png")).expect("astronaut.png");
    let ppm = ppm("images/astronaut.png");
    t.row(
        "wasm stage / ORT inference",
        timed(|| {
            pre.preprocess(&png).expect("preprocess");
        }),
        || {
            let input = tensors.clone();
            let start = Instant::now();
            ort.infer(input).expect("infer");
            start.elapsed()
        },
        Goal::Millis(1.5),
    );
    let c = t.row(
        "wasm: from PNG / from the same PPM",
        timed(|| {
            pre.preprocess(&png).expect("png");
        }),
        timed(|| {
            pre_ppm.preprocess(&ppm).expect("ppm");
        }),
        Goal::None,
    );
    println!(
        "    wasm split: decode ≈ {:.3} ms (PNG − PPM), resize + normalise + copies ≤ {:.3} ms",
        c.a.saturating_sub(c.b).as_secs_f64() * 1e3,
        c.b.as_secs_f64() * 1e3
    );
    let p = imageproc_core::Params::from_json(
        r#"{"width": 128, "height": 128, "resize": "letterbox",
            "mean": [127.5, 127.5, 127.5], "std": [127.5, 127.5, 127.5]}"#,
    )
    .expect("params");
    let img = imageproc_core::decode(&png, p.max_pixels).expect("decode");
    t.row(
        "native: decode / resize + normalise",
        timed(|| {
            imageproc_core::decode(&png, p.max_pixels).expect("decode");
        }),
        timed(|| {
            imageproc_core::preprocess(&img, &p).expect("preprocess");
        }),
        Goal::None,
    );
}

/// MFCC of 9 s of speech: the audio component in wasm with the per-call
/// deadline (as every app runs it) against the same Rust natively, and
/// against itself without the deadline (what the epoch check costs).
fn mfcc_rows(t: &mut Table, rt: &Runtime) {
    if !t.section("MFCC pre-processing: speech.wav, 9 s at 22 050 Hz") {
        return;
    }
    let trusted = runtime(false);
    let wav = std::fs::read(asset("audio/speech.wav")).expect("speech.wav");
    for (name, params) in [
        ("22 050 Hz", r#"{"sr": 22050, "n_mfcc": 20}"#),
        (
            "16 kHz resampled",
            r#"{"sr": 16000, "n_mfcc": 13, "n_fft": 400, "hop_length": 160, "n_mels": 40}"#,
        ),
    ] {
        let component = asset("components/audio_preprocess.wasm");
        let native = audio_preprocess::Pipeline::from_json(params).expect("params");
        let mut wasm = rt
            .preprocessor(&component, params, &[])
            .expect("audio_preprocess.wasm");
        let mut no_deadline = trusted
            .preprocessor(&component, params, &[])
            .expect("audio_preprocess.wasm");
        t.row(
            &format!("{name}: wasm / native"),
            timed(|| {
                wasm.process(&wav).expect("wasm");
            }),
            timed(|| {
                native.process(&wav).expect("native");
            }),
            Goal::Ratio(1.10),
        );
        t.row(
            &format!("{name}: wasm / no deadline"),
            timed(|| {
                wasm.process(&wav).expect("wasm");
            }),
            timed(|| {
                no_deadline.process(&wav).expect("wasm");
            }),
            Goal::None,
        );
    }
}

/// A tensor for each input of `model`, filled with a fixed pattern.
fn inputs(model: &dyn Model) -> Vec<Tensor> {
    model
        .inputs()
        .iter()
        .map(|info| {
            let shape: Vec<usize> = info.shape.iter().map(|d| d.unwrap_or(1)).collect();
            let n = shape.iter().product::<usize>();
            let data: Vec<f32> = (0..n).map(|i| ((i % 251) as f32 - 125.0) / 125.0).collect();
            Tensor::from_f32(info.name.clone(), shape, &data).expect("tensor")
        })
        .collect()
}

fn load(engine: &str, model: &str, threads: usize) -> Box<dyn Model> {
    lpdnn_engines::engine(engine)
        .expect("engine")
        .load(
            &asset(model),
            &LoadOptions {
                threads: Some(threads),
                ..Default::default()
            },
        )
        .expect("model")
}

/// Runs `model` on a clone of `inputs`, timing the engine call only.
fn infer<'a>(model: &'a mut dyn Model, inputs: &'a [Tensor]) -> impl FnMut() -> Duration + 'a {
    move || {
        let x = inputs.to_vec();
        let start = Instant::now();
        model.run(x).expect("run");
        start.elapsed()
    }
}

/// LNE (tract) against ONNX Runtime on the two image models, at one and
/// two threads, and how each scales.
fn inference_rows(t: &mut Table) {
    if !t.section("inference: LNE (tract) vs ONNX Runtime, same model and input") {
        return;
    }
    for (name, file) in [
        ("BlazeFace", "models/face_detection_short_range.onnx"),
        ("EffNet-Lite0", "models/efficientnet_lite0.onnx"),
    ] {
        let (mut lne1, mut ort1) = (load("lne", file, 1), load("onnxruntime", file, 1));
        let (mut lne2, mut ort2) = (load("lne", file, 2), load("onnxruntime", file, 2));
        let x = inputs(ort1.as_ref());
        t.row(
            &format!("{name}: LNE / ORT, 1 thread"),
            infer(lne1.as_mut(), &x),
            infer(ort1.as_mut(), &x),
            Goal::Ratio(1.5),
        );
        t.row(
            &format!("{name}: LNE / ORT, 2 threads"),
            infer(lne2.as_mut(), &x),
            infer(ort2.as_mut(), &x),
            Goal::Ratio(1.5),
        );
        t.row(
            &format!("{name}: LNE 1 / 2 threads"),
            infer(lne1.as_mut(), &x),
            infer(lne2.as_mut(), &x),
            Goal::None,
        );
        t.row(
            &format!("{name}: ORT 1 / 2 threads"),
            infer(ort1.as_mut(), &x),
            infer(ort2.as_mut(), &x),
            Goal::None,
        );
    }
}

/// The host's inference stage (`Pipeline::infer`: binding, the engine
/// crate, the anchor) against the engine's own API on one session.
fn host_rows(t: &mut Table, rt: &Runtime) {
    if !t.section("host overhead: BlazeFace inference, 1 thread, host / engine API") {
        return;
    }
    {
        let (mut p, tensors) = face_pipeline("onnxruntime", 1, rt);
        let env = lpdnn_onnxruntime::environment().expect("ort");
        let mut session = ort::session::Session::builder(env)
            .and_then(|b| Ok(b.with_intra_threads(1)?))
            .and_then(|mut b| b.commit_from_file(p.model_path()))
            .expect("session");
        let x = &tensors[0];
        let data = x.to_f32().expect("f32");
        let input = ort::value::Tensor::from_array((x.shape().to_vec(), data)).expect("tensor");
        t.row(
            "ORT: Pipeline::infer / Session::run",
            || {
                let input = tensors.clone();
                let start = Instant::now();
                p.infer(input).expect("infer");
                start.elapsed()
            },
            timed(|| {
                session.run(ort::inputs![&input]).expect("run");
            }),
            Goal::Ratio(1.01),
        );
    }
    {
        use tract_onnx::prelude::*;
        let (mut p, tensors) = face_pipeline("lne", 1, rt);
        let plan = tract_onnx::onnx()
            .model_for_path(p.model_path())
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .expect("tract");
        let mut state = tract_onnx::tract_core::plan::SimpleState::new(&plan).expect("state");
        let x = &tensors[0];
        // SAFETY: f32 data of exactly this shape.
        let input = unsafe {
            tract_onnx::prelude::Tensor::from_raw_dt(DatumType::F32, x.shape(), x.data())
        }
        .expect("tensor");
        let run = |state: &mut tract_onnx::tract_core::plan::SimpleState<_, _>| {
            let input = tvec![input.clone().into_tvalue()];
            let start = Instant::now();
            state.run(input).expect("run");
            start.elapsed()
        };
        t.row(
            "LNE: Pipeline::infer / SimpleState::run",
            || {
                let input = tensors.clone();
                let start = Instant::now();
                p.infer(input).expect("infer");
                start.elapsed()
            },
            || run(&mut state),
            Goal::Ratio(1.01),
        );
        // What reusing tract's buffers (LNE's pool) costs or saves against
        // the allocator, on the engine API alone.
        let mut pooled = tract_onnx::tract_core::plan::SimpleState::new(&plan).expect("state");
        let mut pool = BlobPool::new(256 << 20);
        t.row(
            "LNE: SimpleState::run, pool / no pool",
            || with_blob_pool(&mut pool, || run(&mut pooled)),
            || run(&mut state),
            Goal::None,
        );
    }
}

/// Heap bytes allocated by one inference of the face app's model, as
/// `heap_allocated` in the benchmark JSON counts them.
fn heap_rows(t: &mut Table, rt: &Runtime) {
    if !t.section("heap allocated per BlazeFace inference (the counting allocator)") {
        return;
    }
    for engine in ["lne", "onnxruntime"] {
        let (mut p, tensors) = face_pipeline(engine, 1, rt);
        p.infer(tensors.clone()).expect("infer");
        let mut bytes = Vec::new();
        for _ in 0..20 {
            let input = tensors.clone();
            let before = lpdnn_anchors::allocated_bytes();
            p.infer(input).expect("infer");
            bytes.push(lpdnn_anchors::allocated_bytes() - before);
        }
        bytes.sort_unstable();
        let kib = bytes[bytes.len() / 2] as f64 / 1024.0;
        let goal = if engine == "lne" {
            format!("goal ≤ 1024 KiB {}", mark(kib <= 1024.0))
        } else {
            String::new()
        };
        println!("  {engine:<40}{kib:>9.0} KiB   {goal}");
    }
}
