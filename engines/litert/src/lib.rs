//! LiteRT (TensorFlow Lite) behind the lpdnn engine API.
//!
//! `libLiteRt.so` from the `ai-edge-litert` wheel is loaded at run time and
//! driven through its C API (the CompiledModel flow: environment → model →
//! options → compiled model → managed tensor buffers → run). The wheel ships
//! no headers, so the few declarations used are written here by hand, from
//! LiteRT 2.x's `litert/c/*.h`; [`ffi`] says which.
//!
//! CPU only (XNNPACK); `threads` becomes XNNPACK's thread count.

#![warn(missing_docs)]

mod ffi;

use std::ffi::{c_int, c_void, CStr, CString};
use std::path::Path;
use std::ptr;
use std::sync::OnceLock;

use lpdnn_engine_api::{
    check_format, check_inputs, locate_library, DType, Device, Engine, EngineError, EngineInfo,
    EngineName, LayerProfile, LayerTimes, LoadOptions, Model, ModelFormat, Tensor, TensorInfo,
    MAX_PROFILED_RUNS,
};

use ffi::{Api, RankedTensorType, Status};

const NAME: &str = EngineName::LiteRt.as_str();
const LIB_VARS: &[&str] = &["LPDNN_LITERT_LIB"];
/// The library in a deployment package (`lpdnn-host package`).
const LIB_PACKAGED: &str = EngineName::LiteRt.library_files()[0];
const LIB_DEFAULT: &str = "lib/litert/libLiteRt.so";
const INSTALL: &str = "run scripts/setup.sh, which installs it from the ai-edge-litert wheel \
                       (pip install ai-edge-litert; the library is ai_edge_litert/libLiteRt.so)";

/// The LiteRT engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct LiteRt;

fn api() -> Result<&'static Api, String> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    API.get_or_init(|| {
        let path = locate_library(LIB_VARS, LIB_PACKAGED, LIB_DEFAULT, INSTALL)?;
        Api::load(&path)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The version the set-up wrote beside the library (the C API has no call
/// for it).
fn version(lib: &Path) -> Option<String> {
    let file = lib.parent()?.join("version.txt");
    Some(std::fs::read_to_string(file).ok()?.trim().to_owned())
}

impl Engine for LiteRt {
    fn name(&self) -> &'static str {
        NAME
    }

    fn formats(&self) -> &'static [ModelFormat] {
        &[ModelFormat::TfLite]
    }

    fn info(&self) -> EngineInfo {
        let mut info = EngineInfo::new(NAME, self.formats(), &[]);
        match api() {
            Ok(api) => {
                info.available = true;
                info.version = version(&api.path).map(|v| format!("LiteRT {v}"));
                info.library = Some(api.path.clone());
                info.devices = vec![Device::Cpu];
                info.reason = Some(
                    "gpu/npu: the ai-edge-litert wheel ships no GPU or NPU accelerator for Linux x86_64"
                        .into(),
                );
            }
            Err(reason) => info.reason = Some(reason),
        }
        info
    }

    fn load(&self, path: &Path, options: &LoadOptions) -> Result<Box<dyn Model>, EngineError> {
        options.check_known(NAME, &[])?;
        let api = api().map_err(|reason| EngineError::Unavailable {
            engine: NAME.into(),
            reason,
        })?;
        options.cpu_only(NAME, "this LiteRT (XNNPACK)")?;
        check_format(self, path)?;
        // LiteRT logs "INFO: Created TensorFlow Lite XNNPACK delegate" to
        // fd 2 on every load: keep its INFO lines off the user's terminal.
        lpdnn_engine_api::load_quietly(
            "LiteRT",
            |line| !line.starts_with("INFO: "),
            || LiteRtModel::load(api, path, options.threads, options.profile_layers),
        )
        .map_err(|message| EngineError::Load {
            engine: NAME.into(),
            path: path.to_owned(),
            message,
        })
    }
}

/// One input or output: its metadata and its managed host buffer.
struct Slot {
    info: TensorInfo,
    buffer: ffi::TensorBuffer,
    bytes: usize,
}

struct LiteRtModel {
    api: &'static Api,
    env: ffi::Environment,
    model: ffi::Model,
    compiled: ffi::CompiledModel,
    inputs: Vec<Slot>,
    outputs: Vec<Slot>,
    infos_in: Vec<TensorInfo>,
    infos_out: Vec<TensorInfo>,
    /// LiteRT's profiler and what it timed, when loaded with `profile_layers`.
    profile: Option<Profile>,
}

