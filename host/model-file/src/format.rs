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
    } else if is_tf_graph(bytes) {
        ModelFormat::TfGraph
    } else {
        ModelFormat::Unknown
    }
}

/// One field of a protobuf message: its value.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// Walks the fields of a protobuf message in order, handing each to
/// `visit` until it says stop (`false`); true when every field was
/// well-formed, inside `bytes` and accepted. Varints and length-delimited
/// values only (the wire types these formats use at the levels walked):
/// anything else, a truncated file included, is false. Nothing is
/// collected, so a hostile file costs one pass and no memory.
fn walk<'a>(bytes: &'a [u8], mut visit: impl FnMut(u64, Field<'a>) -> bool) -> bool {
    let mut pos = 0;
    while pos < bytes.len() {
        let Some(key) = varint(bytes, &mut pos) else {
            return false;
        };
        let (field, wire) = (key >> 3, key & 7);
        let value = match wire {
            0 => match varint(bytes, &mut pos) {
                Some(v) => Field::Varint(v),
                None => return false,
            },
            2 => {
                let end = varint(bytes, &mut pos)
                    .and_then(|len| usize::try_from(len).ok())
                    .and_then(|len| pos.checked_add(len))
                    .filter(|&e| e <= bytes.len());
                let Some(end) = end else {
                    return false;
                };
                let value = &bytes[pos..end];
                pos = end;
                Field::Bytes(value)
            }
            _ => return false,
        };
        if !visit(field, value) {
            return false;
        }
    }
    true
}

/// Walks the top-level protobuf fields of an ONNX `ModelProto`: every field
/// must be well-formed and inside the file, and the graph (field 7) present.
/// A truncated file fails here.
fn is_onnx(bytes: &[u8]) -> bool {
    let mut graph = false;
    // ModelProto's fields are 1..=25; anything else means "not ONNX".
    walk(bytes, |field, value| {
        graph |= field == 7 && matches!(value, Field::Bytes(_));
        (1..=25).contains(&field)
    }) && graph
}

/// A TensorFlow `GraphDef`: top-level fields `node` (1), `library` (2),
/// `version` (3), `versions` (4), `debug_info` (5), at least one node, and
/// every node a well-formed `NodeDef` (fields 1..=7, all length-delimited)
/// with an operator name.
fn is_tf_graph(bytes: &[u8]) -> bool {
    let mut nodes = 0u64;
    walk(bytes, |field, value| match (field, value) {
        (1, Field::Bytes(node)) => {
            let mut op = false;
            let ok = walk(node, |f, v| {
                op |= f == 2 && matches!(v, Field::Bytes(b) if !b.is_empty());
                (1..=7).contains(&f) && matches!(v, Field::Bytes(_))
            });
            nodes += 1;
            ok && op
        }
        (2 | 4 | 5, Field::Bytes(_)) | (3, Field::Varint(_)) => true,
        _ => false,
    }) && nodes > 0
}

/// What TensorFlow form `path` is, when it is one that is not run (a
/// SavedModel, as its folder or its `saved_model.pb`; a Keras `.keras` or
/// `.h5` file), with how to make a frozen graph of it. A folder holding an
/// `app.json` is an app, whatever else it holds.
pub fn tensorflow_hint(path: &Path) -> Option<String> {
    let kind = if path.is_dir() {
        if path.join("app.json").exists() || !path.join("saved_model.pb").is_file() {
            return None;
        }
        TensorFlowKind::SavedModelFolder
    } else {
        tensorflow_kind(&crate::read_file(path).ok()?)?
    };
    Some(format!("{kind}; {FREEZE}"))
}

/// How to turn a SavedModel or a Keras model into what the host runs.
pub const FREEZE: &str = "TensorFlow models run as frozen graphs (a GraphDef .pb whose \
     variables are constants): freeze it with TensorFlow's convert_variables_to_constants_v2 \
     and tf.io.write_graph(..., as_text=False), or convert it to ONNX (tf2onnx) or TFLite";

/// A TensorFlow form the host recognises but does not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorFlowKind {
    /// A SavedModel's folder.
    SavedModelFolder,
    /// A SavedModel's `saved_model.pb`.
    SavedModel,
    /// A Keras 3 `.keras` archive.
    Keras,
    /// An HDF5 file (Keras 2's `.h5`).
    Hdf5,
}

