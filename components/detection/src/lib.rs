//! The detection post-processor component: anchor-based box decoding (SSD /
//! BlazeFace anchors, RetinaFace priors), score activation, non-maximum
//! suppression, and boxes and keypoints mapped back to original-image pixels.
//!
//! The decoding follows MediaPipe's `SsdAnchorsCalculator` and
//! `TensorsToDetectionsCalculator` for SSD-style models, and the RetinaFace
//! reference (`PriorBox` + `decode`/`decode_landm`) for priors.

#![warn(missing_docs)]

use serde::Deserialize;

/// How anchors are generated, in tensor-normalized coordinates.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum AnchorSpec {
    /// MediaPipe SSD anchors (BlazeFace and friends).
    Ssd {
        /// Number of feature layers.
        num_layers: usize,
        /// Stride of each layer.
        strides: Vec<u32>,
        /// Smallest anchor scale.
        min_scale: f32,
        /// Largest anchor scale.
        max_scale: f32,
        /// Model input width.
        input_width: u32,
        /// Model input height.
        input_height: u32,
        /// Anchor centre offset within a cell (default 0.5).
        #[serde(default = "half")]
        anchor_offset_x: f32,
        /// Anchor centre offset within a cell (default 0.5).
        #[serde(default = "half")]
        anchor_offset_y: f32,
        /// Aspect ratios per location (default `[1.0]`).
        #[serde(default = "one_ratio")]
        aspect_ratios: Vec<f32>,
        /// Adds an anchor of this ratio at an interpolated scale (0 = none).
        #[serde(default)]
        interpolated_scale_aspect_ratio: f32,
        /// Every anchor is 1 x 1 (BlazeFace).
        #[serde(default)]
        fixed_anchor_size: bool,
        /// Use 3 fixed boxes in the lowest layer.
        #[serde(default)]
        reduce_boxes_in_lowest_layer: bool,
    },
    /// RetinaFace priors.
    Retinaface {
        /// Prior sizes in pixels per feature level, e.g. `[[16,32],[64,128],[256,512]]`.
        min_sizes: Vec<Vec<f32>>,
        /// Stride of each feature level, e.g. `[8,16,32]`.
        steps: Vec<u32>,
        /// Model input width.
        input_width: u32,
        /// Model input height.
        input_height: u32,
        /// Clip priors to [0, 1].
        #[serde(default)]
        clip: bool,
    },
}

fn half() -> f32 {
    0.5
}
fn one_ratio() -> Vec<f32> {
    vec![1.0]
}

/// One anchor: centre and size, normalized to the model input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    /// Centre x.
    pub x: f32,
    /// Centre y.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

