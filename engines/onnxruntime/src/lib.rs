//! ONNX Runtime behind the lpdnn engine API.
//!
//! The library is loaded at run time (`ort` with `load-dynamic`), so a build
//! never needs it: the set-up script takes `libonnxruntime.so` from the
//! `onnxruntime` PyPI wheel. Three engines share this code:
//!
//! - `onnxruntime`: CPU, or the CUDA execution provider with `device: gpu`;
//! - `tensorrt`: the TensorRT execution provider (with CUDA for the nodes
//!   TensorRT does not take) and an engine cache folder;
//! - `acl`: Huawei Ascend through the CANN execution provider
//!   (`onnxruntime-cann`), which drives the Ascend Computing Language.
//!
//! Nothing falls back silently: a device that is asked for and cannot be
//! used is an error that says what is missing and how to install it.

#![warn(missing_docs)]

mod profile;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use lpdnn_engine_api::{
    check_format, check_inputs, locate_library, DType, Device, Engine, EngineError, EngineInfo,
    EngineName, LayerProfile, LoadOptions, Model, ModelFormat, NativeLibrary, Tensor, TensorInfo,
};
use ort::environment::Environment;
use ort::ep::{self, ExecutionProvider};
use ort::memory::Allocator;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{Session, SessionInputValue};
use ort::value::{
    DynTensor, DynTensorValueType, PrimitiveTensorElementType, TensorElementType, TensorRef,
    ValueType,
};

/// Where the library is looked for, in order.
const LIB_VARS: &[&str] = &["LPDNN_ORT_LIB", "ORT_DYLIB_PATH"];
/// Its place under the cache folder, as the set-up script installs it.
/// The library in a deployment package (`lpdnn-host package`).
const LIB_PACKAGED: &str = EngineName::OnnxRuntime.library_files()[0];
const LIB_DEFAULT: &str = "lib/onnxruntime/libonnxruntime.so";
const INSTALL: &str = "run scripts/setup.sh, which installs it from the onnxruntime wheel \
                       (pip install onnxruntime; the library is onnxruntime/capi/libonnxruntime.so.*)";

/// Which execution provider family an engine name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// Plain ONNX Runtime: CPU, or CUDA on `device: gpu`.
    Default,
    /// TensorRT EP (+ CUDA EP for what TensorRT leaves).
    TensorRt,
    /// CANN EP on Ascend NPUs.
    Cann,
}

impl Flavor {
    /// The engine this flavour is.
    fn engine(self) -> EngineName {
        match self {
            Flavor::Default => EngineName::OnnxRuntime,
            Flavor::TensorRt => EngineName::TensorRt,
            Flavor::Cann => EngineName::Acl,
        }
    }
}

/// An engine backed by ONNX Runtime.
#[derive(Debug, Clone, Copy)]
pub struct OnnxRuntime {
    flavor: Flavor,
}

impl OnnxRuntime {
    /// ONNX Runtime on the CPU, or CUDA with `device: gpu`.
    pub const fn cpu_or_cuda() -> Self {
        OnnxRuntime {
            flavor: Flavor::Default,
        }
    }

    /// ONNX Runtime with the TensorRT execution provider.
    pub const fn tensorrt() -> Self {
        OnnxRuntime {
            flavor: Flavor::TensorRt,
        }
    }

    /// ONNX Runtime with the CANN execution provider (Huawei Ascend ACL).
    pub const fn acl() -> Self {
        OnnxRuntime {
            flavor: Flavor::Cann,
        }
    }

    fn options(&self) -> &'static [&'static str] {
        match self.flavor {
            Flavor::Default => &["inter_threads", "optimization", "device_id"],
            Flavor::TensorRt => &[
                "inter_threads",
                "optimization",
                "device_id",
                "cache_dir",
                "fp16",
            ],
            Flavor::Cann => &["inter_threads", "optimization", "device_id"],
        }
    }

    fn default_device(&self) -> Device {
        match self.flavor {
            Flavor::Default => Device::Cpu,
            Flavor::TensorRt => Device::Gpu,
            Flavor::Cann => Device::Npu,
        }
    }
}

/// The process-wide ONNX Runtime environment (the library can be loaded
/// once per process).
struct Runtime {
    env: Environment,
    path: PathBuf,
    version: String,
}