impl std::fmt::Display for TensorFlowKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TensorFlowKind::SavedModelFolder => "a TensorFlow SavedModel folder",
            TensorFlowKind::SavedModel => {
                "a TensorFlow SavedModel (saved_model.pb, its weights kept apart in variables/)"
            }
            TensorFlowKind::Keras => "a Keras .keras archive",
            TensorFlowKind::Hdf5 => "an HDF5 file (a Keras .h5 model)",
        })
    }
}

/// A SavedModel's `saved_model.pb` (`saved_model_schema_version` 1 and
/// `meta_graphs`, each a `MetaGraphDef` holding a `graph_def`), a Keras 3
/// `.keras` archive or an HDF5 file; `None` for anything else.
pub fn tensorflow_kind(bytes: &[u8]) -> Option<TensorFlowKind> {
    if bytes.starts_with(b"\x89HDF\r\n\x1a\n") {
        return Some(TensorFlowKind::Hdf5);
    }
    if bytes.starts_with(b"PK\x03\x04")
        && bytes
            .windows(b"model.weights.h5".len())
            .any(|w| w == b"model.weights.h5")
    {
        return Some(TensorFlowKind::Keras);
    }
    let (mut version, mut meta_graphs) = (false, 0u64);
    let saved = walk(bytes, |field, value| match (field, value) {
        (1, Field::Varint(1)) if !version => {
            version = true;
            true
        }
        (2, Field::Bytes(meta)) => {
            // MetaGraphDef: meta_info_def (1), graph_def (2), ... (1..=9).
            let mut graph = false;
            meta_graphs += 1;
            walk(meta, |f, v| {
                graph |= f == 2 && matches!(v, Field::Bytes(_));
                (1..=9).contains(&f)
            }) && graph
        }
        _ => false,
    });
    (saved && version && meta_graphs > 0).then_some(TensorFlowKind::SavedModel)
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

    /// node { name: "x" op: "Placeholder" }, versions { producer: 1 }.
    const TINY_GRAPH: &[u8] = &[
        0x0a, 0x10, 0x0a, 0x01, b'x', 0x12, 0x0b, b'P', b'l', b'a', b'c', b'e', b'h', b'o', b'l',
        b'd', b'e', b'r', 0x22, 0x02, 0x08, 0x01,
    ];

    /// saved_model_schema_version: 1, meta_graphs { graph_def { } }.
    const SAVED_MODEL: &[u8] = &[0x08, 0x01, 0x12, 0x02, 0x12, 0x00];

    #[test]
    fn recognises_a_tensorflow_graph_and_names_what_it_does_not_take() {
        assert_eq!(sniff(TINY_GRAPH), ModelFormat::TfGraph);
        assert_eq!(
            sniff(&TINY_GRAPH[..TINY_GRAPH.len() - 1]),
            ModelFormat::Unknown
        );
        assert_eq!(tensorflow_kind(TINY_GRAPH), None);
        assert_eq!(sniff(SAVED_MODEL), ModelFormat::Unknown);
        assert_eq!(
            tensorflow_kind(SAVED_MODEL),
            Some(TensorFlowKind::SavedModel)
        );
        assert_eq!(
            tensorflow_kind(b"\x89HDF\r\n\x1a\n\0\0"),
            Some(TensorFlowKind::Hdf5)
        );
        // Protobuf-shaped bytes that are not a SavedModel.
        for not in [
            TINY_ONNX,
            TINY_GRAPH,
            b"\x12\x05hello".as_slice(),
            &[0x08, 0x01, 0x12, 0x00],
            &[0x08, 0x02, 0x12, 0x02, 0x12, 0x00],
            b"\x89PNG\r\n\x1a\n",
        ] {
            assert_eq!(tensorflow_kind(not), None, "{not:?}");
        }
    }

    #[test]
    fn a_long_run_of_fields_is_walked_without_collecting_it() {
        // 8 MiB of `field 1 = 0`: neither ONNX, a graph nor a SavedModel.
        let bytes = [0x08, 0x00].repeat(4 << 20);
        assert_eq!(sniff(&bytes), ModelFormat::Unknown);
        assert_eq!(tensorflow_kind(&bytes), None);
    }

    #[test]
    fn onnx_without_graph_is_not_onnx() {
        assert_eq!(sniff(&[0x08, 0x08]), ModelFormat::Unknown);
    }
}