/// XNNPACK's operators as LiteRT's profiler timed them, run by run.
struct Profile {
    profiler: ffi::Profiler,
    layers: Vec<LayerTimes>,
    runs: usize,
}

// SAFETY: the handles are owned by this value alone and LiteRT objects may
// be used from any one thread at a time; `Model` needs `&mut self` to run.
unsafe impl Send for LiteRtModel {}

impl LiteRtModel {
    fn load(
        api: &'static Api,
        path: &Path,
        threads: Option<usize>,
        profile: bool,
    ) -> Result<Box<dyn Model>, String> {
        let cpath = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| "the path contains a NUL byte".to_owned())?;
        let mut this = LiteRtModel {
            api,
            env: ptr::null_mut(),
            model: ptr::null_mut(),
            compiled: ptr::null_mut(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            infos_in: Vec::new(),
            infos_out: Vec::new(),
            profile: None,
        };
        // From here on, `Drop` releases whatever was created.
        // SAFETY: every call below follows LiteRT's C API contract; handles
        // are checked by `ok` before use, and out-pointers are valid locals.
        unsafe {
            this.env = api.create_environment()?;
            ok(
                (api.create_model_from_file)(this.env, cpath.as_ptr(), &mut this.model),
                "reading the model",
            )?;
            let mut n: usize = 0;
            ok(
                (api.get_num_model_signatures)(this.model, &mut n),
                "counting signatures",
            )?;
            if n == 0 {
                return Err("the model has no signature".into());
            }
            let mut sig = ptr::null_mut();
            ok(
                (api.get_model_signature)(this.model, 0, &mut sig),
                "reading signature 0",
            )?;

            let mut opts = ptr::null_mut();
            ok((api.create_options)(&mut opts), "creating options")?;
            let options = OptionsGuard(api, opts);
            ok(
                (api.set_options_hardware_accelerators)(opts, ffi::HW_ACCELERATOR_CPU),
                "selecting the CPU",
            )?;
            if let Some(n) = threads {
                api.set_cpu_threads(opts, n)?;
            }
            let profiler = api.profiler.as_ref().filter(|_| profile);
            if profiler.is_some() {
                api.enable_profiling(opts)?;
            }
            ok(
                (api.create_compiled_model)(this.env, this.model, opts, &mut this.compiled),
                "compiling the model",
            )?;
            drop(options);
            if let Some(p) = profiler {
                // The compiled model owns its profiler.
                let mut handle = ptr::null_mut();
                ok((p.get)(this.compiled, &mut handle), "getting the profiler")?;
                if !handle.is_null() {
                    ok((p.start)(handle), "starting the profiler")?;
                    this.profile = Some(Profile {
                        profiler: handle,
                        layers: Vec::new(),
                        runs: 0,
                    });
                }
            }

            let mut count = 0usize;
            ok((api.get_num_signature_inputs)(sig, &mut count), "inputs")?;
            for i in 0..count {
                let slot = this.slot(sig, i, true)?;
                this.inputs.push(slot);
            }
            ok((api.get_num_signature_outputs)(sig, &mut count), "outputs")?;
            for i in 0..count {
                let slot = this.slot(sig, i, false)?;
                this.outputs.push(slot);
            }
        }
        this.infos_in = this.inputs.iter().map(|s| s.info.clone()).collect();
        this.infos_out = this.outputs.iter().map(|s| s.info.clone()).collect();
        Ok(Box::new(this))
    }