impl AnchorSpec {
    /// The documented ranges of the anchor parameters.
    fn check(&self) -> Result<(), String> {
        let size = |name: &str, v: u32| {
            if (1..=16384).contains(&v) {
                Ok(())
            } else {
                Err(format!("anchors.{name} must lie in 1..=16384, got {v}"))
            }
        };
        match self {
            AnchorSpec::Ssd {
                num_layers,
                strides,
                min_scale,
                max_scale,
                input_width,
                input_height,
                anchor_offset_x,
                anchor_offset_y,
                aspect_ratios,
                interpolated_scale_aspect_ratio,
                ..
            } => {
                size("input_width", *input_width)?;
                size("input_height", *input_height)?;
                if *num_layers == 0 || *num_layers != strides.len() {
                    return Err(format!(
                        "anchors.num_layers ({num_layers}) must be positive and equal the number of strides ({})",
                        strides.len()
                    ));
                }
                if strides.iter().any(|&s| s == 0 || s > 16384) {
                    return Err(format!(
                        "anchors.strides must lie in 1..=16384, got {strides:?}"
                    ));
                }
                if !(min_scale.is_finite()
                    && max_scale.is_finite()
                    && 0.0 < *min_scale
                    && min_scale <= max_scale)
                {
                    return Err(format!(
                        "anchors.min_scale and max_scale must satisfy 0 < min_scale <= max_scale, got {min_scale} and {max_scale}"
                    ));
                }
                for (name, v) in [
                    ("anchor_offset_x", anchor_offset_x),
                    ("anchor_offset_y", anchor_offset_y),
                ] {
                    if !(0.0..=1.0).contains(v) {
                        return Err(format!("anchors.{name} must lie in 0..=1, got {v}"));
                    }
                }
                if aspect_ratios.is_empty()
                    || aspect_ratios.len() > 64
                    || aspect_ratios.iter().any(|r| !(r.is_finite() && *r > 0.0))
                {
                    return Err(format!("anchors.aspect_ratios must hold 1 to 64 positive numbers, got {aspect_ratios:?}"));
                }
                if !(interpolated_scale_aspect_ratio.is_finite()
                    && *interpolated_scale_aspect_ratio >= 0.0)
                {
                    return Err(format!(
                        "anchors.interpolated_scale_aspect_ratio must be 0 or positive, got {interpolated_scale_aspect_ratio}"
                    ));
                }
            }
            AnchorSpec::Retinaface {
                min_sizes,
                steps,
                input_width,
                input_height,
                ..
            } => {
                size("input_width", *input_width)?;
                size("input_height", *input_height)?;
                if steps.is_empty()
                    || steps.len() != min_sizes.len()
                    || steps.iter().any(|&s| s == 0 || s > 16384)
                {
                    return Err(format!(
                        "anchors.steps must hold one stride in 1..=16384 per entry of min_sizes, got {steps:?}"
                    ));
                }
                if min_sizes
                    .iter()
                    .flatten()
                    .any(|v| !(v.is_finite() && *v > 0.0))
                    || min_sizes.iter().any(|m| m.len() > 64)
                {
                    return Err(
                        "anchors.min_sizes must hold positive sizes, at most 64 per level".into(),
                    );
                }
            }
        }
        Ok(())
    }

