//! Conversions between the WIT types and the host's own types.

use std::path::Path;

use lpdnn_engine_api::{DType, Tensor};
use serde::Serialize;

use crate::bindings::{self, post::exports::lpdnn::processing::postprocess as wit_post};
use crate::{ProcessorErrorKind, RuntimeError};

/// What a pre-processor learned about an input, passed back unchanged to the
/// post-processor of the same input.
#[derive(Debug, Clone, Copy)]
pub struct InputMeta(bindings::InputMeta);

impl InputMeta {
    /// No facts (e.g. for running a post-processor alone).
    pub fn none() -> Self {
        InputMeta(bindings::InputMeta::None)
    }

    pub(crate) fn as_wit(&self) -> bindings::InputMeta {
        self.0
    }
}

/// The JSON form of [`InputMeta`]: `"none"`, `{"image": {...}}`,
/// `{"audio": {...}}` or `{"signal": {...}}`, fields as in the WIT records
/// (`snake_case`). `run --dump-outputs` writes it; `component run --meta`
/// reads it back.
mod meta_json {
    use serde::{Deserialize, Serialize};

    use crate::bindings::lpdnn::processing::types as wit;

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case", deny_unknown_fields)]
    pub enum Meta {
        None,
        Image(Image),
        Audio(Audio),
        Signal(Signal),
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Image {
        width: u32,
        height: u32,
        tensor_width: u32,
        tensor_height: u32,
        scale_x: f32,
        scale_y: f32,
        offset_x: f32,
        offset_y: f32,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Audio {
        sample_rate: u32,
        source_rate: u32,
        samples: u64,
        channels: u32,
        hop: u32,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Signal {
        sample_rate: f32,
        samples: u64,
        channels: u32,
        hop: u32,
    }

    impl From<wit::InputMeta> for Meta {
        fn from(m: wit::InputMeta) -> Self {
            match m {
                wit::InputMeta::None => Meta::None,
                wit::InputMeta::Image(g) => Meta::Image(Image {
                    width: g.width,
                    height: g.height,
                    tensor_width: g.tensor_width,
                    tensor_height: g.tensor_height,
                    scale_x: g.scale_x,
                    scale_y: g.scale_y,
                    offset_x: g.offset_x,
                    offset_y: g.offset_y,
                }),
                wit::InputMeta::Audio(a) => Meta::Audio(Audio {
                    sample_rate: a.sample_rate,
                    source_rate: a.source_rate,
                    samples: a.samples,
                    channels: a.channels,
                    hop: a.hop,
                }),
                wit::InputMeta::Signal(s) => Meta::Signal(Signal {
                    sample_rate: s.sample_rate,
                    samples: s.samples,
                    channels: s.channels,
                    hop: s.hop,
                }),
            }
        }
    }

    impl From<Meta> for wit::InputMeta {
        fn from(m: Meta) -> Self {
            match m {
                Meta::None => wit::InputMeta::None,
                Meta::Image(g) => wit::InputMeta::Image(wit::ImageGeometry {
                    width: g.width,
                    height: g.height,
                    tensor_width: g.tensor_width,
                    tensor_height: g.tensor_height,
                    scale_x: g.scale_x,
                    scale_y: g.scale_y,
                    offset_x: g.offset_x,
                    offset_y: g.offset_y,
                }),
                Meta::Audio(a) => wit::InputMeta::Audio(wit::AudioMeta {
                    sample_rate: a.sample_rate,
                    source_rate: a.source_rate,
                    samples: a.samples,
                    channels: a.channels,
                    hop: a.hop,
                }),
                Meta::Signal(s) => wit::InputMeta::Signal(wit::SignalMeta {
                    sample_rate: s.sample_rate,
                    samples: s.samples,
                    channels: s.channels,
                    hop: s.hop,
                }),
            }
        }
    }
}

impl Serialize for InputMeta {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        meta_json::Meta::from(self.0).serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for InputMeta {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        meta_json::Meta::deserialize(d).map(|m| InputMeta(m.into()))
    }
}

/// The output of a pre-processor for one input.
#[derive(Debug, Clone)]
pub struct Preprocessed {
    /// Model input tensors of each chunk, in order (one chunk for an image).
    pub chunks: Vec<Vec<Tensor>>,
    /// Facts for the post-processor.
    pub meta: InputMeta,
}

/// A stretch of a stream where something was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// Start, seconds.
    pub start_s: f32,
    /// End, seconds.
    pub end_s: f32,
    /// Confidence.
    pub score: f32,
    /// Label, when the app has labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A named output tensor of a prediction, as numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Values {
    /// Name.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Elements (f32 tensors only; others are refused by the host).
    pub data: Vec<f32>,
}

/// One class of a classification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScore {
    /// Class id.
    pub id: u32,
    /// Label, when the app has labels.
    pub label: Option<String>,
    /// Score.
    pub score: f32,
}

/// One detected object, in original-image pixels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    /// `[x0, y0, x1, y1]`.
    #[serde(rename = "box")]
    pub bounds: [f32; 4],
    /// Confidence.
    pub score: f32,
    /// Class id.
    pub class: u32,
    /// Label, when the app has labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Landmarks as `[x, y]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keypoints: Vec<[f32; 2]>,
}