    /// Reads tensor `i` of the signature and makes its host buffer.
    ///
    /// # Safety
    /// `sig` is a live signature of `self.model`; `self.compiled` is live.
    unsafe fn slot(&self, sig: ffi::Signature, i: usize, input: bool) -> Result<Slot, String> {
        let api = self.api;
        let kind = if input { "input" } else { "output" };
        // SAFETY: per the function's contract; out-pointers are locals.
        unsafe {
            let mut name: *const std::ffi::c_char = ptr::null();
            let mut tensor = ptr::null_mut();
            let mut requirements = ptr::null_mut();
            if input {
                ok((api.get_signature_input_name)(sig, i, &mut name), kind)?;
                ok(
                    (api.get_signature_input_tensor_by_index)(sig, i, &mut tensor),
                    kind,
                )?;
                ok(
                    (api.get_compiled_model_input_buffer_requirements)(
                        self.compiled,
                        0,
                        i,
                        &mut requirements,
                    ),
                    kind,
                )?;
            } else {
                ok((api.get_signature_output_name)(sig, i, &mut name), kind)?;
                ok(
                    (api.get_signature_output_tensor_by_index)(sig, i, &mut tensor),
                    kind,
                )?;
                ok(
                    (api.get_compiled_model_output_buffer_requirements)(
                        self.compiled,
                        0,
                        i,
                        &mut requirements,
                    ),
                    kind,
                )?;
            }
            let name = if name.is_null() {
                format!("{kind}{i}")
            } else {
                CStr::from_ptr(name).to_string_lossy().into_owned()
            };
            let mut ty = RankedTensorType::zeroed();
            ok(
                (api.get_ranked_tensor_type)(tensor, &mut ty),
                &format!("{kind} '{name}' type"),
            )?;
            let dtype = ty.dtype().ok_or_else(|| {
                format!(
                    "{kind} '{name}' has unsupported element type {}",
                    ty.element_type
                )
            })?;
            let shape: Vec<Option<usize>> =
                ty.dims().iter().map(|&d| usize::try_from(d).ok()).collect();
            let mut buffer = ptr::null_mut();
            ok(
                (api.create_managed_tensor_buffer_from_requirements)(
                    self.env,
                    &ty,
                    requirements,
                    &mut buffer,
                ),
                &format!("{kind} '{name}' buffer"),
            )?;
            let mut bytes = 0usize;
            if let Err(e) = ok(
                (api.get_tensor_buffer_size)(buffer, &mut bytes),
                "buffer size",
            ) {
                (api.destroy_tensor_buffer)(buffer);
                return Err(e);
            }
            Ok(Slot {
                info: TensorInfo { name, dtype, shape },
                buffer,
                bytes,
            })
        }
    }
}