    /// Generates the anchors, in the order the model's outputs use.
    pub fn generate(&self) -> Result<Vec<Anchor>, String> {
        match self {
            AnchorSpec::Ssd {
                num_layers,
                strides,
                min_scale,
                max_scale,
                input_width,
                input_height,
                anchor_offset_x,
                anchor_offset_y,
                aspect_ratios,
                interpolated_scale_aspect_ratio,
                fixed_anchor_size,
                reduce_boxes_in_lowest_layer,
            } => {
                let n = *num_layers;
                if n == 0 || strides.len() != n {
                    return Err(format!(
                        "anchors.strides must have num_layers ({n}) entries"
                    ));
                }
                if strides.contains(&0) {
                    return Err("anchors.strides must be positive".into());
                }
                let scale = |i: usize| {
                    if n == 1 {
                        (min_scale + max_scale) * 0.5
                    } else {
                        min_scale + (max_scale - min_scale) * i as f32 / (n - 1) as f32
                    }
                };
                let mut anchors = Vec::new();
                let mut layer = 0;
                while layer < n {
                    let (mut ratios, mut scales) = (Vec::new(), Vec::new());
                    let mut last = layer;
                    while last < n && strides[last] == strides[layer] {
                        let s = scale(last);
                        if last == 0 && *reduce_boxes_in_lowest_layer {
                            ratios.extend([1.0, 2.0, 0.5]);
                            scales.extend([0.1, s, s]);
                        } else {
                            for &r in aspect_ratios {
                                ratios.push(r);
                                scales.push(s);
                            }
                            if *interpolated_scale_aspect_ratio > 0.0 {
                                let next = if last == n - 1 { 1.0 } else { scale(last + 1) };
                                scales.push((s * next).sqrt());
                                ratios.push(*interpolated_scale_aspect_ratio);
                            }
                        }
                        last += 1;
                    }
                    let stride = strides[layer];
                    let fh = input_height.div_ceil(stride);
                    let fw = input_width.div_ceil(stride);
                    for y in 0..fh {
                        for x in 0..fw {
                            for (r, s) in ratios.iter().zip(&scales) {
                                let (w, h) = if *fixed_anchor_size {
                                    (1.0, 1.0)
                                } else {
                                    (s * r.sqrt(), s / r.sqrt())
                                };
                                anchors.push(Anchor {
                                    x: (x as f32 + anchor_offset_x) / fw as f32,
                                    y: (y as f32 + anchor_offset_y) / fh as f32,
                                    w,
                                    h,
                                });
                            }
                        }
                    }
                    layer = last;
                }
                Ok(anchors)
            }
            AnchorSpec::Retinaface {
                min_sizes,
                steps,
                input_width,
                input_height,
                clip,
            } => {
                if min_sizes.len() != steps.len() || steps.contains(&0) {
                    return Err("anchors.min_sizes and anchors.steps must have the same length, steps positive".into());
                }
                let (iw, ih) = (*input_width as f32, *input_height as f32);
                let mut anchors = Vec::new();
                for (sizes, &step) in min_sizes.iter().zip(steps) {
                    let fh = input_height.div_ceil(step);
                    let fw = input_width.div_ceil(step);
                    for y in 0..fh {
                        for x in 0..fw {
                            for &size in sizes {
                                let mut a = Anchor {
                                    x: (x as f32 + 0.5) * step as f32 / iw,
                                    y: (y as f32 + 0.5) * step as f32 / ih,
                                    w: size / iw,
                                    h: size / ih,
                                };
                                if *clip {
                                    a = Anchor {
                                        x: a.x.clamp(0.0, 1.0),
                                        y: a.y.clamp(0.0, 1.0),
                                        w: a.w.clamp(0.0, 1.0),
                                        h: a.h.clamp(0.0, 1.0),
                                    };
                                }
                                anchors.push(a);
                            }
                        }
                    }
                }
                Ok(anchors)
            }
        }
    }
}

/// How raw scores become probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScoreFn {
    /// `1 / (1 + e^-x)`, after clipping to `±score_clip`.
    #[default]
    Sigmoid,
    /// Softmax over the classes of each anchor; reports `score_class`.
    Softmax,
    /// Scores are probabilities already.
    Raw,
}

/// Suppression method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NmsMethod {
    /// Keep the best box, drop the ones that overlap it.
    #[default]
    Hard,
    /// MediaPipe's weighted NMS: average overlapping boxes by score.
    Weighted,
}

/// Non-maximum suppression settings.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nms {
    /// Hard (default) or weighted.
    #[serde(default)]
    pub method: NmsMethod,
    /// Boxes overlapping more than this IoU are suppressed (default 0.3).
    #[serde(default = "default_iou")]
    pub iou_threshold: f32,
}

fn default_iou() -> f32 {
    0.3
}

impl Default for Nms {
    fn default() -> Self {
        Nms {
            method: NmsMethod::Hard,
            iou_threshold: default_iou(),
        }
    }
}

