//! NCNN behind the lpdnn engine API.
//!
//! `libncnn.so` is built by the set-up from the PyPI source archive (CPU,
//! C API on) and loaded at run time, so a build never needs it. A model is
//! a `.param` file with its weights in the `.bin` beside it (same stem).
//! NCNN's blobs have graph-local names (`in0`, `out0`, ...) and no batch
//! axis; `lpdnn-host convert --to ncnn` writes a [`Meta`] file beside the
//! param (`<stem>.json`) that maps them to the source model's tensor names
//! and shapes, so that an app binds the same names on every engine.
//!
//! Per-layer times ([`LoadOptions::profile_layers`]) need no profiling
//! build of libncnn: each run of a profiled model extracts every layer's
//! first output blob in file order (ncnn computes a blob's producer when it
//! is extracted, and the layers before it were computed by the extracts
//! before), so each extract times one layer; a second extract of the same
//! blob, which only converts it to the caller's layout again, is taken off.
//!
//! Options (`engine.options` in app.json): `light_mode`, `fp16_storage`,
//! `fp16_arithmetic`, `fp16_packed`, `packing_layout`, `winograd`, `sgemm`.
//! NCNN turns the fp16 switches on by default on CPUs that have F16C; that
//! trades ~1e-3 of accuracy for speed, so they are a user's choice here.

#![warn(missing_docs)]

mod ffi;

use std::ffi::{c_int, CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::OnceLock;
use std::time::Instant;

use lpdnn_engine_api::{
    check_format, locate_library, DType, Device, Engine, EngineError, EngineInfo, EngineName,
    LayerProfile, LayerTimes, LoadOptions, Model, ModelFormat, Tensor, TensorInfo,
    MAX_PROFILED_RUNS,
};
use serde::{Deserialize, Serialize};

use ffi::Api;

const NAME: &str = EngineName::Ncnn.as_str();
const LIB_VARS: &[&str] = &["LPDNN_NCNN_LIB"];
/// The library in a deployment package (`lpdnn-host package`).
const LIB_PACKAGED: &str = EngineName::Ncnn.library_files()[0];
const LIB_DEFAULT: &str = "ncnn/lib/libncnn.so";
const INSTALL: &str = "run scripts/setup.sh, which builds it from the ncnn source archive on PyPI \
                       (scripts/build-ncnn.sh, about 8 minutes on 2 cores)";
const OPTIONS: &[&str] = &[
    "light_mode",
    "fp16_storage",
    "fp16_arithmetic",
    "fp16_packed",
    "packing_layout",
    "winograd",
    "sgemm",
];

/// One blob of an NCNN model and the source model's tensor it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobMeta {
    /// Blob name in the `.param` (`in0`, `out0`, ...).
    pub blob: String,
    /// Tensor name in the source model.
    pub name: String,
    /// Full shape, batch axis included (NCNN drops a leading 1).
    #[serde(default)]
    pub shape: Option<Vec<usize>>,
}

/// The side file `<stem>.json` written by `lpdnn-host convert --to ncnn`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// The model it was converted from (file name).
    pub source: String,
    /// The converter and its version.
    pub converter: String,
    /// Inputs, in model order.
    pub inputs: Vec<BlobMeta>,
    /// Outputs, in model order.
    pub outputs: Vec<BlobMeta>,
}

impl Meta {
    /// Where the side file of `param` lives: `x.ncnn.param` → `x.ncnn.json`.
    pub fn path_for(param: &Path) -> PathBuf {
        param.with_extension("json")
    }
}

/// The file beside `library` that names the ncnn release it was built from
/// (`libncnn.so.version`, written by `scripts/build-ncnn.sh` and carried
/// into packages). ncnn's own `ncnn_version()` gives the date the library
/// was built (`1.0.YYYYMMDD`, stamped by its CMakeLists) unless cmake was
/// told the release, so the file is the version shown and recorded.
pub fn version_file(library: &Path) -> PathBuf {
    let mut name = library.as_os_str().to_owned();
    name.push(".version");
    PathBuf::from(name)
}