struct OptionsGuard(&'static Api, ffi::Options);

impl Drop for OptionsGuard {
    fn drop(&mut self) {
        // SAFETY: the options were created by LiteRtCreateOptions and the
        // compiled model (if any) copied what it needs.
        unsafe { (self.0.destroy_options)(self.1) }
    }
}

fn ok(status: Status, what: &str) -> Result<(), String> {
    if status == 0 {
        Ok(())
    } else {
        Err(format!("{what}: {}", ffi::status_name(status)))
    }
}

impl Drop for LiteRtModel {
    fn drop(&mut self) {
        let api = self.api;
        // SAFETY: each handle was created by LiteRT, is released once, and
        // buffers go before the compiled model, which goes before its model
        // and environment.
        unsafe {
            for s in self.inputs.drain(..).chain(self.outputs.drain(..)) {
                (api.destroy_tensor_buffer)(s.buffer);
            }
            if !self.compiled.is_null() {
                (api.destroy_compiled_model)(self.compiled);
            }
            if !self.model.is_null() {
                (api.destroy_model)(self.model);
            }
            if !self.env.is_null() {
                (api.destroy_environment)(self.env);
            }
        }
    }
}

impl Model for LiteRtModel {
    fn inputs(&self) -> &[TensorInfo] {
        &self.infos_in
    }

    fn outputs(&self) -> &[TensorInfo] {
        &self.infos_out
    }

    fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, EngineError> {
        let run_err = |message: String| EngineError::Run {
            engine: NAME.into(),
            message,
        };
        check_inputs(&self.infos_in, &inputs)?;
        let api = self.api;
        for (t, slot) in inputs.iter().zip(&self.inputs) {
            // Open dimensions pass the check above; the compiled buffer's
            // size is fixed.
            if t.data().len() != slot.bytes {
                return Err(EngineError::InputMismatch(format!(
                    "model input '{}' holds {} bytes, got {} {:?}",
                    slot.info.name,
                    slot.bytes,
                    t.dtype(),
                    t.shape()
                )));
            }
            // SAFETY: the buffer is a host buffer of `slot.bytes` bytes,
            // locked for writing while we copy exactly that many.
            unsafe {
                let mut dst: *mut c_void = ptr::null_mut();
                ok(
                    (api.lock_tensor_buffer)(slot.buffer, &mut dst, ffi::LOCK_WRITE),
                    "locking an input",
                )
                .map_err(run_err)?;
                ptr::copy_nonoverlapping(t.data().as_ptr(), dst.cast::<u8>(), slot.bytes);
                ok(
                    (api.unlock_tensor_buffer)(slot.buffer),
                    "unlocking an input",
                )
                .map_err(run_err)?;
            }
        }
        let mut ins: Vec<ffi::TensorBuffer> = self.inputs.iter().map(|s| s.buffer).collect();
        let mut outs: Vec<ffi::TensorBuffer> = self.outputs.iter().map(|s| s.buffer).collect();
        // SAFETY: the arrays hold live buffers made from the compiled model's
        // own requirements, in signature order.
        let status = unsafe {
            (api.run_compiled_model)(
                self.compiled,
                0,
                ins.len(),
                ins.as_mut_ptr(),
                outs.len(),
                outs.as_mut_ptr(),
            )
        };
        ok(status, "running the model").map_err(run_err)?;
        if let Some(profile) = self.profile.as_mut().filter(|p| p.runs < MAX_PROFILED_RUNS) {
            profile.record(api).map_err(run_err)?;
        }
        let mut result = Vec::with_capacity(self.outputs.len());
        for slot in &self.outputs {
            let mut data = vec![0u8; slot.bytes];
            // SAFETY: a host buffer of `slot.bytes` bytes, locked for reading.
            unsafe {
                let mut src: *mut c_void = ptr::null_mut();
                ok(
                    (api.lock_tensor_buffer)(slot.buffer, &mut src, ffi::LOCK_READ),
                    "locking an output",
                )
                .map_err(run_err)?;
                ptr::copy_nonoverlapping(src.cast::<u8>(), data.as_mut_ptr(), slot.bytes);
                ok(
                    (api.unlock_tensor_buffer)(slot.buffer),
                    "unlocking an output",
                )
                .map_err(run_err)?;
            }
            let shape: Vec<usize> = slot.info.shape.iter().map(|d| d.unwrap_or(0)).collect();
            result.push(Tensor::new(
                slot.info.name.clone(),
                slot.info.dtype,
                shape,
                data,
            )?);
        }
        Ok(result)
    }

    fn layer_profile(&mut self) -> Result<Option<LayerProfile>, EngineError> {
        Ok(self.profile.as_ref().map(|p| LayerProfile {
            runs: p.runs,
            layers: p.layers.clone(),
        }))
    }
}

impl Profile {
    /// Reads the last run's operator events and clears them for the next.
    fn record(&mut self, api: &Api) -> Result<(), String> {
        let Some(p) = &api.profiler else {
            return Ok(());
        };
        let mut n: c_int = 0;
        // SAFETY: a live profiler; the array has room for `n` events, whose
        // tags are read before the profiler is restarted (which frees them).
        let events = unsafe {
            ok((p.count)(self.profiler, &mut n), "counting profiler events")?;
            let mut events = vec![std::mem::zeroed::<ffi::ProfiledEvent>(); n.max(0) as usize];
            ok(
                (p.events)(self.profiler, n, events.as_mut_ptr()),
                "reading profiler events",
            )?;
            let timed: Vec<(String, u64)> = events
                .iter()
                .filter(|e| e.event_type == ffi::EVENT_DELEGATE_OPERATOR && !e.tag.is_null())
                .map(|e| {
                    let tag = CStr::from_ptr(e.tag).to_string_lossy().into_owned();
                    (tag, e.elapsed_us)
                })
                .collect();
            ok((p.start)(self.profiler), "restarting the profiler")?;
            timed
        };
        // XNNPACK names its own operators, not the model's: a layer is the
        // operator at its place in the run.
        for (i, (tag, us)) in events.into_iter().enumerate() {
            if i == self.layers.len() {
                self.layers.push(LayerTimes {
                    name: format!("#{i} {tag}"),
                    op: tag,
                    node: None,
                    fused: Vec::new(),
                    nanos: vec![0; self.runs],
                });
            }
            self.layers[i].nanos.push(us * 1000);
        }
        self.runs += 1;
        for layer in &mut self.layers {
            layer.nanos.resize(self.runs, 0);
        }
        Ok(())
    }
}

impl RankedTensorType {
    fn dtype(&self) -> Option<DType> {
        Some(match self.element_type {
            ffi::ELEMENT_F32 => DType::F32,
            ffi::ELEMENT_F16 => DType::F16,
            ffi::ELEMENT_U8 => DType::U8,
            ffi::ELEMENT_I8 => DType::I8,
            ffi::ELEMENT_I32 => DType::I32,
            ffi::ELEMENT_I64 => DType::I64,
            _ => return None,
        })
    }
}