/// Parameters, as written in app.json.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Anchor generation.
    pub anchors: AnchorSpec,
    /// Name of the box-regression output.
    pub boxes: String,
    /// Name of the score output.
    pub scores: String,
    /// Name of a separate keypoint output (RetinaFace); empty when keypoints
    /// follow the box in the `boxes` output (SSD).
    #[serde(default)]
    pub keypoints: String,
    /// Order of the four box values: `xywh` (default) or `yxhw`.
    #[serde(default = "xywh")]
    pub box_format: String,
    /// SSD divisors `[x, y, w, h]` of the raw values (default `[1,1,1,1]`).
    #[serde(default = "unit_scale")]
    pub scale: [f32; 4],
    /// RetinaFace variances `[centre, size]`; when given, sizes decode as
    /// `exp(v * variance[1])` (default: none, SSD linear decoding).
    #[serde(default)]
    pub variance: Option<[f32; 2]>,
    /// Number of keypoints per detection.
    #[serde(default)]
    pub num_keypoints: usize,
    /// Index of the first keypoint value in each row of `boxes` (SSD).
    #[serde(default = "four")]
    pub keypoint_offset: usize,
    /// Score activation.
    #[serde(default)]
    pub score: ScoreFn,
    /// Clip raw scores to ±this before the sigmoid (default 100).
    #[serde(default = "hundred")]
    pub score_clip: f32,
    /// Class reported with softmax scores (default 1: background is 0).
    #[serde(default = "one")]
    pub score_class: usize,
    /// Minimum score kept (default 0.5).
    #[serde(default = "half")]
    pub min_score: f32,
    /// Suppression.
    #[serde(default)]
    pub nms: Nms,
    /// Most detections reported (default 100).
    #[serde(default = "hundred_usize")]
    pub max_detections: usize,
}

fn xywh() -> String {
    "xywh".into()
}
fn unit_scale() -> [f32; 4] {
    [1.0; 4]
}
fn four() -> usize {
    4
}
fn hundred() -> f32 {
    100.0
}
fn hundred_usize() -> usize {
    100
}
fn one() -> usize {
    1
}

impl Params {
    /// Parses and checks the params JSON text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let p: Params = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if p.box_format != "xywh" && p.box_format != "yxhw" {
            return Err(format!(
                "box_format must be xywh or yxhw, got {}",
                p.box_format
            ));
        }
        p.check()?;
        Ok(p)
    }

    /// The documented ranges (docs/app-format.md), each error naming its
    /// parameter.
    fn check(&self) -> Result<(), String> {
        let finite = |name: &str, v: f32| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(format!("{name} must be a finite number, got {v}"))
            }
        };
        if self.scale.iter().any(|&v| !(v.is_finite() && v > 0.0)) {
            return Err(format!(
                "scale values must be positive, got {:?}",
                self.scale
            ));
        }
        if let Some(v) = self.variance {
            if v.iter().any(|&x| !(x.is_finite() && x > 0.0)) {
                return Err(format!("variance values must be positive, got {v:?}"));
            }
        }
        if !(self.score_clip.is_finite() && self.score_clip > 0.0) {
            return Err(format!(
                "score_clip must be positive, got {}",
                self.score_clip
            ));
        }
        finite("min_score", self.min_score)?;
        let t = self.nms.iou_threshold;
        if !(0.0..=1.0).contains(&t) {
            return Err(format!("nms.iou_threshold must lie in 0..=1, got {t}"));
        }
        if !(1..=10_000).contains(&self.max_detections) {
            return Err(format!(
                "max_detections must lie in 1..=10000, got {}",
                self.max_detections
            ));
        }
        if self.num_keypoints > 1000 {
            return Err(format!(
                "num_keypoints must be at most 1000, got {}",
                self.num_keypoints
            ));
        }
        self.anchors.check()
    }
}

/// A box in tensor-normalized coordinates with its keypoints.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// `[x0, y0, x1, y1]`.
    pub bounds: [f32; 4],
    /// Probability.
    pub score: f32,
    /// `[x, y]` pairs.
    pub keypoints: Vec<[f32; 2]>,
}

/// A named f32 output, as the post-processor sees it.
pub struct Output<'a> {
    /// Output name.
    pub name: &'a str,
    /// Shape.
    pub shape: &'a [u32],
    /// Values.
    pub values: Vec<f32>,
}

fn find<'a>(outputs: &'a [Output<'a>], name: &str, what: &str) -> Result<&'a Output<'a>, String> {
    outputs.iter().find(|o| o.name == name).ok_or_else(|| {
        let names: Vec<&str> = outputs.iter().map(|o| o.name).collect();
        format!("params.{what} names output '{name}', but the model's outputs are {names:?}")
    })
}

