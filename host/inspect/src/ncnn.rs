//! Static metrics of an NCNN model: layers and their declared weights from
//! the `.param` text; MACs from the ONNX source that the `.ncnn.json`
//! sidecar names, when it is there (a `.param` holds no tensor shapes).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::{InspectError, Layer, StaticMetrics};

/// One layer line of a `.param` file.
struct ParamLayer<'a> {
    kind: &'a str,
    name: &'a str,
    /// Scalar parameters by id (arrays are skipped: no weights live there).
    params: HashMap<i32, f64>,
}

fn parse(text: &str) -> Result<Vec<ParamLayer<'_>>, String> {
    lpdnn_engine_api::ncnn_layers(text)?
        .into_iter()
        .map(|l| {
            let mut params = HashMap::new();
            for &(k, v) in &l.params {
                let k: i32 = k
                    .parse()
                    .map_err(|_| format!("layer {}: bad id in `{k}={v}`", l.name))?;
                if k > -23300 {
                    if let Ok(v) = v.parse::<f64>() {
                        params.insert(k, v);
                    }
                }
            }
            Ok(ParamLayer {
                kind: l.kind,
                name: l.name,
                params,
            })
        })
        .collect()
}

/// Weights a layer declares (see `docs/static-metrics.md`).
fn weights(l: &ParamLayer) -> u64 {
    let p = |id: i32| l.params.get(&id).copied().unwrap_or(0.0).max(0.0) as u64;
    match l.kind {
        "Convolution"
        | "ConvolutionDepthWise"
        | "Deconvolution"
        | "DeconvolutionDepthWise"
        | "Convolution1D"
        | "Convolution3D"
        | "ConvolutionDepthWise1D"
        | "ConvolutionDepthWise3D"
        | "Deconvolution1D"
        | "Deconvolution3D" => p(6) + p(5).min(1) * p(0),
        "InnerProduct" => p(2) + p(1).min(1) * p(0),
        "BatchNorm" => 4 * p(0),
        "Scale" => p(0) * (1 + p(1).min(1)),
        "PReLU" => p(0),
        "MemoryData" => [0, 1, 11, 2].iter().map(|&i| p(i).max(1)).product(),
        "Embed" => p(3) + p(2).min(1) * p(0),
        "LayerNorm" | "GroupNorm" | "InstanceNorm" => {
            let (size, affine) = match l.kind {
                "LayerNorm" => (p(0), p(2)),
                "GroupNorm" => (p(1), p(3)),
                _ => (p(0), p(2)),
            };
            2 * size * affine.min(1)
        }
        _ => 0,
    }
}

/// Inspects an NCNN `.param` read from `path` (its `.bin` beside it).
pub(crate) fn inspect(path: &Path, bytes: &[u8]) -> Result<StaticMetrics, InspectError> {
    let bad = |message: String| InspectError::Model {
        path: path.to_owned(),
        message,
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|_| bad("an NCNN .param is text; this is not UTF-8".into()))?;
    let parsed = parse(text).map_err(bad)?;
    let bin = lpdnn_engine_api::ncnn_bin_path(path);
    let bin_bytes = std::fs::metadata(&bin).map(|m| m.len()).ok();
    let mut layers = Vec::with_capacity(parsed.len());
    let mut parameters = 0u64;
    for l in &parsed {
        let w = weights(l);
        parameters = parameters.saturating_add(w);
        layers.push(Layer {
            name: l.name.to_owned(),
            op_type: l.kind.to_owned(),
            parameters: w,
            macs: 0,
            other_ops: 0,
            output_shape: Vec::new(),
        });
    }
    let mut notes = Vec::new();
    let mut counted = None;
    match source(path) {
        Some(src) => match crate::inspect(&src) {
            Ok(m) => {
                notes.push(format!(
                    "MACs and other ops are those of the ONNX source {} (an NCNN .param holds no shapes)",
                    src.display()
                ));
                counted = m.macs.zip(m.other_ops);
            }
            Err(e) => notes.push(format!("MACs not counted: {e}")),
        },
        None => notes.push(
            "MACs not counted: an NCNN .param holds no tensor shapes and no .ncnn.json names its ONNX source"
                .into(),
        ),
    }
    let mut m = StaticMetrics::new(
        path,
        lpdnn_engine_api::ModelFormat::NcnnParam,
        bytes,
        parameters,
        bin_bytes.unwrap_or(4 * parameters),
        counted,
        notes,
        layers,
    );
    match bin_bytes {
        Some(b) => m.storage_bytes += b,
        None => m
            .notes
            .push(format!("no weights file {} beside it", bin.display())),
    }
    Ok(m)
}

/// The ONNX model the `.ncnn.json` sidecar of `param` names, if it exists.
fn source(param: &Path) -> Option<PathBuf> {
    let sidecar = param.with_extension("json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(sidecar).ok()?).ok()?;
    let name = Path::new(json.get("source")?.as_str()?).file_name()?;
    let src = param.parent()?.join(name);
    src.is_file().then_some(src)
}