/// The release named by [`version_file`]: digits and dots, else `None`.
fn recorded_version(library: &Path) -> Option<String> {
    let text = std::fs::read_to_string(version_file(library)).ok()?;
    let v = text.trim();
    let valid = !v.is_empty()
        && v.len() <= 32
        && v.starts_with(|c: char| c.is_ascii_digit())
        && v.chars().all(|c| c.is_ascii_digit() || c == '.');
    valid.then(|| v.to_owned())
}

/// The NCNN engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ncnn;

fn api() -> Result<&'static Api, String> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    API.get_or_init(|| {
        let path = locate_library(LIB_VARS, LIB_PACKAGED, LIB_DEFAULT, INSTALL)?;
        Api::load(&path)
    })
    .as_ref()
    .map_err(Clone::clone)
}

impl Engine for Ncnn {
    fn name(&self) -> &'static str {
        NAME
    }

    fn formats(&self) -> &'static [ModelFormat] {
        &[ModelFormat::NcnnParam]
    }

    fn info(&self) -> EngineInfo {
        let mut info = EngineInfo::new(NAME, self.formats(), OPTIONS);
        match api() {
            Ok(api) => {
                let v = recorded_version(&api.path).unwrap_or_else(|| {
                    // SAFETY: ncnn_version returns a static C string.
                    let v = unsafe { CStr::from_ptr((api.version)()) };
                    v.to_string_lossy().into_owned()
                });
                info.available = true;
                info.version = Some(format!("ncnn {v}"));
                info.library = Some(api.path.clone());
                info.devices = vec![Device::Cpu];
                info.reason =
                    Some("gpu: this libncnn is built without Vulkan (NCNN_VULKAN=OFF)".into());
            }
            Err(reason) => info.reason = Some(reason),
        }
        info
    }

    fn load(&self, path: &Path, options: &LoadOptions) -> Result<Box<dyn Model>, EngineError> {
        options.check_known(NAME, OPTIONS)?;
        let api = api().map_err(|reason| EngineError::Unavailable {
            engine: NAME.into(),
            reason,
        })?;
        options.cpu_only(NAME, "this libncnn (built with NCNN_VULKAN=OFF)")?;
        check_format(self, path)?;
        let load_err = |message: String| EngineError::Load {
            engine: NAME.into(),
            path: path.to_owned(),
            message,
        };
        let bin = lpdnn_engine_api::ncnn_bin_path(path);
        if !bin.is_file() {
            return Err(load_err(format!(
                "its weights {} are missing (an NCNN model is a .param and a .bin)",
                bin.display()
            )));
        }
        let meta_path = Meta::path_for(path);
        let meta: Option<Meta> = if meta_path.is_file() {
            let text = std::fs::read_to_string(&meta_path)
                .map_err(|e| load_err(format!("{}: {e}", meta_path.display())))?;
            Some(
                serde_json::from_str(&text)
                    .map_err(|e| load_err(format!("{}: {e}", meta_path.display())))?,
            )
        } else {
            None
        };
        let flags = Flags {
            light_mode: options.flag(NAME, "light_mode", true)?,
            fp16_storage: options.flag(NAME, "fp16_storage", false)?,
            fp16_arithmetic: options.flag(NAME, "fp16_arithmetic", false)?,
            fp16_packed: options.flag(NAME, "fp16_packed", false)?,
            packing_layout: options.flag(NAME, "packing_layout", true)?,
            winograd: options.flag(NAME, "winograd", true)?,
            sgemm: options.flag(NAME, "sgemm", true)?,
        };
        let threads = options.threads.unwrap_or(1);
        let profile = if options.profile_layers {
            Some(Profile::of(path).map_err(load_err)?)
        } else {
            None
        };
        // ncnn says which layer it could not read on fd 2 only.
        lpdnn_engine_api::load_quietly(
            "ncnn",
            |_| true,
            || NcnnModel::load(api, path, &bin, meta, threads, &flags, profile),
        )
        .map_err(load_err)
    }
}

struct Flags {
    light_mode: bool,
    fp16_storage: bool,
    fp16_arithmetic: bool,
    fp16_packed: bool,
    packing_layout: bool,
    winograd: bool,
    sgemm: bool,
}

struct Blob {
    blob: CString,
    info: TensorInfo,
}