/// Decodes every anchor above `min_score`, then suppresses overlaps.
pub fn detect(
    outputs: &[Output],
    anchors: &[Anchor],
    p: &Params,
) -> Result<Vec<Candidate>, String> {
    let n = anchors.len();
    let boxes = find(outputs, &p.boxes, "boxes")?;
    let scores = find(outputs, &p.scores, "scores")?;
    let row = boxes.values.len() / n.max(1);
    if boxes.values.len() != row * n || row < 4 {
        return Err(format!(
            "output '{}' {:?} does not hold 4+ values for each of {n} anchors",
            boxes.name, boxes.shape
        ));
    }
    let classes = scores.values.len() / n.max(1);
    if scores.values.len() != classes * n || classes == 0 {
        return Err(format!(
            "output '{}' {:?} does not hold scores for each of {n} anchors",
            scores.name, scores.shape
        ));
    }
    let kp = if p.keypoints.is_empty() {
        None
    } else {
        Some(find(outputs, &p.keypoints, "keypoints")?)
    };
    let (kp_values, kp_row, kp_offset) = match kp {
        Some(k) => (&k.values, k.values.len() / n.max(1), 0),
        None => (&boxes.values, row, p.keypoint_offset),
    };
    if p.num_keypoints > 0 && kp_offset + 2 * p.num_keypoints > kp_row {
        return Err(format!(
            "{} keypoints do not fit rows of {kp_row} values",
            p.num_keypoints
        ));
    }
    let [sx, sy, sw, sh] = p.scale;
    let yx = p.box_format == "yxhw";
    let mut found = Vec::new();
    for (i, a) in anchors.iter().enumerate() {
        let score = match p.score {
            ScoreFn::Sigmoid => {
                let s = scores.values[i * classes].clamp(-p.score_clip, p.score_clip);
                1.0 / (1.0 + (-s).exp())
            }
            ScoreFn::Raw => scores.values[i * classes],
            ScoreFn::Softmax => {
                let s = &scores.values[i * classes..][..classes];
                let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = s.iter().map(|v| (v - max).exp()).sum();
                s.get(p.score_class).map_or(0.0, |v| (v - max).exp() / sum)
            }
        };
        // NaN scores are dropped too.
        if score.is_nan() || score < p.min_score {
            continue;
        }
        let r = &boxes.values[i * row..][..row];
        let (rx, ry, rw, rh) = if yx {
            (r[1], r[0], r[3], r[2])
        } else {
            (r[0], r[1], r[2], r[3])
        };
        // A point relative to its anchor: the box centre and every keypoint.
        let point = |x: f32, y: f32| match p.variance {
            Some([vc, _]) => [a.x + x * vc * a.w, a.y + y * vc * a.h],
            None => [a.x + x / sx * a.w, a.y + y / sy * a.h],
        };
        let [cx, cy] = point(rx, ry);
        let (w, h) = match p.variance {
            Some([_, vs]) => (a.w * (rw * vs).exp(), a.h * (rh * vs).exp()),
            None => (rw / sw * a.w, rh / sh * a.h),
        };
        let k = &kp_values[i * kp_row + kp_offset..];
        let keypoints = (0..p.num_keypoints)
            .map(|j| {
                if yx && kp.is_none() {
                    point(k[2 * j + 1], k[2 * j])
                } else {
                    point(k[2 * j], k[2 * j + 1])
                }
            })
            .collect();
        found.push(Candidate {
            bounds: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
            score,
            keypoints,
        });
    }
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept = nms(found, p.nms);
    kept.truncate(p.max_detections);
    Ok(kept)
}

