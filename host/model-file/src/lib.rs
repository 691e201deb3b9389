//! A model file as the host meets it, before any engine: read under a size
//! cap (regular files only), its format told from its bytes (a TFLite
//! flatbuffer verified, an ONNX protobuf walked), NCNN's weights beside
//! its param file; and the options every engine reads alike (threads, an
//! input's shape). The service checks uploads with it without linking an
//! engine; `lpdnn-engine-api` re-exports it for the engines.

#![warn(missing_docs)]

mod files;
mod format;
mod ncnn_param;
mod options;
mod tflite;

pub use files::{
    check_file, max_file_bytes, read_file, set_max_file_bytes, ReadError, DEFAULT_MAX_FILE_BYTES,
};
pub use format::{
    ncnn_bin_path, sniff, sniff_file, tensorflow_hint, tensorflow_kind, TensorFlowKind, FREEZE,
};
pub use ncnn_param::{ncnn_layers, NcnnLayer};
pub use options::{check_threads, max_threads, parse_input_shape};
