//! The part of LiteRT 2.x's C API this engine uses, declared by hand (the
//! wheel ships no headers). Sources: `litert/c/litert_common.h`,
//! `litert_environment.h`, `litert_model.h`, `litert_model_types.h`,
//! `litert_options.h`, `litert_opaque_options.h`, `litert_compiled_model.h`,
//! `litert_tensor_buffer.h`, `litert_profiler.h`,
//! `litert_profiler_event.h`. Checked against `ai-edge-litert` 2.3.0: outputs
//! equal the wheel's own Python interpreter bit for bit (see the tests).

use std::ffi::{c_char, c_int, c_void, CString};
use std::path::{Path, PathBuf};

use lpdnn_engine_api::NativeLibrary;

/// `LiteRtStatus`; 0 is OK.
pub type Status = c_int;
/// Opaque handles.
pub type Environment = *mut c_void;
pub type Model = *mut c_void;
pub type Signature = *mut c_void;
pub type TensorHandle = *mut c_void;
pub type Options = *mut c_void;
pub type OpaqueOptions = *mut c_void;
pub type CompiledModel = *mut c_void;
pub type TensorBuffer = *mut c_void;
pub type Requirements = *mut c_void;
pub type Profiler = *mut c_void;

/// `LiteRtMemoryUsage`.
#[repr(C)]
#[derive(Clone, Copy)]
struct MemoryUsage {
    total_allocated: usize,
    in_use: usize,
    private_footprint: usize,
}

/// `ProfiledEventData`: one event of LiteRT's profiler; 104 bytes on
/// 64-bit targets.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ProfiledEvent {
    /// The operator's name (owned by the profiler until it is reset).
    pub tag: *const c_char,
    /// `LiteRtProfilerEventType`.
    pub event_type: c_int,
    start_timestamp_us: u64,
    /// Its time, whole microseconds.
    pub elapsed_us: u64,
    begin_mem_usage: MemoryUsage,
    end_mem_usage: MemoryUsage,
    /// For an XNNPACK operator: its index in the delegate's runtime.
    pub metadata1: u64,
    metadata2: u64,
    event_source: c_int,
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<ProfiledEvent>() == 104);

/// `DELEGATE_PROFILED_OPERATOR_INVOKE_EVENT`: one operator of a delegate
/// (XNNPACK) as the delegate timed it.
pub const EVENT_DELEGATE_OPERATOR: c_int = 8;

/// The profiler's entry points (absent from a LiteRT built without them).
pub struct ProfilerApi {
    pub get: unsafe extern "C" fn(CompiledModel, *mut Profiler) -> Status,
    pub start: unsafe extern "C" fn(Profiler) -> Status,
    pub count: unsafe extern "C" fn(Profiler, *mut c_int) -> Status,
    pub events: unsafe extern "C" fn(Profiler, c_int, *mut ProfiledEvent) -> Status,
}

/// `kLiteRtHwAcceleratorCpu`.
pub const HW_ACCELERATOR_CPU: c_int = 1;
/// `LiteRtTensorBufferLockMode`.
pub const LOCK_READ: c_int = 0;
pub const LOCK_WRITE: c_int = 1;
/// `LiteRtElementType` values (they follow TfLiteType).
pub const ELEMENT_F32: c_int = 1;
pub const ELEMENT_I32: c_int = 2;
pub const ELEMENT_U8: c_int = 3;
pub const ELEMENT_I64: c_int = 4;
pub const ELEMENT_I8: c_int = 9;
pub const ELEMENT_F16: c_int = 10;

/// `LiteRtRankedTensorType`: element type, then `LiteRtLayout`
/// (`rank:7 | has_strides:1` packed in one 32-bit word, 8 dimensions,
/// 8 strides); 72 bytes, as the header's static_asserts state.
#[repr(C)]
pub struct RankedTensorType {
    pub element_type: c_int,
    rank_bits: u32,
    dimensions: [i32; 8],
    strides: [u32; 8],
}

const _: () = assert!(std::mem::size_of::<RankedTensorType>() == 72);

