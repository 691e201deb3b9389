//! The sandbox for processor components.
//!
//! Pre- and post-processors are WebAssembly components implementing the
//! worlds of `wit/processing.wit`. This crate compiles them (once, cached on
//! disk), instantiates them with nothing granted (no files, no environment,
//! no network), caps their memory, puts a deadline on every call, captures
//! their stderr, and turns traps into typed errors. A crashed instance is
//! replaced by a fresh one from the same pre-instantiated component, so the
//! host keeps serving.

#![warn(missing_docs)]

mod bindings;
mod cache;
mod convert;
mod error;
mod processor;
mod version;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine, OptLevel};

pub use convert::{ClassScore, Detection, InputMeta, Prediction, Preprocessed, Segment, Values};
pub use error::{ProcessorErrorKind, RuntimeError};
pub use lpdnn_engine_api::untrusted;
pub use processor::{Postprocessor, Preprocessor};
pub use version::{compatible, Kind, Surface, WIT_VERSION};

use processor::HostState;

/// Set to `perfmap` to have the components' compiled functions named in
/// `/tmp/perf-<pid>.map`, so that `perf record` / `perf report` profile them.
pub const PROFILER_ENV: &str = "LPDNN_WASM_PROFILER";

/// How often the deadline clock ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Resource limits applied to every processor instance.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Cap on each instance's linear memory, in bytes.
    pub memory_bytes: usize,
    /// Deadline of each call (configure or process). `None` runs trusted
    /// components without one: wasmtime then compiles no epoch check into
    /// the guest's loops, which costs 35-75 % on tight numeric loops
    /// (`cargo bench -p lpdnn-benches --bench pipeline -- mfcc`). The memory
    /// cap stays. Never `None` for untrusted components.
    pub call_timeout: Option<Duration>,
    /// How much of the guest's stderr is kept for error messages.
    pub stderr_bytes: usize,
    /// Most bytes copied out of a component in one call (tensors,
    /// predictions, strings): wasmtime's hostcall fuel, set per store.
    pub output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 512 << 20,
            call_timeout: Some(Duration::from_secs(10)),
            stderr_bytes: 64 << 10,
            output_bytes: 128 << 20,
        }
    }
}

/// Settings of a [`Runtime`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Where compiled components are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// Limits for every instance.
    pub limits: Limits,
}

impl RuntimeConfig {
    /// The default cache folder: `$LPDNN_CACHE_DIR/components`, else
    /// `$XDG_CACHE_HOME/lpdnn/components`, else `~/.cache/lpdnn/components`.
    pub fn default_cache_dir() -> Option<PathBuf> {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        env("LPDNN_CACHE_DIR")
            .or_else(|| env("XDG_CACHE_HOME").map(|p| p.join("lpdnn")))
            .or_else(|| env("HOME").map(|p| p.join(".cache/lpdnn")))
            .map(|p| p.join("components"))
    }
}

/// Shared state of a runtime: the wasmtime engine, the WASI-only linker and
/// the limits.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    pub(crate) limits: Limits,
    cache_dir: Option<PathBuf>,
    /// Stops the deadline clock when the last user of the engine is gone.
    stop_ticker: Arc<AtomicBool>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// Loads processor components. Create one per process and share it; the
/// processors it hands out stay usable after it is dropped.
pub struct Runtime {
    shared: Arc<Shared>,
}

impl Runtime {
    /// Sets up the engine and starts the deadline clock.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(config.limits.call_timeout.is_some())
            .cranelift_opt_level(OptLevel::Speed);
        match std::env::var(PROFILER_ENV).as_deref() {
            Err(_) | Ok("") => {}
            Ok("perfmap") => {
                wasm.profiler(wasmtime::ProfilingStrategy::PerfMap);
            }
            Ok(other) => {
                return Err(RuntimeError::Setup(format!(
                    "{PROFILER_ENV}={other}: the one profiler supported is perfmap"
                )))
            }
        }
        let engine = Engine::new(&wasm).map_err(|e| RuntimeError::Setup(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        // Processors compiled for wasm32-wasip2 import WASI even when they do
        // no I/O; each store's WasiCtx grants nothing (see processor.rs).
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| RuntimeError::Setup(format!("{e:#}")))?;

        let stop_ticker = Arc::new(AtomicBool::new(false));
        // The deadline clock; trusted components without a deadline need none.
        if config.limits.call_timeout.is_some() {
            let (ticker_engine, stop) = (engine.clone(), stop_ticker.clone());
            std::thread::Builder::new()
                .name("lpdnn-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        ticker_engine.increment_epoch();
                    }
                })
                .map_err(|e| {
                    RuntimeError::Setup(format!("cannot start the deadline clock: {e}"))
                })?;
        }

        Ok(Runtime {
            shared: Arc::new(Shared {
                engine,
                linker,
                limits: config.limits,
                cache_dir: config.cache_dir,
                stop_ticker,
            }),
        })
    }

    /// The limits every instance runs under.
    pub fn limits(&self) -> Limits {
        self.shared.limits
    }

    /// Loads a pre-processor (image, audio or signal: whichever world the
    /// component exports) and configures it with `params` (JSON object
    /// text) and `labels`.
    pub fn preprocessor(
        &self,
        path: &Path,
        params: &str,
        labels: &[String],
    ) -> Result<Preprocessor, RuntimeError> {
        Preprocessor::load(self.shared.clone(), path, params, labels)
    }

    /// Loads a post-processor and configures it with `params` (JSON object
    /// text) and `labels`.
    pub fn postprocessor(
        &self,
        path: &Path,
        params: &str,
        labels: &[String],
    ) -> Result<Postprocessor, RuntimeError> {
        Postprocessor::load(self.shared.clone(), path, params, labels)
    }
}

