//! An engine's outputs checked against a reference engine's on the same
//! inputs (`benchmark --check-against`), and their text.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

/// Whether an engine's outputs agree with the reference's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every output within the tolerance, every top-1 class the same, every
    /// box matched.
    Agrees,
    /// At least one output beyond the tolerance, a top-1 class or a box that
    /// differs.
    Differs,
    /// No output of one could be paired with an output of the other (names
    /// and shapes differ).
    NotComparable,
}

impl Verdict {
    /// The word printed.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Agrees => "agrees",
            Verdict::Differs => "differs",
            Verdict::NotComparable => "not comparable",
        }
    }
}

/// The check of one engine against the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputCheck {
    /// The reference engine.
    pub reference: String,
    /// The model file the reference ran.
    pub reference_model: String,
    /// Largest relative error (max |a − r| over max |r|) that agrees.
    pub tolerance: f64,
    /// The verdict.
    pub verdict: Verdict,
    /// Inputs run through both.
    pub inputs: usize,
    /// Each output of the engine, paired with the reference's.
    pub outputs: Vec<OutputDiff>,
    /// Detections matched box to box, for apps that detect.
    pub boxes: Option<BoxMatch>,
    /// Why outputs could not be paired, or what else the reader should know.
    pub notes: Vec<String>,
}

/// One output against the reference's, over every run of every input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputDiff {
    /// The engine's output.
    pub name: String,
    /// The reference's output it was paired with (by name, else by shape).
    pub reference_name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Largest absolute difference.
    #[serde(with = "non_finite_as_null")]
    pub max_abs: f64,
    /// `max_abs` over the largest magnitude of the reference's values.
    #[serde(with = "non_finite_as_null")]
    pub max_rel: f64,
    /// Smallest cosine similarity of one run's values.
    #[serde(with = "non_finite_as_null")]
    pub cosine: f64,
    /// Share of runs whose best class is the same, for outputs that are one
    /// score per class.
    pub top1: Option<f64>,
    /// Mean share of the five best classes both have in their five best.
    pub top5: Option<f64>,
}

/// The engine's detections matched to the reference's (greedily, best IoU
/// first, same class).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoxMatch {
    /// Pairs matched with IoU ≥ 0.5.
    pub matched: usize,
    /// Detections of either without a match.
    pub unmatched: usize,
    /// Mean IoU of the matched pairs.
    pub mean_iou: Option<f64>,
}

/// JSON has no infinity nor NaN: they are written `null` and read back as
/// infinity (a NaN on one side only makes the error infinite).
mod non_finite_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        match v.is_finite() {
            true => s.serialize_f64(*v),
            false => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
    }
}

/// The check in a few lines, within [`crate::WIDTH`] columns.
pub fn check_text(out: &mut String, check: &OutputCheck) {
    let _ = writeln!(
        out,
        "check against {}: {} (tolerance: relative error {:e}; {} input(s))",
        check.reference,
        check.verdict.word(),
        check.tolerance,
        check.inputs,
    );
    for o in &check.outputs {
        let mut line = format!(
            "  {}: max abs {:.2e}, rel {:.2e}, cosine {:.6}",
            // The figures and top-k take 76 columns at most.
            crate::layers::fit(&o.name, crate::WIDTH - 76),
            o.max_abs,
            o.max_rel,
            o.cosine
        );
        if let (Some(t1), Some(t5)) = (o.top1, o.top5) {
            let _ = write!(
                line,
                ", top-1 {:.0} %, top-5 {:.0} %",
                100.0 * t1,
                100.0 * t5
            );
        }
        let _ = writeln!(out, "{line}");
    }
    if let Some(b) = &check.boxes {
        let iou = b.mean_iou.map_or("-".into(), |v| format!("{v:.3}"));
        let _ = writeln!(
            out,
            "  boxes: {} matched (mean IoU {iou}), {} unmatched",
            b.matched, b.unmatched
        );
    }
    for n in &check.notes {
        let _ = writeln!(out, "  note: {}", crate::layers::fit(n, crate::WIDTH - 8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_output_name_keeps_the_check_within_the_width() {
        let check = OutputCheck {
            reference: "lne".into(),
            reference_model: "m.onnx".into(),
            tolerance: 1e-4,
            verdict: Verdict::Differs,
            inputs: 1,
            outputs: vec![OutputDiff {
                name: "StatefulPartitionedCall/model/dense/BiasAdd".repeat(3),
                reference_name: "logits".into(),
                shape: vec![1, 1000],
                max_abs: f64::INFINITY,
                max_rel: 1.23e-3,
                cosine: 0.999_9,
                top1: Some(1.0),
                top5: Some(0.8),
            }],
            boxes: None,
            notes: vec!["output x has no counterpart in the reference's ".repeat(4)],
        };
        let mut out = String::new();
        check_text(&mut out, &check);
        assert!(
            out.lines().all(|l| l.chars().count() <= crate::WIDTH),
            "{out}"
        );
        assert!(
            out.contains("rel 1.23e-3") && out.contains("top-5 80 %"),
            "{out}"
        );
        // Read back from JSON, an infinite error stays infinite.
        let back: OutputCheck =
            serde_json::from_str(&serde_json::to_string(&check).unwrap()).unwrap();
        assert_eq!(back.outputs[0].max_abs, f64::INFINITY);
    }
}