fn runtime() -> Result<&'static Runtime, String> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let path = locate_library(LIB_VARS, LIB_PACKAGED, LIB_DEFAULT, INSTALL)?;
            let version = library_version(&path)?;
            let env = ort::init_from(&path)
                .map_err(|e| format!("cannot load {}: {e}", path.display()))?
                .with_name("lpdnn-host")
                .build()
                .map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", path.display()))?;
            Ok(Runtime { env, path, version })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The process-wide ONNX Runtime environment this engine created (ONNX
/// Runtime allows one per process), for code that drives sessions directly,
/// such as the overhead benchmark.
pub fn environment() -> Result<&'static Environment, String> {
    runtime().map(|rt| &rt.env)
}

/// Reads the version through `OrtGetApiBase()->GetVersionString()`.
fn library_version(path: &Path) -> Result<String, String> {
    let lib = NativeLibrary::open(path)?;
    // SAFETY: the C signature of OrtGetApiBase, as `ort-sys` declares it.
    let base: unsafe extern "C" fn() -> *const ort::sys::OrtApiBase =
        unsafe { lib.get("OrtGetApiBase")? };
    // SAFETY: OrtGetApiBase returns a static table; GetVersionString a static
    // NUL-terminated string.
    unsafe {
        let base = base();
        if base.is_null() {
            return Err(format!("{}: OrtGetApiBase returned null", path.display()));
        }
        let s = ((*base).GetVersionString)();
        Ok(std::ffi::CStr::from_ptr(s).to_string_lossy().into_owned())
    }
}

/// Whether a shared library can be loaded by name (the loader's search path).
fn loadable(name: &str) -> bool {
    // SAFETY: probing well-known vendor libraries; they are unloaded at once.
    unsafe { libloading::Library::new(name) }.is_ok()
}

/// What stops `device` from working with this flavor, if anything.
fn device_problem(flavor: Flavor, device: Device, rt: &Runtime) -> Option<String> {
    let lib = format!("{} (ONNX Runtime {})", rt.path.display(), rt.version);
    let compiled = |available: ort::Result<bool>| available.unwrap_or(false);
    match (flavor, device) {
        (Flavor::Default, Device::Cpu) => None,
        (Flavor::Default, Device::Gpu) => {
            if !compiled(ep::CUDA::is_available()) {
                Some(format!(
                    "{lib} has no CUDA execution provider; install the GPU build \
                     (pip install onnxruntime-gpu) and set LPDNN_ORT_LIB to its \
                     onnxruntime/capi/libonnxruntime.so.*"
                ))
            } else {
                nvidia_problem()
            }
        }
        (Flavor::TensorRt, Device::Gpu) => {
            if !compiled(ep::TensorRT::is_available()) {
                Some(format!(
                    "{lib} has no TensorRT execution provider; install the GPU build \
                     (pip install onnxruntime-gpu, which has it), TensorRT 10 (libnvinfer.so.10) and CUDA, and set \
                     LPDNN_ORT_LIB to the GPU build's libonnxruntime.so.*"
                ))
            } else if !loadable("libnvinfer.so.10") {
                Some(
                    "libnvinfer.so.10 (TensorRT 10) cannot be loaded; install TensorRT \
                     and add its lib folder to LD_LIBRARY_PATH"
                        .into(),
                )
            } else {
                nvidia_problem()
            }
        }
        (Flavor::Cann, Device::Npu) => {
            if !compiled(ep::CANN::is_available()) {
                Some(format!(
                    "{lib} has no CANN execution provider; install the Ascend build \
                     (pip install onnxruntime-cann) and set LPDNN_ORT_LIB to its \
                     onnxruntime/capi/libonnxruntime.so.*"
                ))
            } else if !loadable("libascendcl.so") {
                Some(
                    "libascendcl.so (Huawei CANN toolkit) cannot be loaded; install the \
                     Ascend CANN toolkit and source its set_env.sh"
                        .into(),
                )
            } else if !Path::new("/dev/davinci_manager").exists() {
                Some("no Ascend NPU: /dev/davinci_manager is absent".into())
            } else {
                None
            }
        }
        (flavor, device) => Some(format!(
            "{} runs on {}, not on {device}",
            flavor.engine(),
            match flavor {
                Flavor::Default => "cpu or gpu",
                Flavor::TensorRt => "gpu",
                Flavor::Cann => "npu",
            }
        )),
    }
}

fn nvidia_problem() -> Option<String> {
    if !loadable("libcuda.so.1") {
        Some("no NVIDIA driver: libcuda.so.1 cannot be loaded".into())
    } else if !Path::new("/dev/nvidiactl").exists() {
        Some("no NVIDIA GPU: /dev/nvidiactl is absent".into())
    } else {
        None
    }
}

