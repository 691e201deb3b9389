//! What a component is, from its type alone: which world it exports, which
//! version of our package it was built against, what it imports; and the
//! checks the host makes before instantiating it.

use serde::Serialize;
use wasmtime::component::Component;
use wasmtime::Engine;

/// The `lpdnn:processing` version this host speaks.
pub const WIT_VERSION: &str = "0.2.0";

const PACKAGE: &str = "lpdnn:processing";

/// The kinds of processor, by the interface a component exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Exports `image-preprocess` (world `image-preprocessor`).
    ImagePreprocessor,
    /// Exports `audio-preprocess` (world `audio-preprocessor`).
    AudioPreprocessor,
    /// Exports `signal-preprocess` (world `signal-preprocessor`).
    SignalPreprocessor,
    /// Exports `postprocess` (world `postprocessor`).
    Postprocessor,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 4] = [
        Kind::ImagePreprocessor,
        Kind::AudioPreprocessor,
        Kind::SignalPreprocessor,
        Kind::Postprocessor,
    ];

    /// The world's name in the WIT.
    pub fn world(self) -> &'static str {
        match self {
            Kind::ImagePreprocessor => "image-preprocessor",
            Kind::AudioPreprocessor => "audio-preprocessor",
            Kind::SignalPreprocessor => "signal-preprocessor",
            Kind::Postprocessor => "postprocessor",
        }
    }

    /// The interface the world exports.
    pub fn interface(self) -> &'static str {
        match self {
            Kind::ImagePreprocessor => "image-preprocess",
            Kind::AudioPreprocessor => "audio-preprocess",
            Kind::SignalPreprocessor => "signal-preprocess",
            Kind::Postprocessor => "postprocess",
        }
    }

    /// Whether it is a pre-processor.
    pub fn is_preprocessor(self) -> bool {
        self != Kind::Postprocessor
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.world())
    }
}

/// A component's imports and exports, by name.
#[derive(Debug, Clone, Serialize)]
pub struct Surface {
    /// Imported instance and function names (e.g. `wasi:io/streams@0.2.6`).
    pub imports: Vec<String>,
    /// Exported names (e.g. `lpdnn:processing/audio-preprocess@0.2.0`).
    pub exports: Vec<String>,
}

impl Surface {
    /// Reads them from a compiled component's type.
    pub fn of(engine: &Engine, component: &Component) -> Surface {
        let ty = component.component_type();
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        Surface {
            imports: sorted(ty.imports(engine).map(|(n, _)| n.to_owned()).collect()),
            exports: sorted(ty.exports(engine).map(|(n, _)| n.to_owned()).collect()),
        }
    }

    /// The processor kinds it exports (normally exactly one).
    pub fn kinds(&self) -> Vec<Kind> {
        Kind::ALL
            .into_iter()
            .filter(|k| {
                self.exports
                    .iter()
                    .any(|e| split(e).is_some_and(|(i, _)| i == k.interface()))
            })
            .collect()
    }

    /// The distinct `lpdnn:processing` versions it names.
    pub fn versions(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .imports
            .iter()
            .chain(&self.exports)
            .filter_map(|n| split(n).map(|(_, v)| v.to_owned()))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Imports the sandbox does not grant: anything outside WASI 0.2.
    pub fn foreign_imports(&self) -> Vec<String> {
        self.imports
            .iter()
            .filter(|n| !(n.starts_with("wasi:") && n.contains("@0.2.")) && split(n).is_none())
            .cloned()
            .collect()
    }
}

/// Splits `lpdnn:processing/<interface>@<version>` into its interface and
/// version (`""` when unversioned).
fn split(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix(PACKAGE)?.strip_prefix('/')?;
    Some(rest.split_once('@').unwrap_or((rest, "")))
}

/// Whether a component built against `theirs` runs on this host: semver,
/// where `0.y.*` versions are compatible only with the same `y`.
pub fn compatible(theirs: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split(['.', '-', '+']);
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parse(theirs), parse(WIT_VERSION)) {
        (Some((0, a)), Some((0, b))) => a == b,
        (Some((a, _)), Some((b, _))) => a == b && a != 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_kinds() {
        assert!(compatible("0.2.0") && compatible("0.2.7"));
        assert!(!compatible("0.1.0") && !compatible("1.0.0") && !compatible(""));
        let s = Surface {
            imports: vec!["wasi:io/streams@0.2.6".into(), "evil:net/send".into()],
            exports: vec!["lpdnn:processing/audio-preprocess@0.2.0".into()],
        };
        assert_eq!(s.kinds(), vec![Kind::AudioPreprocessor]);
        assert_eq!(s.versions(), vec!["0.2.0".to_owned()]);
        assert_eq!(s.foreign_imports(), vec!["evil:net/send".to_owned()]);
    }
}