impl RankedTensorType {
    pub fn zeroed() -> Self {
        RankedTensorType {
            element_type: 0,
            rank_bits: 0,
            dimensions: [0; 8],
            strides: [0; 8],
        }
    }

    /// The dimensions; negative ones are dynamic.
    pub fn dims(&self) -> &[i32] {
        let rank = (self.rank_bits & 0x7f) as usize;
        &self.dimensions[..rank.min(8)]
    }
}

/// `LiteRtAny` as used in environment options: a type tag and an 8-byte
/// value.
#[repr(C)]
struct Any {
    kind: c_int,
    value: i64,
}

/// `LiteRtEnvOption`.
#[repr(C)]
struct EnvOption {
    tag: c_int,
    value: Any,
}

/// `kLiteRtEnvOptionTagMinLoggerSeverity`, `kLiteRtAnyTypeInt`, and the
/// error severity: keeps LiteRT's INFO/WARNING lines (accelerator probing)
/// off the user's terminal.
const ENV_TAG_MIN_LOGGER_SEVERITY: c_int = 25;
const ANY_TYPE_INT: c_int = 2;
const SEVERITY_ERROR: i64 = 3;

/// Function pointers into libLiteRt.so.
pub struct Api {
    pub path: PathBuf,
    create_environment: unsafe extern "C" fn(c_int, *const EnvOption, *mut Environment) -> Status,
    pub destroy_environment: unsafe extern "C" fn(Environment),
    pub create_model_from_file:
        unsafe extern "C" fn(Environment, *const c_char, *mut Model) -> Status,
    pub destroy_model: unsafe extern "C" fn(Model),
    pub get_num_model_signatures: unsafe extern "C" fn(Model, *mut usize) -> Status,
    pub get_model_signature: unsafe extern "C" fn(Model, usize, *mut Signature) -> Status,
    pub get_num_signature_inputs: unsafe extern "C" fn(Signature, *mut usize) -> Status,
    pub get_num_signature_outputs: unsafe extern "C" fn(Signature, *mut usize) -> Status,
    pub get_signature_input_name:
        unsafe extern "C" fn(Signature, usize, *mut *const c_char) -> Status,
    pub get_signature_output_name:
        unsafe extern "C" fn(Signature, usize, *mut *const c_char) -> Status,
    pub get_signature_input_tensor_by_index:
        unsafe extern "C" fn(Signature, usize, *mut TensorHandle) -> Status,
    pub get_signature_output_tensor_by_index:
        unsafe extern "C" fn(Signature, usize, *mut TensorHandle) -> Status,
    pub get_ranked_tensor_type: unsafe extern "C" fn(TensorHandle, *mut RankedTensorType) -> Status,
    pub create_options: unsafe extern "C" fn(*mut Options) -> Status,
    pub destroy_options: unsafe extern "C" fn(Options),
    pub set_options_hardware_accelerators: unsafe extern "C" fn(Options, c_int) -> Status,
    create_opaque_options: unsafe extern "C" fn(
        *const c_char,
        *mut c_void,
        Option<unsafe extern "C" fn(*mut c_void)>,
        *mut OpaqueOptions,
    ) -> Status,
    destroy_opaque_options: unsafe extern "C" fn(OpaqueOptions),
    add_opaque_options: unsafe extern "C" fn(Options, OpaqueOptions) -> Status,
    pub create_compiled_model:
        unsafe extern "C" fn(Environment, Model, Options, *mut CompiledModel) -> Status,
    pub destroy_compiled_model: unsafe extern "C" fn(CompiledModel),
    pub get_compiled_model_input_buffer_requirements:
        unsafe extern "C" fn(CompiledModel, usize, usize, *mut Requirements) -> Status,
    pub get_compiled_model_output_buffer_requirements:
        unsafe extern "C" fn(CompiledModel, usize, usize, *mut Requirements) -> Status,
    pub create_managed_tensor_buffer_from_requirements: unsafe extern "C" fn(
        Environment,
        *const RankedTensorType,
        Requirements,
        *mut TensorBuffer,
    ) -> Status,
    pub get_tensor_buffer_size: unsafe extern "C" fn(TensorBuffer, *mut usize) -> Status,
    pub lock_tensor_buffer: unsafe extern "C" fn(TensorBuffer, *mut *mut c_void, c_int) -> Status,
    pub unlock_tensor_buffer: unsafe extern "C" fn(TensorBuffer) -> Status,
    pub destroy_tensor_buffer: unsafe extern "C" fn(TensorBuffer),
    pub run_compiled_model: unsafe extern "C" fn(
        CompiledModel,
        usize,
        usize,
        *mut TensorBuffer,
        usize,
        *mut TensorBuffer,
    ) -> Status,
    /// `None` when this LiteRT has no profiler.
    pub profiler: Option<ProfilerApi>,
}

