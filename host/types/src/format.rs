//! Model file formats, as recognised from a file's content (the sniffing
//! itself is `lpdnn_engine_api::sniff`: it reads the bytes).

use std::fmt;

/// A model file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModelFormat {
    /// ONNX protobuf (`ModelProto`).
    Onnx,
    /// TensorFlow Lite flatbuffer (identifier `TFL3`).
    TfLite,
    /// TensorFlow frozen graph: a `GraphDef` protobuf whose variables are
    /// constants (`.pb`).
    TfGraph,
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
            ModelFormat::TfGraph => "TensorFlow",
            ModelFormat::NcnnParam => "NCNN",
            ModelFormat::TensorRtPlan => "TensorRT plan",
            ModelFormat::AscendOm => "Ascend OM",
            ModelFormat::Unknown => "not a recognised model (unknown or damaged)",
        })
    }
}

impl ModelFormat {
    /// Every format a model can be recognised as (not [`ModelFormat::Unknown`]).
    pub const KNOWN: [ModelFormat; 6] = [
        ModelFormat::Onnx,
        ModelFormat::TfLite,
        ModelFormat::TfGraph,
        ModelFormat::NcnnParam,
        ModelFormat::TensorRtPlan,
        ModelFormat::AscendOm,
    ];

    /// The format's short lower-case key, as static metrics record it
    /// (`onnx`, `tflite`, `tf`, `ncnn`, `tensorrt`, `om`; `unknown`).
    pub fn key(self) -> &'static str {
        match self {
            ModelFormat::Onnx => "onnx",
            ModelFormat::TfLite => "tflite",
            ModelFormat::TfGraph => "tf",
            ModelFormat::NcnnParam => "ncnn",
            ModelFormat::TensorRtPlan => "tensorrt",
            ModelFormat::AscendOm => "om",
            ModelFormat::Unknown => "unknown",
        }
    }

    /// The format whose [`ModelFormat::key`] is `key`.
    pub fn from_key(key: &str) -> Option<ModelFormat> {
        ModelFormat::KNOWN.into_iter().find(|f| f.key() == key)
    }
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

/// As its name (`ONNX`, `TFLite`, ...).
impl serde::Serialize for ModelFormat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// From its name (`ONNX`, `TFLite`, ...).
impl<'de> serde::Deserialize<'de> for ModelFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "schema")]
impl utoipa::PartialSchema for ModelFormat {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(ModelFormat::KNOWN.iter().map(|f| f.to_string())))
            .description(Some("A model file format, as recognised from its bytes"))
            .into()
    }
}

#[cfg(feature = "schema")]
impl utoipa::ToSchema for ModelFormat {}

/// Serde for a [`ModelFormat`] field written as its key (`onnx`, `tflite`,
/// `ncnn`, ...): `#[serde(with = "lpdnn_types::format_key")]`.
pub mod format_key {
    use super::ModelFormat;

    /// Writes the format's key.
    pub fn serialize<S: serde::Serializer>(f: &ModelFormat, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(f.key())
    }

    /// Reads a format's key.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ModelFormat, D::Error> {
        let key = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        ModelFormat::from_key(&key).ok_or_else(|| {
            let keys: Vec<&str> = ModelFormat::KNOWN.iter().map(|f| f.key()).collect();
            serde::de::Error::custom(format!(
                "'{key}' is not a model format; formats: {}",
                keys.join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formats_name_and_key_read_back_as_the_format() {
        for f in ModelFormat::KNOWN {
            assert_eq!(f.to_string().parse::<ModelFormat>(), Ok(f));
            assert_eq!(ModelFormat::from_key(f.key()), Some(f));
        }
        let err = "onnx".parse::<ModelFormat>().unwrap_err();
        assert!(
            err.contains("'onnx' is not a model format; formats: ONNX, TFLite"),
            "{err}"
        );
    }
}
