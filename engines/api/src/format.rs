//! Model-format sniffing from a file's bytes, never from its name.

use std::fmt;
use std::path::{Path, PathBuf};

/// A model file format, as recognised from the file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModelFormat {
    /// ONNX protobuf (`ModelProto`).
    Onnx,
    /// TensorFlow Lite flatbuffer (identifier `TFL3`).
    TfLite,
    /// NCNN text param file (magic `7767517`); weights in a `.bin` beside it.
    NcnnParam,
    /// Serialized TensorRT engine ("plan", magic `ftrt`, older `ptrt`).
    TensorRtPlan,
    /// Huawei Ascend offline model (`.om`, header magic `IMOD`, 0x444F4D49 LE).
    AscendOm,
    /// Nothing this host recognises, or a damaged file.
    Unknown,
}

impl fmt::Display for ModelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModelFormat::Onnx => "ONNX",
            ModelFormat::TfLite => "TFLite",
            ModelFormat::NcnnParam => "NCNN",
            ModelFormat::TensorRtPlan => "TensorRT plan",
            ModelFormat::AscendOm => "Ascend OM",
            ModelFormat::Unknown => "not a recognised model (unknown or damaged)",
        })
    }
}

impl ModelFormat {
    /// Every format a model can be recognised as (not [`ModelFormat::Unknown`]).
    pub const KNOWN: [ModelFormat; 5] = [
        ModelFormat::Onnx,
        ModelFormat::TfLite,
        ModelFormat::NcnnParam,
        ModelFormat::TensorRtPlan,
        ModelFormat::AscendOm,
    ];
}

/// A format's name as [`fmt::Display`] writes it (`ONNX`, `TFLite`, `NCNN`,
/// ...), as workers register them, read back.
impl std::str::FromStr for ModelFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        ModelFormat::KNOWN
            .into_iter()
            .find(|f| f.to_string() == s)
            .ok_or_else(|| {
                let known: Vec<String> = ModelFormat::KNOWN.iter().map(|f| f.to_string()).collect();
                format!("'{s}' is not a model format; formats: {}", known.join(", "))
            })
    }
}

impl serde::Serialize for ModelFormat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

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
    fn a_formats_name_reads_back_as_the_format() {
        for f in ModelFormat::KNOWN {
            assert_eq!(f.to_string().parse::<ModelFormat>(), Ok(f));
        }
        let err = "onnx".parse::<ModelFormat>().unwrap_err();
        assert!(
            err.contains("'onnx' is not a model format; formats: ONNX, TFLite"),
            "{err}"
        );
    }

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
