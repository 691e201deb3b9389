//! The engines this build has: one table of name → constructor.
//!
//! Each engine is a cargo feature of this crate (`lne`, `onnxruntime`,
//! `ncnn`, `litert`; ONNX Runtime also provides `tensorrt` and `acl`, its
//! execution providers). Engines with native libraries load them at run
//! time, so a built engine may still be unavailable on a machine:
//! [`Engine::info`] says which can run here.

#![warn(missing_docs)]

use lpdnn_engine_api::Engine;
pub use lpdnn_types::EngineName;

/// One engine of this build.
#[derive(Clone, Copy)]
pub struct Registered {
    /// Its name, as written in app.json and on the command line.
    pub name: &'static str,
    /// Makes the engine (cheap: nothing is loaded until a model is).
    pub make: fn() -> Box<dyn Engine>,
}

/// Every engine of this build, in the order `engines` lists them.
pub const REGISTRY: &[Registered] = &[
    #[cfg(feature = "lne")]
    Registered {
        name: EngineName::Lne.as_str(),
        make: || Box::new(lpdnn_lne::Lne),
    },
    #[cfg(feature = "onnxruntime")]
    Registered {
        name: EngineName::OnnxRuntime.as_str(),
        make: || Box::new(lpdnn_onnxruntime::OnnxRuntime::cpu_or_cuda()),
    },
    #[cfg(feature = "ncnn")]
    Registered {
        name: EngineName::Ncnn.as_str(),
        make: || Box::new(lpdnn_ncnn::Ncnn),
    },
    #[cfg(feature = "litert")]
    Registered {
        name: EngineName::LiteRt.as_str(),
        make: || Box::new(lpdnn_litert::LiteRt),
    },
    #[cfg(feature = "onnxruntime")]
    Registered {
        name: EngineName::TensorRt.as_str(),
        make: || Box::new(lpdnn_onnxruntime::OnnxRuntime::tensorrt()),
    },
    #[cfg(feature = "onnxruntime")]
    Registered {
        name: EngineName::Acl.as_str(),
        make: || Box::new(lpdnn_onnxruntime::OnnxRuntime::acl()),
    },
];

/// The names of this build's engines.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|r| r.name).collect()
}

/// An engine name this build does not know.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "unknown engine '{name}'{}; this build has: {}",
    .suggestion.map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default(),
    names().join(", ")
)]
pub struct UnknownEngine {
    /// The name given.
    pub name: String,
    /// The closest known name, when close.
    pub suggestion: Option<&'static str>,
}

/// Makes the engine of that name.
pub fn engine(name: &str) -> Result<Box<dyn Engine>, UnknownEngine> {
    REGISTRY
        .iter()
        .find(|r| r.name == name)
        .map(|r| (r.make)())
        .ok_or_else(|| UnknownEngine {
            name: name.to_owned(),
            suggestion: closest(name, &names()),
        })
}

/// The known name closest to `name`, if it is close enough to be a typo,
/// or what another tool calls it (`ort`, `tflite`, `trt`, the seed's
/// `onnx` and `lpdnn`).
pub fn closest(name: &str, known: &[&'static str]) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if let Some(k) =
        EngineName::from_alias(&lower).and_then(|e| known.iter().find(|n| **n == e.as_str()))
    {
        return Some(k);
    }
    let name = lower.as_str();
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(name, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(1) || k.starts_with(name) && name.len() >= 2)
        .min()
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_makes_its_engine_and_typos_get_a_suggestion() {
        for r in REGISTRY {
            assert_eq!(engine(r.name).unwrap().name(), r.name);
        }
        let err = engine("onnxrutime").err().unwrap();
        assert_eq!(err.suggestion, Some("onnxruntime"));
        assert!(
            err.to_string().contains("this build has: lne, onnxruntime"),
            "{err}"
        );
        assert_eq!(engine("tflite").err().unwrap().suggestion, Some("litert"));
        assert_eq!(engine("zzzz").err().unwrap().suggestion, None);
    }
}