/// The structured result for one input.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Prediction {
    /// Classes, best first.
    Classes(Vec<ClassScore>),
    /// Detections, best first.
    Detections(Vec<Detection>),
    /// Segments of a stream, in time order.
    Segments(Vec<Segment>),
    /// Numbers.
    Tensors(Vec<Values>),
}

pub(crate) fn processor_error(path: &Path, e: bindings::ProcessorError) -> RuntimeError {
    use bindings::ProcessorError as E;
    let (kind, message) = match e {
        E::InvalidParams(m) => (ProcessorErrorKind::InvalidParams, m),
        E::InvalidInput(m) => (ProcessorErrorKind::InvalidInput, m),
        E::InvalidTensor(m) => (ProcessorErrorKind::InvalidTensor, m),
        E::Internal(m) => (ProcessorErrorKind::Internal, m),
    };
    RuntimeError::Processor {
        path: path.to_owned(),
        kind,
        message,
    }
}

fn dtype(d: bindings::Dtype) -> DType {
    use bindings::Dtype as W;
    match d {
        W::F32 => DType::F32,
        W::F16 => DType::F16,
        W::U8 => DType::U8,
        W::I8 => DType::I8,
        W::I32 => DType::I32,
        W::I64 => DType::I64,
    }
}

fn wit_dtype(d: DType) -> bindings::Dtype {
    use bindings::Dtype as W;
    match d {
        DType::F32 => W::F32,
        DType::F16 => W::F16,
        DType::U8 => W::U8,
        DType::I8 => W::I8,
        DType::I32 => W::I32,
        DType::I64 => W::I64,
    }
}

/// Converts an engine tensor for a guest.
pub(crate) fn to_wit(t: &Tensor) -> bindings::Tensor {
    bindings::Tensor {
        name: t.name().to_owned(),
        shape: t
            .shape()
            .iter()
            .map(|&d| u32::try_from(d).unwrap_or(u32::MAX))
            .collect(),
        dtype: wit_dtype(t.dtype()),
        data: t.data().to_vec(),
    }
}

/// Checks and converts a pre-processor's result: every tensor's data must
/// match its shape.
pub(crate) fn preprocessed(
    path: &Path,
    p: bindings::Preprocessed,
) -> Result<Preprocessed, RuntimeError> {
    let invalid = |message: String| RuntimeError::InvalidOutput {
        path: path.to_owned(),
        message,
    };
    if p.chunks.is_empty() {
        return Err(invalid("no chunks".into()));
    }
    let chunks = p
        .chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            if chunk.is_empty() {
                return Err(invalid(format!("chunk {i} holds no tensor")));
            }
            chunk
                .into_iter()
                .map(|t| from_wit(t).map_err(|m| invalid(format!("chunk {i}: {m}"))))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<_, _>>()?;
    Ok(Preprocessed {
        chunks,
        meta: InputMeta(p.meta),
    })
}

/// Converts a guest tensor, checking its data against its shape.
fn from_wit(t: bindings::Tensor) -> Result<Tensor, String> {
    let shape = t.shape.iter().map(|&d| d as usize).collect();
    Tensor::new(t.name, dtype(t.dtype), shape, t.data).map_err(|e| e.to_string())
}