/// The layers of a model loaded with [`LoadOptions::profile_layers`] and
/// their times in each run.
struct Profile {
    runs: usize,
    layers: Vec<TimedLayer>,
}

/// A layer, timed by extracting its first output blob.
struct TimedLayer {
    times: LayerTimes,
    top: CString,
}

impl Profile {
    /// Every layer of the `.param` at `path` but its inputs, in file order.
    fn of(path: &Path) -> Result<Profile, String> {
        let text = lpdnn_engine_api::read_file(path)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                String::from_utf8(b).map_err(|_| "an NCNN .param is text; this is not UTF-8".into())
            })?;
        let layers = lpdnn_engine_api::ncnn_layers(&text)?
            .into_iter()
            .filter(|l| l.kind != "Input")
            .filter_map(|l| {
                let top = CString::new(*l.tops.first()?).ok()?;
                Some(TimedLayer {
                    times: LayerTimes {
                        name: l.name.to_owned(),
                        op: l.kind.to_owned(),
                        // The .param is the model: its layer names are the
                        // ones `lpdnn-inspect` gives (pnnx keeps no ONNX names).
                        node: Some(l.name.to_owned()),
                        fused: Vec::new(),
                        nanos: Vec::new(),
                    },
                    top,
                })
            })
            .collect();
        Ok(Profile { runs: 0, layers })
    }

    /// Times each layer once on `ex`, whose inputs are set and nothing
    /// computed yet.
    fn run(&mut self, api: &'static Api, ex: &Extractor) -> Result<(), String> {
        if self.runs >= MAX_PROFILED_RUNS {
            return Ok(());
        }
        self.runs += 1;
        for layer in &mut self.layers {
            let first = extract_timed(api, ex, &layer.top)?;
            let again = extract_timed(api, ex, &layer.top)?;
            layer.times.nanos.push(first.saturating_sub(again));
        }
        Ok(())
    }
}

/// Extracts `blob` (computing what it needs that is not computed yet) and
/// destroys the mat at once: a layer that later finds its input still
/// shared would copy it before working in place. Returns the nanoseconds.
fn extract_timed(api: &'static Api, ex: &Extractor, blob: &CStr) -> Result<u64, String> {
    let mut out: ffi::Mat = ptr::null_mut();
    let start = Instant::now();
    // SAFETY: the extractor is live and its inputs set; ncnn's C API
    // allocates the returned mat even when the extract fails.
    let rc = unsafe { (api.extractor_extract)(ex.1, blob.as_ptr(), &mut out) };
    let nanos = start.elapsed().as_nanos() as u64;
    if !out.is_null() {
        drop(MatGuard(api, out));
    }
    if rc != 0 {
        return Err(format!(
            "ncnn cannot compute blob '{}'",
            blob.to_string_lossy()
        ));
    }
    Ok(nanos)
}

struct NcnnModel {
    api: &'static Api,
    net: ffi::Net,
    inputs: Vec<Blob>,
    outputs: Vec<Blob>,
    infos_in: Vec<TensorInfo>,
    infos_out: Vec<TensorInfo>,
    /// Input mats kept between calls and refilled, with the shape each was
    /// made for. NCNN clones a shared blob before working on it in place
    /// (net.cpp: `support_inplace && refcount != 1`), so reuse is safe.
    mats: Vec<Option<(Vec<usize>, MatGuard)>>,
    /// Per-layer times, when loaded with [`LoadOptions::profile_layers`].
    profile: Option<Profile>,
}

// SAFETY: the net is owned by this value alone; ncnn nets may be used from
// any thread, and `Model::run` takes `&mut self`.
unsafe impl Send for NcnnModel {}

impl Drop for NcnnModel {
    fn drop(&mut self) {
        // SAFETY: created by ncnn_net_create, destroyed once.
        unsafe { (self.api.net_destroy)(self.net) }
    }
}

fn cstring(p: &Path) -> Result<CString, String> {
    CString::new(p.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("{}: the path contains a NUL byte", p.display()))
}

