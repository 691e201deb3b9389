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

/// One field of a protobuf message: its number and value.
enum Field<'a> {
    Varint,
    Bytes(&'a [u8]),
}

/// The fields of a protobuf message, each well-formed and inside `bytes`
/// (varints and length-delimited values only: the wire types these formats
/// use at the levels walked); `None` for anything else, a truncated file
/// included.
fn fields(bytes: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < bytes.len() {
        let key = varint(bytes, &mut pos)?;
        let (field, wire) = (key >> 3, key & 7);
        let value = match wire {
            0 => {
                varint(bytes, &mut pos)?;
                Field::Varint
            }
            2 => {
                let len = usize::try_from(varint(bytes, &mut pos)?).ok()?;
                let end = pos.checked_add(len).filter(|&e| e <= bytes.len())?;
                let value = &bytes[pos..end];
                pos = end;
                Field::Bytes(value)
            }
            _ => return None,
        };
        out.push((field, value));
    }
    Some(out)
}

/// Walks the top-level protobuf fields of an ONNX `ModelProto`: every field
/// must be well-formed and inside the file, and the graph (field 7) present.
/// A truncated file fails here.
fn is_onnx(bytes: &[u8]) -> bool {
    // ModelProto's fields are 1..=25; anything else means "not ONNX".
    fields(bytes).is_some_and(|fields| {
        fields.iter().all(|(f, _)| (1..=25).contains(f))
            && fields
                .iter()
                .any(|(f, v)| *f == 7 && matches!(v, Field::Bytes(_)))
    })
}

/// A TensorFlow `GraphDef`: top-level fields `node` (1), `library` (2),
/// `version` (3), `versions` (4), `debug_info` (5), at least one node, and
/// every node a well-formed `NodeDef` (fields 1..=7, all length-delimited)
/// with an operator name.
fn is_tf_graph(bytes: &[u8]) -> bool {
    let Some(fields) = fields(bytes) else {
        return false;
    };
    let mut nodes = 0;
    for (field, value) in &fields {
        match (field, value) {
            (1, Field::Bytes(node)) => {
                let Some(node) = self::fields(node) else {
                    return false;
                };
                let op = node
                    .iter()
                    .any(|(f, v)| *f == 2 && matches!(v, Field::Bytes(b) if !b.is_empty()));
                if !op
                    || !node
                        .iter()
                        .all(|(f, v)| (1..=7).contains(f) && matches!(v, Field::Bytes(_)))
                {
                    return false;
                }
                nodes += 1;
            }
            (2 | 4 | 5, Field::Bytes(_)) | (3, Field::Varint) => {}
            _ => return false,
        }
    }
    nodes > 0
}

/// What TensorFlow form `path` is, when it is one the `tf` engine does not
/// take (a SavedModel, as its folder or its `saved_model.pb`; a Keras
/// `.keras` or `.h5` file), with how to make a frozen graph of it.
pub fn tensorflow_hint(path: &Path) -> Option<String> {
    let what = if path.is_dir() {
        path.join("saved_model.pb")
            .is_file()
            .then_some("a TensorFlow SavedModel folder")?
    } else {
        let bytes = crate::read_file(path).ok()?;
        tensorflow_kind(&bytes)?
    };
    Some(format!("{what}; {FREEZE}"))
}

/// How to turn a SavedModel or a Keras model into what the host runs.
pub const FREEZE: &str = "TensorFlow models run as frozen graphs (a GraphDef .pb whose \
     variables are constants; on lne, the service's `tf`): freeze it with TensorFlow (convert_variables_to_constants_v2 on a \
     tf.function's concrete function, then tf.io.write_graph(graph_def, dir, name, \
     as_text=False)), or convert it to ONNX (tf2onnx) or TFLite";

/// A SavedModel's `saved_model.pb` (fields `saved_model_schema_version`
/// and `meta_graphs`), a Keras 3 `.keras` archive or an HDF5 file.
pub fn tensorflow_kind(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89HDF\r\n\x1a\n") {
        return Some("an HDF5 file (a Keras .h5 model)");
    }
    if bytes.starts_with(b"PK\x03\x04")
        && bytes
            .windows(b"model.weights.h5".len())
            .any(|w| w == b"model.weights.h5")
    {
        return Some("a Keras .keras archive");
    }
    let fields = fields(bytes)?;
    let saved_model = fields.iter().any(|(f, _)| *f == 2)
        && fields
            .iter()
            .all(|(f, v)| matches!((f, v), (1, Field::Varint) | (2, Field::Bytes(_))));
    saved_model
        .then_some("a TensorFlow SavedModel (saved_model.pb, its weights kept apart in variables/)")
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

    #[test]
    fn recognises_a_tensorflow_graph_and_names_what_it_does_not_take() {
        assert_eq!(sniff(TINY_GRAPH), ModelFormat::TfGraph);
        assert_eq!(
            sniff(&TINY_GRAPH[..TINY_GRAPH.len() - 1]),
            ModelFormat::Unknown
        );
        assert_eq!(tensorflow_kind(TINY_GRAPH), None);
        // saved_model_schema_version: 1, meta_graphs { }.
        let saved = [0x08, 0x01, 0x12, 0x00];
        assert_eq!(sniff(&saved), ModelFormat::Unknown);
        assert!(tensorflow_kind(&saved).unwrap().contains("SavedModel"));
        assert!(tensorflow_kind(b"\x89HDF\r\n\x1a\n\0\0")
            .unwrap()
            .contains(".h5"));
        assert_eq!(tensorflow_kind(TINY_ONNX), None);
        assert_eq!(tensorflow_kind(b"\x89PNG\r\n\x1a\n"), None);
    }

    #[test]
    fn onnx_without_graph_is_not_onnx() {
        assert_eq!(sniff(&[0x08, 0x08]), ModelFormat::Unknown);
    }
}