/// What a component file is, as `lpdnn-host component inspect` and
/// `check` report it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ComponentReport {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Processor worlds it implements (by the interfaces it exports).
    pub worlds: Vec<Kind>,
    /// `lpdnn:processing` versions it names.
    pub wit_versions: Vec<String>,
    /// The version this host speaks.
    pub host_wit_version: &'static str,
    /// Imports and exports.
    #[serde(flatten)]
    pub surface: Surface,
    /// The compiled form in the cache, when there is a cache.
    pub cache_file: Option<PathBuf>,
    /// Why this host would refuse it; empty when it would run it.
    pub problems: Vec<String>,
}

impl Runtime {
    /// Compiles a component (through the cache) and reports what it is and
    /// anything that would keep it from running here: no processor world
    /// (or several), a WIT version this host does not speak, imports the
    /// sandbox does not grant, or a failed link.
    pub fn inspect_component(&self, path: &Path) -> Result<ComponentReport, RuntimeError> {
        let shared = &self.shared;
        let (component, bytes) = shared.component(path)?;
        let surface = Surface::of(&shared.engine, &component);
        let worlds = surface.kinds();
        let wit_versions = surface.versions();
        let mut problems = Vec::new();
        match worlds.len() {
            0 => problems.push(format!(
                "it exports no lpdnn:processing@{WIT_VERSION} interface (image-preprocess, audio-preprocess, signal-preprocess or postprocess)"
            )),
            1 => {}
            _ => problems.push("it exports more than one processor interface; a component implements one world".into()),
        }
        for v in wit_versions.iter().filter(|v| !compatible(v)) {
            problems.push(format!(
                "built against lpdnn:processing@{v}; this host speaks lpdnn:processing@{WIT_VERSION}"
            ));
        }
        for i in surface.foreign_imports() {
            problems.push(format!("imports {i}, which the sandbox does not grant (only WASI 0.2 is linked, with nothing granted)"));
        }
        if problems.is_empty() {
            if let Err(e) = shared.linker.instantiate_pre(&component) {
                problems.push(format!("does not link against the sandbox: {e:#}"));
            }
        }
        use sha2::Digest;
        Ok(ComponentReport {
            path: path.to_owned(),
            size_bytes: bytes.len() as u64,
            sha256: hex::encode(sha2::Sha256::digest(&bytes)),
            worlds,
            wit_versions,
            host_wit_version: WIT_VERSION,
            surface,
            cache_file: shared
                .cache_dir
                .as_deref()
                .map(|d| cache::file(&shared.engine, d, &bytes))
                .filter(|f| f.is_file()),
            problems,
        })
    }
}

impl Shared {
    /// Reads and compiles a component (through the cache); returns it with
    /// the file's bytes.
    pub(crate) fn component(
        &self,
        path: &Path,
    ) -> Result<(wasmtime::component::Component, Vec<u8>), RuntimeError> {
        let bytes = lpdnn_engine_api::read_file(path).map_err(|e| RuntimeError::Io {
            path: path.to_owned(),
            source: e.into(),
        })?;
        let component = cache::load(&self.engine, self.cache_dir.as_deref(), path, &bytes)?;
        Ok((component, bytes))
    }

    /// Starts one call's deadline on `store` (nothing without a deadline).
    pub(crate) fn arm_deadline(&self, store: &mut wasmtime::Store<HostState>) {
        if let Some(timeout) = self.limits.call_timeout {
            let ticks = timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos());
            store.epoch_deadline_trap();
            store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1));
        }
    }
}