impl NcnnModel {
    fn load(
        api: &'static Api,
        param: &Path,
        bin: &Path,
        meta: Option<Meta>,
        threads: usize,
        flags: &Flags,
        profile: Option<Profile>,
    ) -> Result<Box<dyn Model>, String> {
        let cparam = cstring(param)?;
        let cbin = cstring(bin)?;
        let threads = c_int::try_from(threads).map_err(|_| "too many threads".to_owned())?;
        // SAFETY: plain C API calls on handles created here; the option
        // object is copied into the net by ncnn_net_set_option.
        let net = unsafe {
            let net = (api.net_create)();
            let opt = (api.option_create)();
            (api.option_set_num_threads)(opt, threads);
            (api.option_set_use_vulkan_compute)(opt, 0);
            (api.option_set_use_fp16_storage)(opt, flags.fp16_storage.into());
            (api.option_set_use_fp16_arithmetic)(opt, flags.fp16_arithmetic.into());
            (api.option_set_use_fp16_packed)(opt, flags.fp16_packed.into());
            (api.option_set_use_packing_layout)(opt, flags.packing_layout.into());
            (api.option_set_use_winograd_convolution)(opt, flags.winograd.into());
            (api.option_set_use_sgemm_convolution)(opt, flags.sgemm.into());
            // The C API has no setter for light mode. `ncnn_option_t` is a
            // `ncnn::Option*`, a plain class whose first member is
            // `bool lightmode` (src/option.h), so it is set in place.
            *opt.cast::<bool>() = flags.light_mode;
            (api.net_set_option)(net, opt);
            (api.option_destroy)(opt);
            net
        };
        let mut model = NcnnModel {
            api,
            net,
            inputs: Vec::new(),
            outputs: Vec::new(),
            infos_in: Vec::new(),
            infos_out: Vec::new(),
            mats: Vec::new(),
            profile,
        };
        // SAFETY: the net is live; paths are NUL-terminated.
        unsafe {
            if (api.net_load_param)(net, cparam.as_ptr()) != 0 {
                return Err("ncnn cannot parse the param file".into());
            }
            if (api.net_load_model)(net, cbin.as_ptr()) != 0 {
                return Err(format!(
                    "ncnn cannot read the weights {} (truncated, or not this param's)",
                    bin.display()
                ));
            }
        }
        // SAFETY: indices are below the counts ncnn reports; names are C
        // strings owned by the net.
        let (in_names, out_names) = unsafe {
            let read = |n: c_int, get: unsafe extern "C" fn(ffi::Net, c_int) -> *const _| {
                (0..n)
                    .map(|i| {
                        let p: *const std::ffi::c_char = get(net, i);
                        CStr::from_ptr(p).to_string_lossy().into_owned()
                    })
                    .collect::<Vec<String>>()
            };
            (
                read((api.net_get_input_count)(net), api.net_get_input_name),
                read((api.net_get_output_count)(net), api.net_get_output_name),
            )
        };
        model.inputs = blobs(&in_names, meta.as_ref().map(|m| &m.inputs), "input")?;
        model.outputs = blobs(&out_names, meta.as_ref().map(|m| &m.outputs), "output")?;
        model.infos_in = model.inputs.iter().map(|b| b.info.clone()).collect();
        model.infos_out = model.outputs.iter().map(|b| b.info.clone()).collect();
        model.mats = model.inputs.iter().map(|_| None).collect();
        Ok(Box::new(model))
    }
}

/// Pairs the net's blobs with the side file's names and shapes.
fn blobs(names: &[String], meta: Option<&Vec<BlobMeta>>, kind: &str) -> Result<Vec<Blob>, String> {
    let make = |blob: &str, name: &str, shape: Option<&Vec<usize>>| -> Result<Blob, String> {
        Ok(Blob {
            blob: CString::new(blob).map_err(|_| format!("{kind} blob name has a NUL"))?,
            info: TensorInfo {
                name: name.to_owned(),
                dtype: DType::F32,
                shape: shape.map_or_else(Vec::new, |s| s.iter().map(|&d| Some(d)).collect()),
            },
        })
    };
    match meta {
        None => names.iter().map(|n| make(n, n, None)).collect(),
        Some(meta) => meta
            .iter()
            .map(|m| {
                if names.contains(&m.blob) {
                    make(&m.blob, &m.name, m.shape.as_ref())
                } else {
                    Err(format!(
                        "the side file names {kind} blob '{}', which the param does not have \
                         (it has {})",
                        m.blob,
                        names.join(", ")
                    ))
                }
            })
            .collect(),
    }
}