impl Engine for OnnxRuntime {
    fn name(&self) -> &'static str {
        self.flavor.engine().as_str()
    }

    fn formats(&self) -> &'static [ModelFormat] {
        &[ModelFormat::Onnx]
    }

    fn info(&self) -> EngineInfo {
        let mut info = EngineInfo::new(self.name(), self.formats(), self.options());
        let rt = match runtime() {
            Ok(rt) => rt,
            Err(reason) => {
                info.reason = Some(reason);
                return info;
            }
        };
        info.version = Some(format!("ONNX Runtime {}", rt.version));
        info.library = Some(rt.path.clone());
        let candidates: &[Device] = match self.flavor {
            Flavor::Default => &[Device::Cpu, Device::Gpu],
            Flavor::TensorRt => &[Device::Gpu],
            Flavor::Cann => &[Device::Npu],
        };
        let mut reasons = Vec::new();
        for &d in candidates {
            match device_problem(self.flavor, d, rt) {
                None => info.devices.push(d),
                Some(why) => reasons.push(format!("{d}: {why}")),
            }
        }
        info.available = !info.devices.is_empty();
        if !reasons.is_empty() {
            info.reason = Some(reasons.join("; "));
        }
        info
    }

    fn load(&self, path: &Path, options: &LoadOptions) -> Result<Box<dyn Model>, EngineError> {
        let name = self.name();
        options.check_known(name, self.options())?;
        let unavailable = |reason: String| EngineError::Unavailable {
            engine: name.into(),
            reason,
        };
        let rt = runtime().map_err(unavailable)?;
        // The flavor fixes the device for tensorrt and acl.
        let device = if self.flavor == Flavor::Default {
            options.device
        } else {
            self.default_device()
        };
        if let Some(why) = device_problem(self.flavor, device, rt) {
            return Err(unavailable(why));
        }
        check_format(self, path)?;

        let opt_err = |option: &str, message: String| EngineError::Option {
            engine: name.into(),
            option: option.into(),
            message,
        };
        let level = match options.string(name, "optimization")? {
            None | Some("all") => GraphOptimizationLevel::All,
            Some("extended") => GraphOptimizationLevel::Level2,
            Some("basic") => GraphOptimizationLevel::Level1,
            Some("disable") => GraphOptimizationLevel::Disable,
            Some(other) => {
                return Err(opt_err(
                    "optimization",
                    format!("'{other}' is not one of disable, basic, extended, all"),
                ))
            }
        };
        let device_id = options.uint(name, "device_id")?.unwrap_or(0);
        let device_id = i32::try_from(device_id)
            .map_err(|_| opt_err("device_id", format!("{device_id} is too large")))?;
        let load_err = |e: ort::Error| EngineError::Load {
            engine: name.into(),
            path: path.to_owned(),
            message: e.to_string(),
        };

        let mut builder = Session::builder(&rt.env)
            .map_err(load_err)?
            .with_optimization_level(level)
            .map_err(|e| load_err(e.into()))?;
        if let Some(n) = options.threads {
            builder = builder
                .with_intra_threads(n)
                .map_err(|e| load_err(e.into()))?;
        }
        if let Some(n) = options.uint(name, "inter_threads")? {
            builder = builder
                .with_parallel_execution(n > 1)
                .map_err(|e| load_err(e.into()))?
                .with_inter_threads(n)
                .map_err(|e| load_err(e.into()))?;
        }
        let providers = match (self.flavor, device) {
            (Flavor::Default, Device::Cpu) => Vec::new(),
            (Flavor::Default, _) => vec![ep::CUDA::default()
                .with_device_id(device_id)
                .build()
                .error_on_failure()],
            (Flavor::TensorRt, _) => {
                let cache = match options.string(name, "cache_dir")? {
                    Some(dir) => PathBuf::from(dir),
                    None => lpdnn_engine_api::cache_dir().join("tensorrt-engines"),
                };
                std::fs::create_dir_all(&cache).map_err(|e| {
                    opt_err(
                        "cache_dir",
                        format!("cannot create {}: {e}", cache.display()),
                    )
                })?;
                vec![
                    ep::TensorRT::default()
                        .with_device_id(device_id)
                        .with_fp16(options.flag(name, "fp16", false)?)
                        .with_engine_cache(true)
                        .with_engine_cache_path(cache.display())
                        .with_timing_cache(true)
                        .with_timing_cache_path(cache.display())
                        .build()
                        .error_on_failure(),
                    ep::CUDA::default()
                        .with_device_id(device_id)
                        .build()
                        .error_on_failure(),
                ]
            }
            (Flavor::Cann, _) => vec![ep::CANN::default()
                .with_device_id(device_id)
                .build()
                .error_on_failure()],
        };
        if !providers.is_empty() {
            builder = builder
                .with_execution_providers(providers)
                .map_err(|e| load_err(e.into()))?;
        }
        // A profiled session writes its trace and the graph it optimised
        // into a folder of its own, read back by `layer_profile`.
        let profiling = if options.profile_layers {
            let dir = tempfile::Builder::new()
                .prefix("lpdnn-ort-profile-")
                .tempdir()
                .map_err(|e| load_err(ort::Error::new(format!("profile folder: {e}"))))?;
            builder = builder
                .with_profiling(dir.path().join("trace"))
                .map_err(|e| load_err(e.into()))?
                .with_optimized_model_path(dir.path().join("optimized.onnx"))
                .map_err(|e| load_err(e.into()))?;
            Some(Profiling {
                dir,
                source: path.to_owned(),
            })
        } else {
            None
        };
        let session = builder.commit_from_file(path).map_err(load_err)?;

        let infos = |outlets: &[ort::value::Outlet]| {
            outlets
                .iter()
                .map(|o| info(o.name(), o.dtype()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|message| EngineError::Load {
                    engine: name.into(),
                    path: path.to_owned(),
                    message,
                })
        };
        let inputs = infos(session.inputs())?;
        let outputs = infos(session.outputs())?;
        Ok(Box::new(OrtModel {
            engine: name,
            session,
            inputs,
            outputs,
            buffers: Vec::new(),
            profiling,
        }))
    }
}

