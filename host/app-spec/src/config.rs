//! The AI app file (`app.json`): what to run and with which parameters.
//! Paths inside it are relative to the file itself.

use std::path::{Path, PathBuf};

use lpdnn_types::{Device, ModelFormat};
use serde::Deserialize;

use crate::SpecError;

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
    /// Audio in, speech segments out.
    VoiceActivityDetection,
    /// Sensor signal in, anything out.
    SignalProcessing,
}

impl AppClass {
    /// Extensions (lower case) of the input files an app of this class takes.
    pub fn input_extensions(self) -> &'static [&'static str] {
        match self {
            AppClass::AudioClassification | AppClass::VoiceActivityDetection => {
                crate::AUDIO_EXTENSIONS
            }
            AppClass::SignalProcessing => crate::SIGNAL_EXTENSIONS,
            _ => crate::IMAGE_EXTENSIONS,
        }
    }
}

/// A model input fed, from the second chunk of a stream on, by a model
/// output of the previous chunk (e.g. a recurrent model's hidden state).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSpec {
    /// The model input.
    pub input: String,
    /// The model output that feeds it on the next chunk.
    pub output: String,
}

/// How the model runs over the chunks of one input.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    /// State carried from chunk to chunk; zeros before the first chunk of
    /// every input.
    #[serde(default)]
    pub state: Vec<StateSpec>,
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
    /// Engine name (`lne`, `onnxruntime`, `ncnn`, `litert`, `tensorrt`, `acl`).
    pub name: String,
    /// Worker threads; absent lets the engine decide.
    #[serde(default)]
    pub threads: Option<usize>,
    /// Device (`cpu`, `gpu`, `npu`); absent means the engine's default.
    #[serde(default)]
    pub device: Option<Device>,
    /// Engine-specific options; each engine refuses names it does not know.
    #[serde(default = "empty_object")]
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// One model file, with the pre-processor parameters this format needs on
/// top of the app's (e.g. `{"layout": "nhwc"}` for a TFLite model whose
/// input is NHWC where the ONNX one is NCHW). In app.json either a path or
/// `{"file": PATH, "preprocessor": {...}}`.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// The file (for NCNN the `.param`; the `.bin` sits beside it).
    pub file: PathBuf,
    /// Pre-processor parameters that override the app's for this format.
    pub preprocessor: serde_json::Map<String, serde_json::Value>,
}

impl<'de> Deserialize<'de> for ModelFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            file: PathBuf,
            #[serde(default = "empty_object")]
            preprocessor: serde_json::Map<String, serde_json::Value>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Path(PathBuf),
            Full(Full),
        }
        let value = serde_json::Value::deserialize(d)?;
        let is_object = value.is_object();
        match serde_json::from_value::<Either>(value) {
            Ok(Either::Path(file)) => Ok(ModelFile {
                file,
                preprocessor: empty_object(),
            }),
            Ok(Either::Full(f)) => Ok(ModelFile {
                file: f.file,
                preprocessor: f.preprocessor,
            }),
            Err(_) if is_object => Err(serde::de::Error::custom(
                "expected {\"file\": PATH, \"preprocessor\": {...}} (no other keys)",
            )),
            Err(_) => Err(serde::de::Error::custom(
                "expected a path or {\"file\": PATH, \"preprocessor\": {...}}",
            )),
        }
    }
}

/// The model, in one or more formats; each engine picks the one it loads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// ONNX file (lne, onnxruntime, tensorrt, acl).
    #[serde(default)]
    pub onnx: Option<ModelFile>,
    /// TFLite file (litert).
    #[serde(default)]
    pub tflite: Option<ModelFile>,
    /// TensorFlow frozen graph, `.pb` (lne).
    #[serde(default)]
    pub tf: Option<ModelFile>,
    /// NCNN `.param`, with its `.bin` beside it (ncnn).
    #[serde(default)]
    pub ncnn: Option<ModelFile>,
}

impl ModelSpec {
    /// The formats present, with their files, in app.json order.
    pub fn available(&self) -> Vec<(ModelFormat, &ModelFile)> {
        [
            (ModelFormat::Onnx, &self.onnx),
            (ModelFormat::TfLite, &self.tflite),
            (ModelFormat::TfGraph, &self.tf),
            (ModelFormat::NcnnParam, &self.ncnn),
        ]
        .into_iter()
        .filter_map(|(format, f)| f.as_ref().map(|f| (format, f)))
        .collect()
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
    /// Streaming: state carried between the chunks of one input.
    #[serde(default)]
    pub stream: StreamSpec,
    /// The app file itself (set on load).
    #[serde(skip)]
    pub file: PathBuf,
}

/// Parses app.json bytes in two steps, so that each mistake gets its own
/// words: the JSON itself (syntax, trailing text, not an object), then the
/// fields (type, value or missing, named by their path). A UTF-8
/// byte-order mark, which some editors write, is skipped.
fn parse(path: &Path, bytes: &[u8]) -> Result<App, SpecError> {
    let parse_error = |message: String| SpecError::Parse {
        path: path.to_owned(),
        message,
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(parse_error(format!(
            "not UTF-8 text (byte {})",
            e.valid_up_to()
        )));
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| parse_error(e.to_string()))?;
    let kind = match &value {
        serde_json::Value::Object(_) => None,
        serde_json::Value::Array(_) => Some("an array"),
        serde_json::Value::String(_) => Some("a string"),
        serde_json::Value::Number(_) => Some("a number"),
        serde_json::Value::Bool(_) => Some("a boolean"),
        serde_json::Value::Null => Some("null"),
    };
    if let Some(kind) = kind {
        return Err(parse_error(format!(
            "an app is a JSON object {{\"name\": ..., \"class\": ..., ...}}, this is {kind}"
        )));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let at = e.path().to_string();
        let message = e.into_inner().to_string();
        // "missing field `model`" at "engine" names `engine.model`.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next());
        let field = match (missing, at.as_str()) {
            (Some(m), ".") => m.to_owned(),
            (Some(m), parent) => format!("{parent}.{m}"),
            (None, _) => at,
        };
        SpecError::Field {
            path: path.to_owned(),
            field,
            message: if missing.is_some() {
                "required, but missing".to_owned()
            } else {
                message
            },
        }
    })
}