/// NCNN's view of a shape: the batch axis dropped when it is 1.
fn ncnn_dims(shape: &[usize]) -> &[usize] {
    match shape {
        [1, rest @ ..] if !rest.is_empty() => rest,
        s => s,
    }
}

impl Model for NcnnModel {
    fn inputs(&self) -> &[TensorInfo] {
        &self.infos_in
    }

    fn outputs(&self) -> &[TensorInfo] {
        &self.infos_out
    }

    fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, EngineError> {
        let api = self.api;
        let run_err = |message: String| EngineError::Run {
            engine: NAME.into(),
            message,
        };
        if inputs.len() != self.inputs.len() {
            return Err(EngineError::InputMismatch(format!(
                "the model takes {} input(s), got {}",
                self.inputs.len(),
                inputs.len()
            )));
        }
        // An extractor per call, as NCNN intends; it owns the blobs.
        // SAFETY: the net is live; the extractor is destroyed below.
        let ex = Extractor(api, unsafe { (api.extractor_create)(self.net) });
        for ((t, b), slot) in inputs.iter().zip(&self.inputs).zip(&mut self.mats) {
            let shape_ok = b.info.shape.is_empty() || b.info.accepts(t.dtype(), t.shape());
            if t.dtype() != DType::F32 || !shape_ok {
                return Err(EngineError::InputMismatch(format!(
                    "model input '{}' expects f32 {}, got {} {:?}",
                    b.info.name,
                    b.info.shape_string(),
                    t.dtype(),
                    t.shape()
                )));
            }
            if slot.as_ref().is_none_or(|(shape, _)| *shape != t.shape()) {
                let mat = new_mat(api, ncnn_dims(t.shape())).map_err(EngineError::InputMismatch)?;
                *slot = Some((t.shape().to_vec(), mat));
            }
            let mat = &slot.as_ref().expect("made above").1;
            // SAFETY: `mat` has the tensor's element count, f32, elempack 1;
            // each channel holds `per` floats at its (aligned) start.
            unsafe {
                let c = (api.mat_get_c)(mat.1).max(1) as usize;
                let per = t.data().len() / 4 / c;
                for ch in 0..c {
                    let dst = (api.mat_get_channel_data)(mat.1, ch as c_int).cast::<u8>();
                    ptr::copy_nonoverlapping(t.data()[ch * per * 4..].as_ptr(), dst, per * 4);
                }
                if (api.extractor_input)(ex.1, b.blob.as_ptr(), mat.1) != 0 {
                    return Err(run_err(format!(
                        "ncnn refused input blob '{}'",
                        b.info.name
                    )));
                }
            }
        }
        if let Some(profile) = &mut self.profile {
            profile.run(api, &ex).map_err(run_err)?;
        }
        let mut result = Vec::with_capacity(self.outputs.len());
        for b in &self.outputs {
            let mut out: ffi::Mat = ptr::null_mut();
            // SAFETY: extract fills `out` with a new mat we then own; reads
            // stay within each channel's w*h*d floats.
            unsafe {
                if (api.extractor_extract)(ex.1, b.blob.as_ptr(), &mut out) != 0 || out.is_null() {
                    return Err(run_err(format!(
                        "ncnn cannot compute blob '{}'",
                        b.info.name
                    )));
                }
                let out = MatGuard(api, out);
                let (dims, w, h, d, c) = (
                    (api.mat_get_dims)(out.1),
                    (api.mat_get_w)(out.1) as usize,
                    (api.mat_get_h)(out.1) as usize,
                    (api.mat_get_d)(out.1) as usize,
                    (api.mat_get_c)(out.1) as usize,
                );
                if (api.mat_get_elemsize)(out.1) != 4 || (api.mat_get_elempack)(out.1) != 1 {
                    return Err(run_err(format!(
                        "blob '{}' is not unpacked f32",
                        b.info.name
                    )));
                }
                let per = w * h * d.max(1);
                let mut data = Vec::with_capacity(per * c * 4);
                for ch in 0..c {
                    let src = (api.mat_get_channel_data)(out.1, ch as c_int).cast::<u8>();
                    data.extend_from_slice(std::slice::from_raw_parts(src, per * 4));
                }
                let natural: Vec<usize> = match dims {
                    1 => vec![w],
                    2 => vec![h, w],
                    3 => vec![c, h, w],
                    _ => vec![c, d, h, w],
                };
                let count = natural.iter().product::<usize>();
                let shape = match &b.info.shape {
                    s if !s.is_empty()
                        && s.iter().all(Option::is_some)
                        && s.iter().map(|d| d.unwrap_or(0)).product::<usize>() == count =>
                    {
                        s.iter().map(|d| d.unwrap_or(0)).collect()
                    }
                    _ => natural,
                };
                result.push(Tensor::new(b.info.name.clone(), DType::F32, shape, data)?);
            }
        }
        drop(ex);
        Ok(result)
    }