fn info(name: &str, ty: &ValueType) -> Result<TensorInfo, String> {
    let ValueType::Tensor { ty, shape, .. } = ty else {
        return Err(format!("'{name}' is not a tensor ({ty})"));
    };
    let dtype = from_ort(*ty).ok_or_else(|| format!("'{name}' has unsupported type {ty}"))?;
    Ok(TensorInfo {
        name: name.to_owned(),
        dtype,
        shape: shape.iter().map(|&d| usize::try_from(d).ok()).collect(),
    })
}

fn from_ort(t: TensorElementType) -> Option<DType> {
    Some(match t {
        TensorElementType::Float32 => DType::F32,
        TensorElementType::Float16 => DType::F16,
        TensorElementType::Uint8 => DType::U8,
        TensorElementType::Int8 => DType::I8,
        TensorElementType::Int32 => DType::I32,
        TensorElementType::Int64 => DType::I64,
        _ => return None,
    })
}

fn to_ort(t: DType) -> TensorElementType {
    match t {
        DType::F32 => TensorElementType::Float32,
        DType::F16 => TensorElementType::Float16,
        DType::U8 => TensorElementType::Uint8,
        DType::I8 => TensorElementType::Int8,
        DType::I32 => TensorElementType::Int32,
        DType::I64 => TensorElementType::Int64,
    }
}

struct OrtModel {
    engine: &'static str,
    session: Session,
    inputs: Vec<TensorInfo>,
    outputs: Vec<TensorInfo>,
    /// Input tensors kept between calls and refilled, for the inputs that
    /// cannot be lent to ONNX Runtime as they are (see [`view`]).
    buffers: Vec<Option<DynTensor>>,
    /// Where a profiled session writes, until its profile is read.
    profiling: Option<Profiling>,
}

/// A profiled session's folder and the model it loaded.
struct Profiling {
    dir: tempfile::TempDir,
    source: PathBuf,
}

impl OrtModel {
    fn run_err(&self, message: impl std::fmt::Display) -> EngineError {
        EngineError::Run {
            engine: self.engine.into(),
            message: message.to_string(),
        }
    }

    /// Makes `buffers[i]` a tensor of `t`'s type and shape holding a copy of
    /// `t`, reusing the one there when it fits.
    fn fill(&mut self, i: usize, t: &Tensor) -> Result<(), EngineError> {
        if self.buffers.len() <= i {
            self.buffers.resize_with(i + 1, || None);
        }
        let fits = self.buffers[i].as_ref().is_some_and(|b| {
            matches!(b.dtype(), ValueType::Tensor { ty, shape, .. }
                if *ty == to_ort(t.dtype())
                    && shape.len() == t.shape().len()
                    && shape.iter().zip(t.shape()).all(|(&a, &b)| usize::try_from(a) == Ok(b)))
        });
        let buf = match &mut self.buffers[i] {
            Some(buf) if fits => buf,
            slot => slot.insert(
                DynTensor::new(&Allocator::default(), to_ort(t.dtype()), t.shape().to_vec())
                    .map_err(|e| EngineError::Run {
                        engine: self.engine.into(),
                        message: e.to_string(),
                    })?,
            ),
        };
        let dst = buf.data_ptr_mut().cast::<u8>();
        if !t.data().is_empty() {
            // SAFETY: the buffer is a CPU tensor of exactly t's dtype and shape,
            // and `Tensor` guarantees `data` has shape.product() * size bytes.
            unsafe { std::ptr::copy_nonoverlapping(t.data().as_ptr(), dst, t.data().len()) };
        }
        Ok(())
    }
}

