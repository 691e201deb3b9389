//! The AI app file (`app.json`): what to run and with which parameters.
//! Paths inside it are relative to the file itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::AppError;

/// The kind of AI app (the seed's AI classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppClass {
    /// Image in, classes out.
    ImageClassification,
    /// Image in, boxes of several classes out.
    ObjectDetection,
    /// Image in, face boxes and landmarks out.
    FaceDetection,
    /// Image in, face embedding or identity out.
    FaceRecognition,
    /// Audio in, classes out.
    AudioClassification,
    /// Sensor signal in, anything out.
    SignalProcessing,
}

/// A processor component and its parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessorSpec {
    /// Path of the `.wasm` component.
    pub component: PathBuf,
    /// Parameters handed to the component's `configure` (a JSON object).
    #[serde(default = "empty_object")]
    pub params: serde_json::Map<String, serde_json::Value>,
}

fn empty_object() -> serde_json::Map<String, serde_json::Value> {
    serde_json::Map::new()
}

/// Which engine runs the model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSpec {
    /// Engine name (`lne`, ...).
    pub name: String,
    /// Worker threads; absent lets the engine decide.
    #[serde(default)]
    pub threads: Option<usize>,
}

/// The model, in one or more formats; each engine picks the one it loads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// ONNX file.
    #[serde(default)]
    pub onnx: Option<PathBuf>,
    /// TFLite file.
    #[serde(default)]
    pub tflite: Option<PathBuf>,
}

impl ModelSpec {
    /// The formats present, with their paths.
    pub fn available(&self) -> BTreeMap<&'static str, &Path> {
        let mut m = BTreeMap::new();
        if let Some(p) = &self.onnx {
            m.insert("onnx", p.as_path());
        }
        if let Some(p) = &self.tflite {
            m.insert("tflite", p.as_path());
        }
        m
    }
}

/// A parsed app file, with every path resolved against its folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// App name.
    pub name: String,
    /// App class.
    pub class: AppClass,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Pre-processor component.
    pub preprocessor: ProcessorSpec,
    /// Engine.
    pub engine: EngineSpec,
    /// Model files.
    pub model: ModelSpec,
    /// Post-processor component.
    pub postprocessor: ProcessorSpec,
    /// Label file: one label per line, in class-id order.
    #[serde(default)]
    pub labels: Option<PathBuf>,
    /// The app file itself (set on load).
    #[serde(skip)]
    pub file: PathBuf,
}

impl App {
    /// Reads, parses and checks an app file. Errors name the file and the
    /// field; referenced files must exist.
    pub fn load(path: &Path) -> Result<App, AppError> {
        let text = std::fs::read_to_string(path).map_err(|source| AppError::Read {
            path: path.to_owned(),
            source,
        })?;
        let de = &mut serde_json::Deserializer::from_str(&text);
        let mut app: App = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() || field == "." {
                AppError::Parse {
                    path: path.to_owned(),
                    message: inner.to_string(),
                }
            } else {
                AppError::Field {
                    path: path.to_owned(),
                    field,
                    message: inner.to_string(),
                }
            }
        })?;
        app.file = path.to_owned();
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |field: &str, p: &mut PathBuf| -> Result<(), AppError> {
            *p = normalize(&base.join(&*p));
            if p.is_file() {
                Ok(())
            } else {
                Err(AppError::MissingFile {
                    path: path.to_owned(),
                    field: field.to_owned(),
                    file: p.clone(),
                })
            }
        };
        resolve("preprocessor.component", &mut app.preprocessor.component)?;
        resolve("postprocessor.component", &mut app.postprocessor.component)?;
        if let Some(p) = &mut app.model.onnx {
            resolve("model.onnx", p)?;
        }
        if let Some(p) = &mut app.model.tflite {
            resolve("model.tflite", p)?;
        }
        if app.model.available().is_empty() {
            return Err(AppError::Field {
                path: path.to_owned(),
                field: "model".into(),
                message: "names no model file (give onnx and/or tflite)".into(),
            });
        }
        if let Some(p) = &mut app.labels {
            resolve("labels", p)?;
        }
        if app.engine.threads == Some(0) {
            return Err(AppError::Field {
                path: path.to_owned(),
                field: "engine.threads".into(),
                message: "must be at least 1".into(),
            });
        }
        Ok(app)
    }

    /// The app's labels (empty when it has none).
    pub fn read_labels(&self) -> Result<Vec<String>, AppError> {
        let Some(p) = &self.labels else {
            return Ok(Vec::new());
        };
        let text = std::fs::read_to_string(p).map_err(|source| AppError::Read {
            path: p.clone(),
            source,
        })?;
        Ok(text.lines().map(|l| l.trim().to_owned()).collect())
    }
}

/// Removes `.` and resolvable `..` components without touching the disk, so
/// messages show `assets/x.onnx` rather than `examples/app/../../assets/x.onnx`.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize;
    use std::path::Path;

    #[test]
    fn normalize_drops_dot_and_resolvable_dot_dot() {
        assert_eq!(
            normalize(Path::new("examples/app/../../assets/m.onnx")),
            Path::new("assets/m.onnx")
        );
        assert_eq!(normalize(Path::new("./a/./b")), Path::new("a/b"));
        assert_eq!(normalize(Path::new("../x/../y")), Path::new("../y"));
        assert_eq!(normalize(Path::new("/a/../b")), Path::new("/b"));
        assert_eq!(normalize(Path::new("a/..")), Path::new("."));
    }
}