    fn layer_profile(&mut self) -> Result<Option<LayerProfile>, EngineError> {
        Ok(self.profile.as_ref().map(|p| LayerProfile {
            runs: p.runs,
            layers: p.layers.iter().map(|l| l.times.clone()).collect(),
        }))
    }
}

struct Extractor(&'static Api, ffi::Extractor);

impl Drop for Extractor {
    fn drop(&mut self) {
        // SAFETY: created by ncnn_extractor_create, destroyed once.
        unsafe { (self.0.extractor_destroy)(self.1) }
    }
}

struct MatGuard(&'static Api, ffi::Mat);

impl Drop for MatGuard {
    fn drop(&mut self) {
        // SAFETY: a mat we own, destroyed once.
        unsafe { (self.0.mat_destroy)(self.1) }
    }
}

/// An f32 mat of NCNN shape `dims` (c, d, h, w order, outermost first).
fn new_mat(api: &'static Api, dims: &[usize]) -> Result<MatGuard, String> {
    let int = |v: usize| c_int::try_from(v).map_err(|_| format!("dimension {v} is too large"));
    let null = ptr::null_mut();
    // SAFETY: plain constructors; a null allocator means ncnn's default.
    let mat = unsafe {
        match *dims {
            [w] => (api.mat_create_1d)(int(w)?, null),
            [h, w] => (api.mat_create_2d)(int(w)?, int(h)?, null),
            [c, h, w] => (api.mat_create_3d)(int(w)?, int(h)?, int(c)?, null),
            [c, d, h, w] => (api.mat_create_4d)(int(w)?, int(h)?, int(d)?, int(c)?, null),
            _ => {
                return Err(format!(
                    "NCNN takes 1 to 4 axes after the batch axis, got {dims:?}"
                ))
            }
        }
    };
    if mat.is_null() {
        return Err("ncnn could not allocate the input".into());
    }
    Ok(MatGuard(api, mat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_is_read_from_the_file_beside_the_library() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("libncnn.so");
        assert_eq!(version_file(&lib), dir.path().join("libncnn.so.version"));
        assert_eq!(recorded_version(&lib), None);
        std::fs::write(version_file(&lib), "1.0.20261020\n").unwrap();
        assert_eq!(recorded_version(&lib).as_deref(), Some("1.0.20261020"));
        std::fs::write(version_file(&lib), "<html>").unwrap();
        assert_eq!(recorded_version(&lib), None);
    }

    #[test]
    fn batch_axis_of_one_is_dropped() {
        assert_eq!(ncnn_dims(&[1, 3, 128, 128]), &[3, 128, 128]);
        assert_eq!(ncnn_dims(&[1, 1000]), &[1000]);
        assert_eq!(ncnn_dims(&[1]), &[1]);
        assert_eq!(ncnn_dims(&[2, 3]), &[2, 3]);
    }

    #[test]
    fn side_file_names_a_blob_the_param_lacks() {
        let meta = vec![BlobMeta {
            blob: "in9".into(),
            name: "input".into(),
            shape: None,
        }];
        let err = blobs(&["in0".into()], Some(&meta), "input")
            .err()
            .expect("refused");
        assert!(err.contains("in9") && err.contains("in0"), "{err}");
    }
}