/// `t` lent to ONNX Runtime as a tensor view, without a copy; `None` when
/// it cannot be: its bytes are not aligned for its element type (a `Vec<u8>`
/// from the system allocator always is), it is empty, or it is f16.
fn view(t: &Tensor) -> Option<ort::Result<SessionInputValue<'_>>> {
    fn typed<T: PrimitiveTensorElementType + bytemuck::Pod + std::fmt::Debug>(
        t: &Tensor,
    ) -> Option<ort::Result<SessionInputValue<'_>>> {
        let data: &[T] = bytemuck::try_cast_slice(t.data()).ok()?;
        Some(TensorRef::from_array_view((t.shape(), data)).map(SessionInputValue::from))
    }
    if t.data().is_empty() {
        return None;
    }
    match t.dtype() {
        DType::F32 => typed::<f32>(t),
        DType::U8 => typed::<u8>(t),
        DType::I8 => typed::<i8>(t),
        DType::I32 => typed::<i32>(t),
        DType::I64 => typed::<i64>(t),
        DType::F16 => None,
    }
}

impl Model for OrtModel {
    fn inputs(&self) -> &[TensorInfo] {
        &self.inputs
    }

    fn outputs(&self) -> &[TensorInfo] {
        &self.outputs
    }

    fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, EngineError> {
        check_inputs(&self.inputs, &inputs)?;
        // Inputs are lent where they can be; the others are copied into
        // the tensors kept for them.
        let mut lent = Vec::with_capacity(inputs.len());
        for (i, t) in inputs.iter().enumerate() {
            match view(t) {
                Some(v) => lent.push(Some(v.map_err(|e| self.run_err(e))?)),
                None => {
                    self.fill(i, t)?;
                    lent.push(None);
                }
            }
        }
        let mut values: Vec<SessionInputValue<'_>> = Vec::with_capacity(inputs.len());
        for (i, v) in lent.into_iter().enumerate() {
            match (v, self.buffers.get(i)) {
                (Some(v), _) => values.push(v),
                (None, Some(Some(buf))) => values.push(SessionInputValue::from(buf)),
                (None, _) => return Err(self.run_err(format!("input {i} was not copied"))),
            }
        }
        let engine = self.engine;
        let outputs = self
            .session
            .run(values.as_slice())
            .map_err(|e| EngineError::Run {
                engine: engine.into(),
                message: e.to_string(),
            })?;
        let mut result = Vec::with_capacity(outputs.len());
        for (name, value) in &outputs {
            let run_err = |message: String| EngineError::Run {
                engine: engine.into(),
                message,
            };
            let ValueType::Tensor { ty, shape, .. } = value.dtype().clone() else {
                return Err(run_err(format!("output '{name}' is not a tensor")));
            };
            let dtype =
                from_ort(ty).ok_or_else(|| run_err(format!("output '{name}' has type {ty}")))?;
            let shape: Vec<usize> = shape
                .iter()
                .map(|&d| usize::try_from(d).unwrap_or(0))
                .collect();
            let tensor = value
                .downcast::<DynTensorValueType>()
                .map_err(|e| run_err(e.to_string()))?;
            if !tensor.memory_info().is_cpu_accessible() {
                return Err(run_err(format!("output '{name}' is not in CPU memory")));
            }
            let len = shape.iter().product::<usize>() * dtype.size();
            let data = if len == 0 {
                Vec::new()
            } else {
                // SAFETY: a CPU tensor of `shape` and `dtype` holds `len` bytes.
                unsafe { std::slice::from_raw_parts(tensor.data_ptr().cast::<u8>(), len) }.to_vec()
            };
            result.push(Tensor::new(name.to_owned(), dtype, shape, data)?);
        }
        Ok(result)
    }

    fn layer_profile(&mut self) -> Result<Option<LayerProfile>, EngineError> {
        let Some(p) = self.profiling.take() else {
            return Err(self.run_err(
                "no per-layer profile: the model was not loaded with profile_layers, \
                 or its profile was read already",
            ));
        };
        let trace = self.session.end_profiling().map_err(|e| self.run_err(e))?;
        let layers = profile::read(
            Path::new(&trace),
            &p.source,
            &p.dir.path().join("optimized.onnx"),
        )
        .map_err(|e| self.run_err(e))?;
        Ok(Some(layers))
    }
}