/// The key of `model` in app.json for a format (`onnx`, `tflite`, `tf`,
/// `ncnn`); `model` for a format app.json has no field for.
pub fn model_key(format: ModelFormat) -> &'static str {
    match format {
        ModelFormat::Onnx => "onnx",
        ModelFormat::TfLite => "tflite",
        ModelFormat::TfGraph => "tf",
        ModelFormat::NcnnParam => "ncnn",
        _ => "model",
    }
}

impl App {
    /// Reads, parses and checks an app file. Errors name the file and the
    /// field; referenced files must exist.
    /// A folder stands for its `app.json`; a model file is refused with
    /// what it is.
    pub fn load(path: &Path) -> Result<App, SpecError> {
        let read = |path: &Path| {
            lpdnn_model_file::read_file(path).map_err(|e| SpecError::Read {
                path: path.to_owned(),
                source: e.into(),
            })
        };
        let folder;
        let path = if path.is_dir() {
            folder = path.join("app.json");
            if !folder.is_file() {
                return Err(SpecError::NoAppFile {
                    path: path.to_owned(),
                    hint: lpdnn_model_file::tensorflow_hint(path),
                });
            }
            folder.as_path()
        } else {
            path
        };
        let bytes = read(path)?;
        let format = lpdnn_model_file::sniff(&bytes);
        if format != ModelFormat::Unknown {
            return Err(SpecError::ModelAsApp {
                path: path.to_owned(),
                format,
            });
        }
        if let Some(kind) = lpdnn_model_file::tensorflow_kind(&bytes) {
            return Err(SpecError::TensorFlowFile {
                path: path.to_owned(),
                hint: format!("{kind}, not an app; {}", lpdnn_model_file::FREEZE),
            });
        }
        let mut app = parse(path, &bytes)?;
        app.file = path.to_owned();
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |field: &str, p: &mut PathBuf| -> Result<(), SpecError> {
            *p = normalize(&base.join(&*p));
            if p.is_file() {
                Ok(())
            } else {
                Err(SpecError::MissingFile {
                    path: path.to_owned(),
                    field: field.to_owned(),
                    file: p.clone(),
                })
            }
        };
        resolve("preprocessor.component", &mut app.preprocessor.component)?;
        resolve("postprocessor.component", &mut app.postprocessor.component)?;
        // Model files are checked when an engine picks one (`model_file`):
        // an app may list formats whose files are not made yet, and still
        // run on an engine whose file is there.
        for f in [
            &mut app.model.onnx,
            &mut app.model.tflite,
            &mut app.model.tf,
            &mut app.model.ncnn,
        ]
        .into_iter()
        .flatten()
        {
            f.file = normalize(&base.join(&f.file));
        }
        if app.model.available().is_empty() {
            return Err(SpecError::Field {
                path: path.to_owned(),
                field: "model".into(),
                message: "names no model file (give onnx, tflite, tf and/or ncnn)".into(),
            });
        }
        if let Some(p) = &mut app.labels {
            resolve("labels", p)?;
        }
        if let Some(Err(message)) = app.engine.threads.map(lpdnn_model_file::check_threads) {
            return Err(SpecError::Field {
                path: path.to_owned(),
                field: "engine.threads".into(),
                message,
            });
        }
        Ok(app)
    }

    /// The model file of `format`, checked to exist (and, for NCNN, its
    /// weights beside it); errors name the app field.
    pub fn model_file(&self, format: ModelFormat) -> Result<&ModelFile, SpecError> {
        let key = model_key(format);
        let (key, file) = match format {
            ModelFormat::Onnx => (key, &self.model.onnx),
            ModelFormat::TfLite => (key, &self.model.tflite),
            ModelFormat::TfGraph => (key, &self.model.tf),
            ModelFormat::NcnnParam => (key, &self.model.ncnn),
            other => {
                return Err(SpecError::Field {
                    path: self.file.clone(),
                    field: "model".into(),
                    message: format!("app.json has no field for {other} models"),
                })
            }
        };
        let field = format!("model.{key}");
        let Some(f) = file else {
            return Err(SpecError::Field {
                path: self.file.clone(),
                field,
                message: "is not given".into(),
            });
        };
        if !f.file.is_file() {
            return Err(SpecError::MissingFile {
                path: self.file.clone(),
                field,
                file: f.file.clone(),
            });
        }
        if format == ModelFormat::NcnnParam {
            let bin = lpdnn_model_file::ncnn_bin_path(&f.file);
            if !bin.is_file() {
                return Err(SpecError::Field {
                    path: self.file.clone(),
                    field,
                    message: format!(
                        "NCNN param {} has no weights beside it ({} does not exist)",
                        f.file.display(),
                        bin.display()
                    ),
                });
            }
        }
        Ok(f)
    }

    /// The app's labels (empty when it has none).
    pub fn read_labels(&self) -> Result<Vec<String>, SpecError> {
        let Some(p) = &self.labels else {
            return Ok(Vec::new());
        };
        let bytes = lpdnn_model_file::read_file(p).map_err(|e| SpecError::Read {
            path: p.clone(),
            source: e.into(),
        })?;
        let text = String::from_utf8_lossy(&bytes);
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
