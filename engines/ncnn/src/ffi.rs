//! The part of NCNN's C API (`src/c_api.h`) this engine uses, declared by
//! hand so that a build needs neither the header nor the library.

use std::ffi::{c_char, c_int, c_void};
use std::path::{Path, PathBuf};

use lpdnn_engine_api::NativeLibrary;

pub type Net = *mut c_void;
pub type Opt = *mut c_void;
pub type Mat = *mut c_void;
pub type Extractor = *mut c_void;
type Allocator = *mut c_void;

/// Function pointers into libncnn.so.
pub struct Api {
    pub path: PathBuf,
    pub version: unsafe extern "C" fn() -> *const c_char,
    pub option_create: unsafe extern "C" fn() -> Opt,
    pub option_destroy: unsafe extern "C" fn(Opt),
    pub option_set_num_threads: unsafe extern "C" fn(Opt, c_int),
    pub option_set_use_vulkan_compute: unsafe extern "C" fn(Opt, c_int),
    pub option_set_use_fp16_packed: unsafe extern "C" fn(Opt, c_int),
    pub option_set_use_fp16_storage: unsafe extern "C" fn(Opt, c_int),
    pub option_set_use_fp16_arithmetic: unsafe extern "C" fn(Opt, c_int),
    pub option_set_use_packing_layout: unsafe extern "C" fn(Opt, c_int),
    pub option_set_use_winograd_convolution: unsafe extern "C" fn(Opt, c_int),
    pub option_set_use_sgemm_convolution: unsafe extern "C" fn(Opt, c_int),
    pub net_create: unsafe extern "C" fn() -> Net,
    pub net_destroy: unsafe extern "C" fn(Net),
    pub net_set_option: unsafe extern "C" fn(Net, Opt),
    pub net_load_param: unsafe extern "C" fn(Net, *const c_char) -> c_int,
    pub net_load_model: unsafe extern "C" fn(Net, *const c_char) -> c_int,
    pub net_get_input_count: unsafe extern "C" fn(Net) -> c_int,
    pub net_get_output_count: unsafe extern "C" fn(Net) -> c_int,
    pub net_get_input_name: unsafe extern "C" fn(Net, c_int) -> *const c_char,
    pub net_get_output_name: unsafe extern "C" fn(Net, c_int) -> *const c_char,
    pub extractor_create: unsafe extern "C" fn(Net) -> Extractor,
    pub extractor_destroy: unsafe extern "C" fn(Extractor),
    pub extractor_input: unsafe extern "C" fn(Extractor, *const c_char, Mat) -> c_int,
    pub extractor_extract: unsafe extern "C" fn(Extractor, *const c_char, *mut Mat) -> c_int,
    pub mat_create_1d: unsafe extern "C" fn(c_int, Allocator) -> Mat,
    pub mat_create_2d: unsafe extern "C" fn(c_int, c_int, Allocator) -> Mat,
    pub mat_create_3d: unsafe extern "C" fn(c_int, c_int, c_int, Allocator) -> Mat,
    pub mat_create_4d: unsafe extern "C" fn(c_int, c_int, c_int, c_int, Allocator) -> Mat,
    pub mat_destroy: unsafe extern "C" fn(Mat),
    pub mat_get_dims: unsafe extern "C" fn(Mat) -> c_int,
    pub mat_get_w: unsafe extern "C" fn(Mat) -> c_int,
    pub mat_get_h: unsafe extern "C" fn(Mat) -> c_int,
    pub mat_get_d: unsafe extern "C" fn(Mat) -> c_int,
    pub mat_get_c: unsafe extern "C" fn(Mat) -> c_int,
    pub mat_get_elemsize: unsafe extern "C" fn(Mat) -> usize,
    pub mat_get_elempack: unsafe extern "C" fn(Mat) -> c_int,
    pub mat_get_channel_data: unsafe extern "C" fn(Mat, c_int) -> *mut c_void,
}

impl Api {
    /// Opens the library and resolves every symbol.
    pub fn load(path: &Path) -> Result<Api, String> {
        let lib = NativeLibrary::open(path)?;
        // SAFETY: each type is the C signature declared in ncnn's c_api.h.
        unsafe {
            Ok(Api {
                path: path.to_owned(),
                version: lib.get("ncnn_version")?,
                option_create: lib.get("ncnn_option_create")?,
                option_destroy: lib.get("ncnn_option_destroy")?,
                option_set_num_threads: lib.get("ncnn_option_set_num_threads")?,
                option_set_use_vulkan_compute: lib.get("ncnn_option_set_use_vulkan_compute")?,
                option_set_use_fp16_packed: lib.get("ncnn_option_set_use_fp16_packed")?,
                option_set_use_fp16_storage: lib.get("ncnn_option_set_use_fp16_storage")?,
                option_set_use_fp16_arithmetic: lib.get("ncnn_option_set_use_fp16_arithmetic")?,
                option_set_use_packing_layout: lib.get("ncnn_option_set_use_packing_layout")?,
                option_set_use_winograd_convolution: lib
                    .get("ncnn_option_set_use_winograd_convolution")?,
                option_set_use_sgemm_convolution: lib
                    .get("ncnn_option_set_use_sgemm_convolution")?,
                net_create: lib.get("ncnn_net_create")?,
                net_destroy: lib.get("ncnn_net_destroy")?,
                net_set_option: lib.get("ncnn_net_set_option")?,
                net_load_param: lib.get("ncnn_net_load_param")?,
                net_load_model: lib.get("ncnn_net_load_model")?,
                net_get_input_count: lib.get("ncnn_net_get_input_count")?,
                net_get_output_count: lib.get("ncnn_net_get_output_count")?,
                net_get_input_name: lib.get("ncnn_net_get_input_name")?,
                net_get_output_name: lib.get("ncnn_net_get_output_name")?,
                extractor_create: lib.get("ncnn_extractor_create")?,
                extractor_destroy: lib.get("ncnn_extractor_destroy")?,
                extractor_input: lib.get("ncnn_extractor_input")?,
                extractor_extract: lib.get("ncnn_extractor_extract")?,
                mat_create_1d: lib.get("ncnn_mat_create_1d")?,
                mat_create_2d: lib.get("ncnn_mat_create_2d")?,
                mat_create_3d: lib.get("ncnn_mat_create_3d")?,
                mat_create_4d: lib.get("ncnn_mat_create_4d")?,
                mat_destroy: lib.get("ncnn_mat_destroy")?,
                mat_get_dims: lib.get("ncnn_mat_get_dims")?,
                mat_get_w: lib.get("ncnn_mat_get_w")?,
                mat_get_h: lib.get("ncnn_mat_get_h")?,
                mat_get_d: lib.get("ncnn_mat_get_d")?,
                mat_get_c: lib.get("ncnn_mat_get_c")?,
                mat_get_elemsize: lib.get("ncnn_mat_get_elemsize")?,
                mat_get_elempack: lib.get("ncnn_mat_get_elempack")?,
                mat_get_channel_data: lib.get("ncnn_mat_get_channel_data")?,
            })
        }
    }
}