/// Intersection over union of two `[x0, y0, x1, y1]` boxes.
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Suppresses overlapping candidates (sorted best first). The best box
/// always leaves the list, so a degenerate box (zero area, NaN), whose IoU
/// with itself is 0, cannot keep the loop going.
pub fn nms(candidates: Vec<Candidate>, nms: Nms) -> Vec<Candidate> {
    use std::collections::VecDeque;
    let mut kept = Vec::new();
    let mut remaining = VecDeque::from(candidates);
    while let Some(best) = remaining.pop_front() {
        let (mut overlapping, rest): (VecDeque<_>, VecDeque<_>) = remaining
            .into_iter()
            .partition(|c| iou(&c.bounds, &best.bounds) > nms.iou_threshold);
        remaining = rest;
        overlapping.push_front(best.clone());
        kept.push(match nms.method {
            NmsMethod::Hard => best,
            NmsMethod::Weighted => {
                let total: f32 = overlapping.iter().map(|c| c.score).sum();
                if !(total.is_finite() && total > 0.0) {
                    kept.push(best);
                    continue;
                }
                let mut merged = best.clone();
                merged.bounds = std::array::from_fn(|i| {
                    overlapping
                        .iter()
                        .map(|c| c.bounds[i] * c.score)
                        .sum::<f32>()
                        / total
                });
                for (j, kp) in merged.keypoints.iter_mut().enumerate() {
                    *kp = std::array::from_fn(|i| {
                        overlapping
                            .iter()
                            .map(|c| c.keypoints[j][i] * c.score)
                            .sum::<f32>()
                            / total
                    });
                }
                merged
            }
        });
    }
    kept
}

#[cfg(target_arch = "wasm32")]
mod component {
    use std::sync::Mutex;

    use super::{detect, Anchor, Output, Params};

    use lpdnn_sdk::post::{Bbox, Detection, Guest, Point, Prediction};
    use lpdnn_sdk::{Config, Dtype, InputMeta, ProcessorError, Tensor};

    /// Parameters, generated anchors and labels, set by `configure`.
    struct State {
        params: Params,
        anchors: Vec<Anchor>,
        labels: Vec<String>,
    }

    static STATE: Mutex<Option<State>> = Mutex::new(None);

    struct Detector;

    impl Guest for Detector {
        fn configure(config: Config) -> Result<(), ProcessorError> {
            let p = Params::from_json(&config.params).map_err(ProcessorError::InvalidParams)?;
            let anchors = p
                .anchors
                .generate()
                .map_err(ProcessorError::InvalidParams)?;
            *STATE.lock().unwrap() = Some(State {
                params: p,
                anchors,
                labels: config.labels,
            });
            Ok(())
        }

