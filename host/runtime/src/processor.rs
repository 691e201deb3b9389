//! Warm, sandboxed processor instances.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::component::{InstancePre, ResourceTable};
use wasmtime::{ResourceLimiter, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::{self, audio, post, signal};
use crate::convert::{self, InputMeta, Prediction, Preprocessed};
use crate::version::{self, Kind, Surface};
use crate::{RuntimeError, Shared};

/// Per-store state: a WASI context that grants nothing, the memory limiter
/// and the captured stderr.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    stderr: MemoryOutputPipe,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory and remembers the peak and any refused growth.
struct Limiter {
    max_memory: usize,
    peak_memory: usize,
    refused: Option<usize>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.refused = Some(desired);
            // Trap instead of returning -1 from memory.grow: a guest's
            // allocator would otherwise turn it into an unreadable panic.
            wasmtime::bail!("memory limit of {} bytes exceeded", self.max_memory);
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// What differs between the processor worlds.
pub(crate) trait World: Sized + Send + 'static {
    /// The world's name, for errors.
    const NAME: &'static str;
    /// Pre-instantiated bindings.
    type Pre: Send;
    fn pre(instance_pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre>;
    fn instantiate(pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self>;
    fn configure(
        &self,
        store: &mut Store<HostState>,
        config: &bindings::Config,
    ) -> wasmtime::Result<Result<(), bindings::ProcessorError>>;
}

/// Implements [`World`] for a generated world: its name, its `*Pre` type
/// and the accessor of its exported interface.
macro_rules! world {
    ($world:ty, $name:literal, $pre:ty, $export:ident) => {
        impl World for $world {
            const NAME: &'static str = $name;
            type Pre = $pre;
            fn pre(instance_pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
                <$pre>::new(instance_pre)
            }
            fn instantiate(
                pre: &Self::Pre,
                store: &mut Store<HostState>,
            ) -> wasmtime::Result<Self> {
                pre.instantiate(store)
            }
            fn configure(
                &self,
                store: &mut Store<HostState>,
                config: &bindings::Config,
            ) -> wasmtime::Result<Result<(), bindings::ProcessorError>> {
                self.$export().call_configure(store, config)
            }
        }
    };
}

world!(
    bindings::ImagePreprocessor,
    "image-preprocessor",
    bindings::ImagePreprocessorPre<HostState>,
    lpdnn_processing_image_preprocess
);
world!(
    audio::AudioPreprocessor,
    "audio-preprocessor",
    audio::AudioPreprocessorPre<HostState>,
    lpdnn_processing_audio_preprocess
);
world!(
    signal::SignalPreprocessor,
    "signal-preprocessor",
    signal::SignalPreprocessorPre<HostState>,
    lpdnn_processing_signal_preprocess
);
world!(
    post::Postprocessor,
    "postprocessor",
    post::PostprocessorPre<HostState>,
    lpdnn_processing_postprocess
);

/// A component loaded as world `W`, with a warm instance that is replaced
/// after any trap.
struct Instance<W: World> {
    shared: Arc<Shared>,
    path: PathBuf,
    pre: W::Pre,
    config: bindings::Config,
    live: Option<(Store<HostState>, W)>,
    peak_memory: usize,
}

/// Compiles a component and checks what it is before anything runs: the
/// WIT version it was built against, and which processor kinds it exports.
pub(crate) fn open(
    shared: &Shared,
    path: &Path,
) -> Result<(wasmtime::component::Component, Vec<Kind>), RuntimeError> {
    let (component, _) = shared.component(path)?;
    let surface = Surface::of(&shared.engine, &component);
    if let Some(v) = surface
        .versions()
        .into_iter()
        .find(|v| !version::compatible(v))
    {
        return Err(RuntimeError::Version {
            path: path.to_owned(),
            component: if v.is_empty() {
                "(unversioned)".into()
            } else {
                v
            },
            host: version::WIT_VERSION,
        });
    }
    Ok((component, surface.kinds()))
}

impl<W: World> Instance<W> {
    fn load(
        shared: Arc<Shared>,
        component: wasmtime::component::Component,
        path: &Path,
        params: &str,
        labels: &[String],
    ) -> Result<Self, RuntimeError> {
        let wrong_world = |e: wasmtime::Error| RuntimeError::WrongWorld {
            path: path.to_owned(),
            world: W::NAME.into(),
            message: format!("{e:#}"),
        };
        let instance_pre = shared
            .linker
            .instantiate_pre(&component)
            .map_err(wrong_world)?;
        let pre = W::pre(instance_pre).map_err(wrong_world)?;
        let mut instance = Instance {
            shared,
            path: path.to_owned(),
            pre,
            config: bindings::Config {
                params: params.to_owned(),
                labels: labels.to_vec(),
            },
            live: None,
            peak_memory: 0,
        };
        // Instantiate and configure now, so bad params fail at load time.
        instance.warm()?;
        Ok(instance)
    }

    /// Makes sure a configured instance is live.
    fn warm(&mut self) -> Result<(), RuntimeError> {
        if self.live.is_some() {
            return Ok(());
        }
        let limits = self.shared.limits;
        let stderr = MemoryOutputPipe::new(limits.stderr_bytes);
        // Nothing granted: no preopened folders, no environment, no
        // arguments, no sockets; stdin is empty and stdout is discarded.
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        let mut store = Store::new(
            &self.shared.engine,
            HostState {
                wasi,
                table: ResourceTable::new(),
                limiter: Limiter {
                    max_memory: limits.memory_bytes,
                    peak_memory: 0,
                    refused: None,
                },
                stderr,
            },
        );
        store.limiter(|s| &mut s.limiter);
        store.set_hostcall_fuel(limits.output_bytes);
        self.shared.arm_deadline(&mut store);
        let world = match W::instantiate(&self.pre, &mut store) {
            Ok(w) => w,
            Err(e) => return Err(self.trap_error(&store, e)),
        };
        self.shared.arm_deadline(&mut store);
        match world.configure(&mut store, &self.config) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(convert::processor_error(&self.path, e)),
            Err(e) => return Err(self.trap_error(&store, e)),
        }
        self.live = Some((store, world));
        Ok(())
    }

    /// Calls into the warm instance under the deadline. A processor error
    /// keeps the instance; a trap discards it (the next call gets a fresh one).
    fn call<R>(
        &mut self,
        f: impl FnOnce(
            &W,
            &mut Store<HostState>,
        ) -> wasmtime::Result<Result<R, bindings::ProcessorError>>,
    ) -> Result<R, RuntimeError> {
        self.warm()?;
        let (store, world) = self.live.as_mut().expect("warm() made an instance live");
        self.shared.arm_deadline(store);
        let result = f(world, store);
        self.peak_memory = self.peak_memory.max(store.data().limiter.peak_memory);
        // The captured stderr only grows: recycle a chatty instance before
        // its writes start failing (a fresh one is cheap).
        let chatty = store.data().stderr.contents().len() > self.shared.limits.stderr_bytes / 2;
        match result {
            Ok(r) => {
                if chatty {
                    self.live = None;
                }
                r.map_err(|e| convert::processor_error(&self.path, e))
            }
            Err(e) => {
                let (store, _) = self.live.take().expect("instance is live");
                Err(self.trap_error(&store, e))
            }
        }
    }

    /// Classifies a failed call: deadline, memory cap or crash.
    fn trap_error(&self, store: &Store<HostState>, e: wasmtime::Error) -> RuntimeError {
        let path = self.path.clone();
        let state = store.data();
        if let Some(requested) = state.limiter.refused {
            return RuntimeError::MemoryLimit {
                path,
                limit: state.limiter.max_memory,
                requested,
            };
        }
        if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return RuntimeError::Timeout {
                path,
                limit: self.shared.limits.call_timeout.unwrap_or_default(),
            };
        }
        // wasmtime's hostcall fuel (`Limits::output_bytes`): the bytes it
        // copies out of the guest in one call (a private error type, known
        // by its text).
        if format!("{e:#}").contains("fuel allocated for hostcalls has been exhausted") {
            return RuntimeError::OutputLimit {
                path,
                limit: self.shared.limits.output_bytes,
            };
        }
        // A full stderr pipe refuses the guest's next write: the trap that
        // follows is the limit's doing, not a crash.
        let written = state.stderr.contents();
        let limit = self.shared.limits.stderr_bytes;
        if written.len() >= limit {
            let text = String::from_utf8_lossy(&written[..written.len().min(200)]).into_owned();
            let head: String = text
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(120)
                .collect();
            return RuntimeError::StderrLimit { path, limit, head };
        }
        RuntimeError::Trap {
            path,
            message: format!("{e:#}"),
            stderr: String::from_utf8_lossy(&state.stderr.contents()).into_owned(),
        }
    }
}

/// A pre-processor component of any kind (image, audio or signal): the
/// encoded input's bytes in, model tensors chunk by chunk out.
pub struct Preprocessor {
    kind: Kind,
    inner: Pre,
}

enum Pre {
    Image(Instance<bindings::ImagePreprocessor>),
    Audio(Instance<audio::AudioPreprocessor>),
    Signal(Instance<signal::SignalPreprocessor>),
}

impl Preprocessor {
    pub(crate) fn load(
        shared: Arc<Shared>,
        path: &Path,
        params: &str,
        labels: &[String],
    ) -> Result<Self, RuntimeError> {
        let (component, kinds) = open(&shared, path)?;
        let kind = kinds
            .iter()
            .copied()
            .find(|k| k.is_preprocessor())
            .ok_or_else(|| RuntimeError::WrongWorld {
                path: path.to_owned(),
                world: "pre-processor (image-, audio- or signal-preprocessor)".into(),
                message: describe_kinds(&kinds),
            })?;
        let inner = match kind {
            Kind::ImagePreprocessor => {
                Pre::Image(Instance::load(shared, component, path, params, labels)?)
            }
            Kind::AudioPreprocessor => {
                Pre::Audio(Instance::load(shared, component, path, params, labels)?)
            }
            Kind::SignalPreprocessor => {
                Pre::Signal(Instance::load(shared, component, path, params, labels)?)
            }
            Kind::Postprocessor => unreachable!("filtered above"),
        };
        Ok(Preprocessor { kind, inner })
    }

    /// Which kind of pre-processor it is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Pre-processes one encoded input (an image, a WAV file, a sensor
    /// recording) inside the sandbox.
    pub fn process(&mut self, input: &[u8]) -> Result<Preprocessed, RuntimeError> {
        let out = match &mut self.inner {
            Pre::Image(i) => i.call(|w, store| {
                w.lpdnn_processing_image_preprocess()
                    .call_process(store, input)
            }),
            Pre::Audio(i) => i.call(|w, store| {
                w.lpdnn_processing_audio_preprocess()
                    .call_process(store, input)
            }),
            Pre::Signal(i) => i.call(|w, store| {
                w.lpdnn_processing_signal_preprocess()
                    .call_process(store, input)
            }),
        }?;
        convert::preprocessed(self.path(), out)
    }

    /// The component file.
    pub fn path(&self) -> &Path {
        match &self.inner {
            Pre::Image(i) => &i.path,
            Pre::Audio(i) => &i.path,
            Pre::Signal(i) => &i.path,
        }
    }

    /// Largest linear memory any instance of this processor reached, in bytes.
    pub fn peak_memory(&self) -> usize {
        match &self.inner {
            Pre::Image(i) => i.peak_memory,
            Pre::Audio(i) => i.peak_memory,
            Pre::Signal(i) => i.peak_memory,
        }
    }
}

fn describe_kinds(kinds: &[Kind]) -> String {
    if kinds.is_empty() {
        format!(
            "it exports no lpdnn:processing@{} processor interface",
            version::WIT_VERSION
        )
    } else {
        let names: Vec<&str> = kinds.iter().map(|k| k.world()).collect();
        format!("it is a {}", names.join(" and "))
    }
}

/// A post-processor component: model tensors in, a prediction out.
pub struct Postprocessor(Instance<post::Postprocessor>);

impl Postprocessor {
    pub(crate) fn load(
        shared: Arc<Shared>,
        path: &Path,
        params: &str,
        labels: &[String],
    ) -> Result<Self, RuntimeError> {
        let (component, kinds) = open(&shared, path)?;
        if !kinds.contains(&Kind::Postprocessor) {
            return Err(RuntimeError::WrongWorld {
                path: path.to_owned(),
                world: Kind::Postprocessor.world().into(),
                message: describe_kinds(&kinds),
            });
        }
        Instance::load(shared, component, path, params, labels).map(Postprocessor)
    }

    /// Turns the model's outputs, one entry per chunk (one for an image),
    /// into a prediction. `meta` is what the pre-processor returned for the
    /// same input.
    pub fn process(
        &mut self,
        outputs: &[Vec<lpdnn_engine_api::Tensor>],
        meta: &InputMeta,
    ) -> Result<Prediction, RuntimeError> {
        let outputs: Vec<Vec<bindings::Tensor>> = outputs
            .iter()
            .map(|chunk| chunk.iter().map(convert::to_wit).collect())
            .collect();
        let out = self.0.call(|w, store| {
            w.lpdnn_processing_postprocess()
                .call_process(store, &outputs, meta.as_wit())
        })?;
        convert::prediction(&self.0.path, out)
    }

    /// The component file.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// Largest linear memory any instance of this processor reached, in bytes.
    pub fn peak_memory(&self) -> usize {
        self.0.peak_memory
    }
}