/// Refuses figures no consumer can use: NaN or infinite scores, boxes and
/// times; segment scores (probabilities) outside 0..=1; segments that end
/// before they start. Class and detection scores may be raw logits.
fn check_prediction(p: &bindings::Prediction) -> Result<(), String> {
    let score = |what: &str, i: usize, s: f32| {
        if s.is_finite() {
            Ok(())
        } else {
            Err(format!("{what} {i} has score {s}"))
        }
    };
    match p {
        wit_post::Prediction::Classes(c) => {
            for (i, c) in c.iter().enumerate() {
                score("class", i, c.score)?;
            }
        }
        wit_post::Prediction::Detections(d) => {
            for (i, d) in d.iter().enumerate() {
                score("detection", i, d.score)?;
                let b = &d.bounds;
                let all = [b.x0, b.y0, b.x1, b.y1]
                    .into_iter()
                    .chain(d.keypoints.iter().flat_map(|p| [p.x, p.y]));
                if let Some(v) = all.into_iter().find(|v| !v.is_finite()) {
                    return Err(format!("detection {i} has a coordinate {v}"));
                }
            }
        }
        wit_post::Prediction::Segments(s) => {
            for (i, s) in s.iter().enumerate() {
                if !(0.0..=1.0).contains(&s.score) {
                    return Err(format!(
                        "segment {i} has score {}; segment scores lie in 0..=1",
                        s.score
                    ));
                }
                if !(s.start_s.is_finite() && s.end_s.is_finite() && s.start_s <= s.end_s) {
                    return Err(format!(
                        "segment {i} runs from {} s to {} s",
                        s.start_s, s.end_s
                    ));
                }
            }
        }
        wit_post::Prediction::Tensors(_) => {}
    }
    Ok(())
}

pub(crate) fn prediction(path: &Path, p: bindings::Prediction) -> Result<Prediction, RuntimeError> {
    check_prediction(&p).map_err(|message| RuntimeError::InvalidOutput {
        path: path.to_owned(),
        message,
    })?;
    Ok(match p {
        wit_post::Prediction::Classes(c) => Prediction::Classes(
            c.into_iter()
                .map(|c| ClassScore {
                    id: c.id,
                    label: c.label,
                    score: c.score,
                })
                .collect(),
        ),
        wit_post::Prediction::Detections(d) => Prediction::Detections(
            d.into_iter()
                .map(|d| Detection {
                    bounds: [d.bounds.x0, d.bounds.y0, d.bounds.x1, d.bounds.y1],
                    score: d.score,
                    class: d.class_id,
                    label: d.label,
                    keypoints: d.keypoints.iter().map(|p| [p.x, p.y]).collect(),
                })
                .collect(),
        ),
        wit_post::Prediction::Segments(s) => Prediction::Segments(
            s.into_iter()
                .map(|s| Segment {
                    start_s: s.start_s,
                    end_s: s.end_s,
                    score: s.score,
                    label: s.label,
                })
                .collect(),
        ),
        wit_post::Prediction::Tensors(t) => Prediction::Tensors(
            t.into_iter()
                .map(|t| {
                    let t = from_wit(t).and_then(|t| {
                        let data = t.to_f32().ok_or_else(|| {
                            format!("tensor '{}' is {}, not f32", t.name(), t.dtype())
                        })?;
                        let (name, _, shape, _) = t.into_parts();
                        Ok(Values { name, shape, data })
                    });
                    t.map_err(|message| RuntimeError::InvalidOutput {
                        path: path.to_owned(),
                        message,
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(start_s: f32, end_s: f32, score: f32) -> bindings::Prediction {
        wit_post::Prediction::Segments(vec![wit_post::Segment {
            start_s,
            end_s,
            score,
            label: None,
        }])
    }

    #[test]
    fn figures_no_one_can_use_are_invalid_output() {
        let path = Path::new("post.wasm");
        for (bad, why) in [
            (segment(0.0, 1.0, 1.5), "lie in 0..=1"),
            (segment(0.0, 1.0, f32::NAN), "lie in 0..=1"),
            (segment(2.0, 1.0, 0.5), "runs from 2 s to 1 s"),
            (
                wit_post::Prediction::Classes(vec![wit_post::ClassScore {
                    id: 0,
                    label: None,
                    score: f32::INFINITY,
                }]),
                "score inf",
            ),
        ] {
            let err = prediction(path, bad).unwrap_err().to_string();
            assert!(
                err.contains("post.wasm returned invalid output") && err.contains(why),
                "{err}"
            );
        }
        assert!(prediction(path, segment(0.0, 1.0, 0.9)).is_ok());
    }
}