impl Api {
    /// Opens the library and resolves every symbol; a missing one is an
    /// error naming it (a LiteRT too old or too new for these declarations).
    pub fn load(path: &Path) -> Result<Api, String> {
        let lib = NativeLibrary::open(path)?;
        // SAFETY: each type is the C signature documented in the headers
        // named at the top of this file.
        unsafe {
            Ok(Api {
                path: path.to_owned(),
                create_environment: lib.get("LiteRtCreateEnvironment")?,
                destroy_environment: lib.get("LiteRtDestroyEnvironment")?,
                create_model_from_file: lib.get("LiteRtCreateModelFromFile")?,
                destroy_model: lib.get("LiteRtDestroyModel")?,
                get_num_model_signatures: lib.get("LiteRtGetNumModelSignatures")?,
                get_model_signature: lib.get("LiteRtGetModelSignature")?,
                get_num_signature_inputs: lib.get("LiteRtGetNumSignatureInputs")?,
                get_num_signature_outputs: lib.get("LiteRtGetNumSignatureOutputs")?,
                get_signature_input_name: lib.get("LiteRtGetSignatureInputName")?,
                get_signature_output_name: lib.get("LiteRtGetSignatureOutputName")?,
                get_signature_input_tensor_by_index: lib
                    .get("LiteRtGetSignatureInputTensorByIndex")?,
                get_signature_output_tensor_by_index: lib
                    .get("LiteRtGetSignatureOutputTensorByIndex")?,
                get_ranked_tensor_type: lib.get("LiteRtGetRankedTensorType")?,
                create_options: lib.get("LiteRtCreateOptions")?,
                destroy_options: lib.get("LiteRtDestroyOptions")?,
                set_options_hardware_accelerators: lib
                    .get("LiteRtSetOptionsHardwareAccelerators")?,
                create_opaque_options: lib.get("LiteRtCreateOpaqueOptions")?,
                destroy_opaque_options: lib.get("LiteRtDestroyOpaqueOptions")?,
                add_opaque_options: lib.get("LiteRtAddOpaqueOptions")?,
                create_compiled_model: lib.get("LiteRtCreateCompiledModel")?,
                destroy_compiled_model: lib.get("LiteRtDestroyCompiledModel")?,
                get_compiled_model_input_buffer_requirements: lib
                    .get("LiteRtGetCompiledModelInputBufferRequirements")?,
                get_compiled_model_output_buffer_requirements: lib
                    .get("LiteRtGetCompiledModelOutputBufferRequirements")?,
                create_managed_tensor_buffer_from_requirements: lib
                    .get("LiteRtCreateManagedTensorBufferFromRequirements")?,
                get_tensor_buffer_size: lib.get("LiteRtGetTensorBufferSize")?,
                lock_tensor_buffer: lib.get("LiteRtLockTensorBuffer")?,
                unlock_tensor_buffer: lib.get("LiteRtUnlockTensorBuffer")?,
                destroy_tensor_buffer: lib.get("LiteRtDestroyTensorBuffer")?,
                run_compiled_model: lib.get("LiteRtRunCompiledModel")?,
                profiler: (|| {
                    Ok::<_, String>(ProfilerApi {
                        get: lib.get("LiteRtCompiledModelGetProfiler")?,
                        start: lib.get("LiteRtStartProfiler")?,
                        count: lib.get("LiteRtGetNumProfilerEvents")?,
                        events: lib.get("LiteRtGetProfilerEvents")?,
                    })
                })()
                .ok(),
            })
        }
    }

