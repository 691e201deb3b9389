//! Model-format sniffing from a file's bytes, never from its name.

use std::path::{Path, PathBuf};

use lpdnn_types::ModelFormat;

/// Reads `path` (a regular file within [`crate::max_file_bytes`]) and tells
/// which model format its bytes are.
pub fn sniff_file(path: &Path) -> std::io::Result<ModelFormat> {
    Ok(sniff(&crate::read_file(path)?))
}

/// Tells which model format `bytes` are.
pub fn sniff(bytes: &[u8]) -> ModelFormat {
    if bytes.len() >= 8 && &bytes[4..8] == b"TFL3" {
        // A damaged flatbuffer would crash LiteRT: it is not a model.
        if crate::tflite::check(bytes).is_ok() {
            ModelFormat::TfLite
        } else {
            ModelFormat::Unknown
        }
    } else if bytes.starts_with(b"7767517") {
        ModelFormat::NcnnParam
    } else if bytes.starts_with(b"ftrt") || bytes.starts_with(b"ptrt") {
        ModelFormat::TensorRtPlan
    } else if bytes.starts_with(b"IMOD") {
        ModelFormat::AscendOm
    } else if is_onnx(bytes) {
        ModelFormat::Onnx
    } else {
        ModelFormat::Unknown
    }
}

/// Walks the top-level protobuf fields of an ONNX `ModelProto`: every field
/// must be well-formed and inside the file, and the graph (field 7) present.
/// A truncated file fails here.
fn is_onnx(bytes: &[u8]) -> bool {
    let mut pos = 0;
    let mut has_graph = false;
    while pos < bytes.len() {
        let Some(key) = varint(bytes, &mut pos) else {
            return false;
        };
        let (field, wire) = (key >> 3, key & 7);
        // ModelProto's fields are 1..=25; anything else means "not ONNX".
        if field == 0 || field > 25 {
            return false;
        }
        match wire {
            0 => {
                if varint(bytes, &mut pos).is_none() {
                    return false;
                }
            }
            2 => {
                let Some(len) = varint(bytes, &mut pos) else {
                    return false;
                };
                match usize::try_from(len).ok().and_then(|l| pos.checked_add(l)) {
                    Some(end) if end <= bytes.len() => pos = end,
                    _ => return false,
                }
                has_graph |= field == 7;
            }
            _ => return false,
        }
    }
    has_graph
}

fn varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The weights file of an NCNN `param`: `x.ncnn.param` → `x.ncnn.bin`.
pub fn ncnn_bin_path(param: &Path) -> PathBuf {
    param.with_extension("bin")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ir_version = 8, graph = { name: "g" }.
    const TINY_ONNX: &[u8] = &[0x08, 0x08, 0x3a, 0x03, 0x0a, 0x01, b'g'];

    #[test]
    fn recognises_formats_by_content() {
        assert_eq!(sniff(TINY_ONNX), ModelFormat::Onnx);
        assert_eq!(sniff(b"\x1c\0\0\0TFL3\0\0\0\0"), ModelFormat::Unknown);
        assert_eq!(sniff(b"7767517\n3 3\n"), ModelFormat::NcnnParam);
        assert_eq!(sniff(b"ftrt\x00\x00\x00\x00"), ModelFormat::TensorRtPlan);
        assert_eq!(sniff(b"IMOD\x00\x00\x00\x10"), ModelFormat::AscendOm);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n"), ModelFormat::Unknown);
        assert_eq!(sniff(b""), ModelFormat::Unknown);
    }

    #[test]
    fn truncated_onnx_is_not_onnx() {
        assert_eq!(
            sniff(&TINY_ONNX[..TINY_ONNX.len() - 1]),
            ModelFormat::Unknown
        );
    }

    #[test]
    fn onnx_without_graph_is_not_onnx() {
        assert_eq!(sniff(&[0x08, 0x08]), ModelFormat::Unknown);
    }
}
