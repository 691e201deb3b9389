//! The engines this project knows, each with what other tools call it and
//! the native libraries it loads. A build has a subset (the registry's
//! features); the server and the package builder read these declarations
//! without linking any engine.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An inference engine, by our name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum EngineName {
    /// LNE, our native engine (on tract).
    Lne,
    /// ONNX Runtime (CPU, or CUDA when its GPU build is loaded).
    #[serde(rename = "onnxruntime")]
    OnnxRuntime,
    /// Tencent NCNN.
    Ncnn,
    /// Google LiteRT (TFLite).
    #[serde(rename = "litert")]
    LiteRt,
    /// NVIDIA TensorRT (ONNX Runtime's TensorRT execution provider).
    #[serde(rename = "tensorrt")]
    TensorRt,
    /// Arm Compute Library / Huawei Ascend (ONNX Runtime's ACL and CANN
    /// execution providers).
    Acl,
}

impl EngineName {
    /// Every engine, in the order listings show them.
    pub const ALL: [EngineName; 6] = [
        EngineName::Lne,
        EngineName::OnnxRuntime,
        EngineName::Ncnn,
        EngineName::LiteRt,
        EngineName::TensorRt,
        EngineName::Acl,
    ];

    /// Our name, as in app.json, on the command line and in the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            EngineName::Lne => "lne",
            EngineName::OnnxRuntime => "onnxruntime",
            EngineName::Ncnn => "ncnn",
            EngineName::LiteRt => "litert",
            EngineName::TensorRt => "tensorrt",
            EngineName::Acl => "acl",
        }
    }

    /// The seed's names for TensorFlow, which LNE runs (frozen graphs only).
    pub const TENSORFLOW_ALIASES: [&'static str; 2] = ["tf", "tensorflow"];

    /// Whether `name` is one of [`EngineName::TENSORFLOW_ALIASES`], in any case.
    pub fn is_tensorflow_alias(name: &str) -> bool {
        Self::TENSORFLOW_ALIASES
            .iter()
            .any(|a| a.eq_ignore_ascii_case(name))
    }

    /// What other tools and the seed's service call it (lower case).
    pub const fn aliases(self) -> &'static [&'static str] {
        match self {
            // The seed's `tf`: LNE runs TensorFlow frozen graphs.
            EngineName::Lne => &["lpdnn", "tract", "tf", "tensorflow"],
            EngineName::OnnxRuntime => &["ort", "onnx"],
            EngineName::Ncnn => &[],
            EngineName::LiteRt => &["tflite", "tfl"],
            EngineName::TensorRt => &["trt"],
            EngineName::Acl => &["ascend", "cann"],
        }
    }

    /// The native libraries the engine loads, relative to a deployment
    /// package's root; the first is the one it opens (the rest it needs
    /// beside it). Empty for an engine linked into the binary or riding on
    /// another's library.
    pub const fn library_files(self) -> &'static [&'static str] {
        match self {
            EngineName::OnnxRuntime => &[
                "lib/onnxruntime/libonnxruntime.so",
                "lib/onnxruntime/libonnxruntime_providers_shared.so",
            ],
            EngineName::LiteRt => &["lib/litert/libLiteRt.so"],
            EngineName::Ncnn => &["lib/ncnn/libncnn.so"],
            EngineName::Lne | EngineName::TensorRt | EngineName::Acl => &[],
        }
    }

    /// The engine `name` stands for: our name or one of its aliases, in
    /// any case.
    pub fn from_alias(name: &str) -> Option<EngineName> {
        let lower = name.to_ascii_lowercase();
        EngineName::ALL
            .into_iter()
            .find(|e| e.as_str() == lower || e.aliases().contains(&lower.as_str()))
    }
}

impl fmt::Display for EngineName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is none of our engines' (aliases are not taken here: see
/// [`EngineName::from_alias`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEngineName(pub String);

impl fmt::Display for UnknownEngineName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = EngineName::ALL.iter().map(|e| e.as_str()).collect();
        write!(
            f,
            "unknown engine '{}'; engines: {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownEngineName {}

impl std::str::FromStr for EngineName {
    type Err = UnknownEngineName;

    fn from_str(s: &str) -> Result<Self, UnknownEngineName> {
        EngineName::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| UnknownEngineName(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_aliases_resolve_to_one_engine_each() {
        for e in EngineName::ALL {
            assert_eq!(e.as_str().parse::<EngineName>(), Ok(e));
            assert_eq!(
                serde_json::to_string(&e).unwrap(),
                format!("\"{}\"", e.as_str())
            );
            for a in e.aliases() {
                assert_eq!(EngineName::from_alias(a), Some(e), "{a}");
                assert!(a.parse::<EngineName>().is_err(), "{a}");
            }
        }
        assert_eq!(EngineName::from_alias("ORT"), Some(EngineName::OnnxRuntime));
        assert_eq!(EngineName::from_alias("TF"), Some(EngineName::Lne));
        for a in EngineName::TENSORFLOW_ALIASES {
            assert!(EngineName::Lne.aliases().contains(&a));
        }
        assert_eq!(
            "onnxrt".parse::<EngineName>().unwrap_err().to_string(),
            "unknown engine 'onnxrt'; engines: lne, onnxruntime, ncnn, litert, tensorrt, acl"
        );
    }
}