    /// Creates an environment with LiteRT's own log lines limited to errors;
    /// falls back to default options if this LiteRT refuses that option.
    ///
    /// # Safety
    /// Plain FFI; the returned handle must be destroyed once.
    pub unsafe fn create_environment(&self) -> Result<Environment, String> {
        let quiet = EnvOption {
            tag: ENV_TAG_MIN_LOGGER_SEVERITY,
            value: Any {
                kind: ANY_TYPE_INT,
                value: SEVERITY_ERROR,
            },
        };
        let mut env = std::ptr::null_mut();
        // SAFETY: `quiet` outlives the call; `env` is a valid out-pointer.
        unsafe {
            if (self.create_environment)(1, &quiet, &mut env) == 0 {
                return Ok(env);
            }
            let status = (self.create_environment)(0, std::ptr::null(), &mut env);
            if status == 0 {
                Ok(env)
            } else {
                Err(format!("creating the environment: {}", status_name(status)))
            }
        }
    }

    /// Sets XNNPACK's thread count: CPU options travel as opaque options with
    /// the identifier `xnnpack` and a TOML payload (`num_threads = N`).
    ///
    /// # Safety
    /// `options` is a live options handle.
    pub unsafe fn set_cpu_threads(&self, options: Options, threads: usize) -> Result<(), String> {
        let payload = format!("num_threads = {threads}");
        // SAFETY: as this function's.
        unsafe { self.add_toml_options(options, c"xnnpack", &payload) }
            .map_err(|e| format!("CPU options: {e}"))
    }

    /// Turns LiteRT's profiler on for the model compiled with `options`:
    /// runtime options (identifier `runtime_options_string`, as
    /// `LrtSetRuntimeOptionsEnableProfiling` writes them).
    ///
    /// # Safety
    /// `options` is a live options handle.
    pub unsafe fn enable_profiling(&self, options: Options) -> Result<(), String> {
        // SAFETY: as this function's.
        unsafe {
            self.add_toml_options(
                options,
                c"runtime_options_string",
                "enable_profiling = true\n",
            )
        }
        .map_err(|e| format!("profiling options: {e}"))
    }

    /// Adds opaque options `identifier` with a TOML `payload`.
    ///
    /// # Safety
    /// `options` is a live options handle.
    unsafe fn add_toml_options(
        &self,
        options: Options,
        identifier: &std::ffi::CStr,
        payload: &str,
    ) -> Result<(), String> {
        unsafe extern "C" fn free_payload(p: *mut c_void) {
            // SAFETY: `p` came from `CString::into_raw` below, freed once.
            drop(unsafe { CString::from_raw(p.cast()) });
        }
        let payload = CString::new(payload).map_err(|_| "a NUL in the options".to_owned())?;
        let payload = payload.into_raw().cast::<c_void>();
        let mut opaque = std::ptr::null_mut();
        // SAFETY: the identifier is a static C string; ownership of `payload`
        // passes to the opaque options, which free it with `free_payload`.
        unsafe {
            let status = (self.create_opaque_options)(
                identifier.as_ptr(),
                payload,
                Some(free_payload),
                &mut opaque,
            );
            if status != 0 {
                free_payload(payload);
                return Err(status_name(status));
            }
            let status = (self.add_opaque_options)(options, opaque);
            if status != 0 {
                (self.destroy_opaque_options)(opaque);
                return Err(status_name(status));
            }
        }
        Ok(())
    }
}

/// The name of a `LiteRtStatus` code.
pub fn status_name(status: Status) -> String {
    let name = match status {
        1 => "invalid argument",
        2 => "memory allocation failure",
        3 => "runtime failure",
        4 => "missing input tensor",
        5 => "unsupported",
        6 => "not found",
        7 => "timeout expired",
        8 => "wrong version",
        9 => "unknown error",
        500 => "file I/O error",
        501 => "invalid flatbuffer",
        502 => "dynamic loading error",
        503 => "serialization error",
        504 => "compilation error",
        1000 => "index out of bounds",
        _ => return format!("LiteRT status {status}"),
    };
    format!("{name} (LiteRT status {status})")
}