        fn process(
            outputs: Vec<Vec<Tensor>>,
            meta: InputMeta,
        ) -> Result<Prediction, ProcessorError> {
            let [outputs] = <[Vec<Tensor>; 1]>::try_from(outputs).map_err(|o| {
                ProcessorError::InvalidTensor(format!(
                    "detection takes one image (one chunk), got {} chunks",
                    o.len()
                ))
            })?;
            let guard = STATE.lock().unwrap();
            let State {
                params: p,
                anchors,
                labels,
            } = guard.as_ref().ok_or_else(|| {
                ProcessorError::Internal("process called before configure".into())
            })?;
            let InputMeta::Image(g) = meta else {
                return Err(ProcessorError::InvalidTensor(
                    "detection needs an image input".into(),
                ));
            };
            let outs = outputs
                .iter()
                .map(|t| {
                    if t.dtype != Dtype::F32 {
                        return Err(ProcessorError::InvalidTensor(format!(
                            "output '{}' must be f32",
                            t.name
                        )));
                    }
                    Ok(Output {
                        name: &t.name,
                        shape: &t.shape,
                        values: t
                            .data
                            .chunks_exact(4)
                            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                            .collect(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let found = detect(&outs, anchors, p).map_err(ProcessorError::InvalidTensor)?;
            // Tensor-normalized -> tensor pixels -> original pixels.
            let (tw, th) = (g.tensor_width as f32, g.tensor_height as f32);
            let px = |x: f32| (x * tw * g.scale_x + g.offset_x).clamp(0.0, g.width as f32);
            let py = |y: f32| (y * th * g.scale_y + g.offset_y).clamp(0.0, g.height as f32);
            Ok(Prediction::Detections(
                found
                    .into_iter()
                    .map(|c| Detection {
                        bounds: Bbox {
                            x0: px(c.bounds[0]),
                            y0: py(c.bounds[1]),
                            x1: px(c.bounds[2]),
                            y1: py(c.bounds[3]),
                        },
                        score: c.score,
                        class_id: 0,
                        label: labels.first().cloned(),
                        keypoints: c
                            .keypoints
                            .iter()
                            .map(|k| Point {
                                x: px(k[0]),
                                y: py(k[1]),
                            })
                            .collect(),
                    })
                    .collect(),
            ))
        }
    }

    lpdnn_sdk::export_postprocessor!(Detector);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blazeface() -> AnchorSpec {
        serde_json::from_str(
            r#"{"type":"ssd","num_layers":4,"strides":[8,16,16,16],"min_scale":0.1484375,"max_scale":0.75,
                "input_width":128,"input_height":128,"interpolated_scale_aspect_ratio":1.0,"fixed_anchor_size":true}"#,
        )
        .unwrap()
    }

    #[test]
    fn blazeface_short_range_has_896_anchors() {
        let a = blazeface().generate().unwrap();
        assert_eq!(a.len(), 896);
        // First cell of the stride-8 layer: two anchors at (0.5/16, 0.5/16).
        assert_eq!(
            a[0],
            Anchor {
                x: 0.03125,
                y: 0.03125,
                w: 1.0,
                h: 1.0
            }
        );
        assert_eq!(a[0], a[1]);
        // Last anchor: last cell of the 8x8 stride-16 grid, 6 per cell.
        assert_eq!(
            a[895],
            Anchor {
                x: 0.9375,
                y: 0.9375,
                w: 1.0,
                h: 1.0
            }
        );
        assert_eq!(
            a[512],
            Anchor {
                x: 0.0625,
                y: 0.0625,
                w: 1.0,
                h: 1.0
            }
        );
    }

    #[test]
    fn retinaface_640_has_16800_priors() {
        let spec: AnchorSpec = serde_json::from_str(
            r#"{"type":"retinaface","min_sizes":[[16,32],[64,128],[256,512]],"steps":[8,16,32],"input_width":640,"input_height":640}"#,
        )
        .unwrap();
        let a = spec.generate().unwrap();
        assert_eq!(a.len(), 16800);
        assert_eq!(
            a[0],
            Anchor {
                x: 4.0 / 640.0,
                y: 4.0 / 640.0,
                w: 16.0 / 640.0,
                h: 16.0 / 640.0
            }
        );
    }

    fn cand(b: [f32; 4], score: f32) -> Candidate {
        Candidate {
            bounds: b,
            score,
            keypoints: vec![[b[0], b[1]]],
        }
    }

    #[test]
    fn hard_nms_drops_overlaps_and_weighted_averages_them() {
        let c = vec![
            cand([0.0, 0.0, 1.0, 1.0], 0.9),
            cand([0.0, 0.0, 1.0, 1.2], 0.6),
            cand([2.0, 2.0, 3.0, 3.0], 0.5),
        ];
        let hard = nms(
            c.clone(),
            Nms {
                method: NmsMethod::Hard,
                iou_threshold: 0.3,
            },
        );
        assert_eq!(hard.len(), 2);
        assert_eq!(hard[0], c[0]);
        let w = nms(
            c,
            Nms {
                method: NmsMethod::Weighted,
                iou_threshold: 0.3,
            },
        );
        assert_eq!(w.len(), 2);
        assert!((w[0].bounds[3] - 1.08).abs() < 1e-6, "{:?}", w[0]);
        assert_eq!(w[0].score, 0.9);
    }

    #[test]
    fn degenerate_boxes_end_the_suppression() {
        // Zero area and NaN boxes: IoU with themselves is 0, yet each is
        // kept once and the loop ends, with either method and any threshold.
        let c = vec![
            cand([1.0, 1.0, 1.0, 1.0], 0.9),
            cand([f32::NAN, 0.0, 1.0, 1.0], 0.8),
            cand([0.0, 0.0, 1.0, 1.0], 0.0),
            cand([0.0, 0.0, 1.0, 1.0], 0.0),
        ];
        for method in [NmsMethod::Hard, NmsMethod::Weighted] {
            for iou_threshold in [0.0, 0.3, 1.0] {
                let kept = nms(
                    c.clone(),
                    Nms {
                        method,
                        iou_threshold,
                    },
                );
                assert!(
                    (2..=4).contains(&kept.len()),
                    "{method:?} {iou_threshold}: {kept:?}"
                );
                assert_eq!(kept[0].bounds, c[0].bounds);
            }
        }
    }

    #[test]
    fn parameters_out_of_their_documented_range_are_named() {
        let base = r#""anchors":{"type":"ssd","num_layers":1,"strides":[8],"min_scale":0.1,"max_scale":0.7,"input_width":128,"input_height":128},"boxes":"b","scores":"s""#;
        for (extra, named) in [
            (r#","score_clip":-1"#, "score_clip"),
            (r#","scale":[128,-128,128,128]"#, "scale"),
            (r#","nms":{"iou_threshold":1.5}"#, "nms.iou_threshold"),
            (r#","max_detections":0"#, "max_detections"),
        ] {
            let err = Params::from_json(&format!("{{{base}{extra}}}")).unwrap_err();
            assert!(err.contains(named), "{extra}: {err}");
        }
        let err = Params::from_json(&format!("{{{}}}", base.replace("0.1,", "0.9,"))).unwrap_err();
        assert!(err.contains("min_scale"), "{err}");
        let err = Params::from_json(&format!("{{{}}}", base.replace("[8]", "[8,16]"))).unwrap_err();
        assert!(err.contains("num_layers"), "{err}");
        Params::from_json(&format!("{{{base}}}")).unwrap();
    }

    #[test]
    fn decodes_an_ssd_box_around_its_anchor() {
        let anchors = vec![
            Anchor {
                x: 0.5,
                y: 0.5,
                w: 1.0,
                h: 1.0,
            },
            Anchor {
                x: 0.1,
                y: 0.1,
                w: 1.0,
                h: 1.0,
            },
        ];
        let p = Params::from_json(
            r#"{"anchors":{"type":"ssd","num_layers":1,"strides":[1],"min_scale":1,"max_scale":1,"input_width":1,"input_height":1},
                "boxes":"b","scores":"s","scale":[128,128,128,128],"num_keypoints":1}"#,
        )
        .unwrap();
        // Anchor 0: shifted 12.8 px right, 64 px wide and tall; anchor 1 scores low.
        let b = vec![
            12.8, 0.0, 64.0, 64.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        ];
        let outputs = [
            Output {
                name: "b",
                shape: &[1, 2, 6],
                values: b,
            },
            Output {
                name: "s",
                shape: &[1, 2, 1],
                values: vec![3.0, -3.0],
            },
        ];
        let found = detect(&outputs, &anchors, &p).unwrap();
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert!((f.score - 0.9526).abs() < 1e-4);
        for (got, want) in f.bounds.iter().zip([0.35, 0.25, 0.85, 0.75]) {
            assert!((got - want).abs() < 1e-6, "{:?}", f.bounds);
        }
        let err = detect(&outputs[..1], &anchors, &p).unwrap_err();
        assert!(err.contains("params.scores names output 's'"), "{err}");
    }
}
