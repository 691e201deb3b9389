//! Static metrics of a model (seed: FLOPs, parameters, storage), per model
//! and per layer, from its ONNX, TFLite, TensorFlow or NCNN form.
//!
//! What is counted, and how, is `docs/static-metrics.md` (summarised in
//! [`CONVENTION`] and carried in every result): MACs of the linear layers
//! and one operation per element of the others, per inference at the
//! model's declared input shapes (a symbolic dimension taken as 1).
//! Shapes come from tract's inference (ONNX, TensorFlow) or from the file
//! (TFLite).

#![warn(missing_docs)]

mod ncnn;
mod onnx;
mod ops;
mod tf;
mod tflite;

use std::path::{Path, PathBuf};

use lpdnn_engine_api::ModelFormat;
use serde::{Deserialize, Serialize};
use sha2::Digest;

/// The statement of conventions carried in every result.
pub const CONVENTION: &str = "per inference at the declared input shapes (symbolic dimensions = 1); MACs of Conv, ConvTranspose, MatMul, Gemm, Einsum, LSTM/GRU/RNN without bias; FLOPs = 2 x MACs; other_ops: 1 per element; rules: docs/static-metrics.md";

/// Errors of inspecting a model.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The model file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is a model that cannot be analysed.
    #[error("cannot analyse {path}: {message}")]
    Model {
        /// The model file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The file is not a model format static metrics are counted for.
    #[error(
        "{path}: {format}; static metrics are counted for ONNX, TFLite, TensorFlow and NCNN models"
    )]
    Format {
        /// The file.
        path: PathBuf,
        /// What its bytes are.
        format: ModelFormat,
    },
}

/// Static metrics of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaticMetrics {
    /// The model file.
    pub model: String,
    /// Its format (`onnx`, `tflite`, `ncnn` in JSON).
    #[serde(with = "lpdnn_types::format_key")]
    pub format: ModelFormat,
    /// SHA-256 of the model file.
    pub sha256: String,
    /// Bytes of the model file (NCNN: `.param` + `.bin`).
    pub storage_bytes: u64,
    /// Stored tensor elements (initializers, constants, weights).
    pub parameters: u64,
    /// Their bytes in their stored types.
    pub parameter_bytes: u64,
    /// Multiply-accumulates of the linear layers; `null` when they cannot
    /// be counted (the notes say why).
    pub macs: Option<u64>,
    /// 2 × `macs`.
    pub flops: Option<u64>,
    /// Arithmetic of the other layers.
    pub other_ops: Option<u64>,
    /// The counting conventions.
    pub convention: String,
    /// What the figures leave out (control-flow bodies, unknown shapes).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Per layer, in graph order.
    pub layers: Vec<Layer>,
}

/// Static metrics of one layer (ONNX node, TFLite operator, NCNN layer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// The node's name when unique, else its first output's name.
    pub name: String,
    /// Operator type.
    pub op_type: String,
    /// Stored elements first read by this layer.
    pub parameters: u64,
    /// Multiply-accumulates.
    pub macs: u64,
    /// Other arithmetic.
    pub other_ops: u64,
    /// Shape of the first output, when known.
    pub output_shape: Vec<i64>,
}

/// Inspects a model file: ONNX, TFLite, TensorFlow frozen graph or NCNN
/// `.param`, told from its bytes.
pub fn inspect(path: &Path) -> Result<StaticMetrics, InspectError> {
    // A SavedModel (a folder) or a Keras file: say what it is and how to
    // freeze it.
    let tensorflow = || {
        lpdnn_engine_api::tensorflow_hint(path).map(|message| InspectError::Model {
            path: path.to_owned(),
            message,
        })
    };
    let bytes = lpdnn_engine_api::read_file(path).map_err(|e| {
        tensorflow().unwrap_or_else(|| InspectError::Read {
            path: path.to_owned(),
            source: e.into(),
        })
    })?;
    match lpdnn_engine_api::sniff(&bytes) {
        ModelFormat::Onnx => onnx::inspect(path, &bytes),
        ModelFormat::TfLite => tflite::inspect(path, &bytes),
        ModelFormat::TfGraph => tf::inspect(path, &bytes),
        ModelFormat::NcnnParam => ncnn::inspect(path, &bytes),
        format => Err(tensorflow().unwrap_or(InspectError::Format {
            path: path.to_owned(),
            format,
        })),
    }
}

impl StaticMetrics {
    /// Totals over the layers, with the file's size and hash.
    #[allow(clippy::too_many_arguments)]
    fn new(
        path: &Path,
        format: ModelFormat,
        bytes: &[u8],
        parameters: u64,
        parameter_bytes: u64,
        counted: Option<(u64, u64)>,
        notes: Vec<String>,
        layers: Vec<Layer>,
    ) -> Self {
        StaticMetrics {
            model: path.display().to_string(),
            format,
            sha256: hex::encode(sha2::Sha256::digest(bytes)),
            storage_bytes: bytes.len() as u64,
            parameters,
            parameter_bytes,
            macs: counted.map(|c| c.0),
            flops: counted.map(|c| c.0.saturating_mul(2)),
            other_ops: counted.map(|c| c.1),
            convention: CONVENTION.into(),
            notes,
            layers,
        }
    }
}

/// Notes the layers whose shapes are unknown (they count 0).
fn note_unknown(notes: &mut Vec<String>, layers: &[String]) {
    if !layers.is_empty() {
        notes.push(format!("shapes unknown, counted as 0: {}", list(layers)));
    }
}

/// The first few names of a list, and how many more.
fn list(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut s = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

impl StaticMetrics {
    /// A human-readable table, at most 100 columns: totals, then one line
    /// per layer.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let count = |v: Option<u64>, unit: f64, suffix: &str| match v {
            Some(v) => format!("{v} ({:.3} {suffix})", v as f64 / unit),
            None => "not counted".into(),
        };
        let format = self.format;
        let _ = writeln!(out, "model       {} ({format})", self.model);
        let _ = writeln!(out, "sha256      {}", self.sha256);
        let _ = writeln!(
            out,
            "storage     {} bytes ({:.2} MiB)",
            self.storage_bytes,
            self.storage_bytes as f64 / 1048576.0
        );
        let _ = writeln!(
            out,
            "parameters  {} ({:.3} M, {} bytes)",
            self.parameters,
            self.parameters as f64 / 1e6,
            self.parameter_bytes
        );
        let _ = writeln!(out, "MACs        {}", count(self.macs, 1e9, "G"));
        let _ = writeln!(
            out,
            "FLOPs       {} = 2 x MACs",
            count(self.flops, 1e9, "G")
        );
        let _ = writeln!(out, "other ops   {}", count(self.other_ops, 1e6, "M"));
        let opts = textwrap::Options::new(100)
            .initial_indent("convention  ")
            .subsequent_indent("            ");
        let _ = writeln!(out, "{}", textwrap::fill(&self.convention, opts));
        for note in &self.notes {
            let opts = textwrap::Options::new(100)
                .initial_indent("note        ")
                .subsequent_indent("            ");
            let _ = writeln!(out, "{}", textwrap::fill(note, opts));
        }
        let name_w = self
            .layers
            .iter()
            .map(|l| l.name.chars().count())
            .max()
            .unwrap_or(5)
            .clamp(5, 32);
        let op_w = self
            .layers
            .iter()
            .map(|l| l.op_type.len())
            .max()
            .unwrap_or(2)
            .clamp(2, 18);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:name_w$} {:op_w$} {:>10} {:>13} {:>11}  output",
            "layer", "op", "params", "MACs", "other ops"
        );
        for l in &self.layers {
            let shape = l
                .output_shape
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join("x");
            let _ = writeln!(
                out,
                "{:name_w$} {:op_w$} {:>10} {:>13} {:>11}  {shape}",
                clip(&l.name, name_w),
                clip(&l.op_type, op_w),
                l.parameters,
                l.macs,
                l.other_ops
            );
        }
        out
    }
}

/// `s` in at most `width` characters: `…` and its tail, where names
/// differ (`…encoder.0.reparam_conv.weight`).
fn clip(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_owned();
    }
    let mut out = String::from("…");
    out.extend(s.chars().skip(n - (width - 1)));
    out
}
