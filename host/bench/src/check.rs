//! `benchmark --check-against ENGINE`: each input run once through the
//! engine's model and once through the reference engine's, outputs paired
//! and compared (max absolute and relative error, cosine similarity, top-1
//! and top-5 agreement of class scores, matched boxes of detections).

use std::collections::HashSet;
use std::path::PathBuf;

use lpdnn_app::Runtime;
use lpdnn_engine_api::{DType, Tensor};
use lpdnn_report::{BoxMatch, OutputCheck, OutputDiff, Verdict};

use crate::config::BenchConfig;
use crate::subject::{Subject, Workload};
use crate::BenchError;

/// What to check against.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckAgainst {
    /// The reference engine.
    pub engine: String,
    /// The model file the reference runs, for a bare model (default: the
    /// same file).
    pub model: Option<PathBuf>,
    /// Largest relative error (max |a − r| over max |r|) that agrees.
    pub tolerance: f64,
}

impl CheckAgainst {
    /// Relative error that agrees when none is given: engines computing
    /// in f32 differ by 1e-6 to 1e-5 on the models here; weights rounded to
    /// f16 move outputs by 1e-3.
    pub const DEFAULT_TOLERANCE: f64 = 1e-4;
}

/// Runs every input through `work` and the reference, and compares.
pub(crate) fn check(
    subject: &Subject,
    runtime: &Runtime,
    work: &mut dyn Workload,
    config: &BenchConfig,
    against: &CheckAgainst,
) -> Result<OutputCheck, BenchError> {
    let other;
    let reference_subject = match (subject, &against.model) {
        (Subject::Model { inputs, .. }, Some(path)) => {
            other = Subject::Model {
                path: path.clone(),
                inputs: inputs.clone(),
            };
            &other
        }
        _ => subject,
    };
    let mut reference = crate::subject::load(reference_subject, runtime, &against.engine, config)?;
    let mut pairs: Vec<(String, Vec<Tensor>, Vec<Tensor>)> = Vec::new();
    let mut boxes = BoxTally::default();
    let inputs = work.inputs().min(reference.inputs());
    for ix in 0..inputs {
        let (mine, my_runs) = work.traced(ix)?;
        let (theirs, their_runs) = reference.traced(ix)?;
        boxes.add(&mine.prediction, &theirs.prediction);
        for (a, b) in my_runs.into_iter().zip(their_runs) {
            pairs.push((mine.input.clone(), a, b));
        }
    }
    work.take_anchors();
    let mut notes = Vec::new();
    let outputs = compare(&pairs, &mut notes);
    let boxes = boxes.result();
    let differs = outputs.iter().any(|o| {
        o.max_rel.is_nan() || o.max_rel > against.tolerance || o.top1.is_some_and(|t| t < 1.0)
    }) || boxes.as_ref().is_some_and(|b| b.unmatched > 0);
    let verdict = if outputs.is_empty() {
        Verdict::NotComparable
    } else if differs {
        Verdict::Differs
    } else {
        Verdict::Agrees
    };
    Ok(OutputCheck {
        reference: against.engine.clone(),
        reference_model: reference.model_path().display().to_string(),
        tolerance: against.tolerance,
        verdict,
        inputs,
        outputs,
        boxes,
        notes,
    })
}

/// A tensor's values as f64, whatever its type.
fn values(t: &Tensor) -> Vec<f64> {
    let d = t.data();
    match t.dtype() {
        DType::F32 => d
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        DType::F16 => d
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f64())
            .collect(),
        DType::U8 => d.iter().map(|&v| v as f64).collect(),
        DType::I8 => d.iter().map(|&v| v as i8 as f64).collect(),
        DType::I32 => d
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        DType::I64 => d
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or_default()) as f64)
            .collect(),
    }
}

/// Pairs each output of the engine with one of the reference's: the same
/// name, else the only one of the same shape.
fn pair(mine: &[Tensor], theirs: &[Tensor]) -> Vec<Option<usize>> {
    let mut taken = HashSet::new();
    let mut paired: Vec<Option<usize>> = mine
        .iter()
        .map(|a| {
            let i = theirs.iter().position(|b| b.name() == a.name())?;
            taken.insert(i).then_some(i)
        })
        .collect();
    for (a, slot) in mine.iter().zip(&mut paired) {
        if slot.is_some() {
            continue;
        }
        let same: Vec<usize> = (0..theirs.len())
            .filter(|i| !taken.contains(i) && theirs[*i].shape() == a.shape())
            .collect();
        if let [i] = same[..] {
            taken.insert(i);
            *slot = Some(i);
        }
    }
    paired
}

/// The indices of the `k` largest values, largest first.
fn top(v: &[f64], k: usize) -> Vec<usize> {
    let mut ix: Vec<usize> = (0..v.len()).collect();
    ix.sort_by(|&a, &b| v[b].total_cmp(&v[a]));
    ix.truncate(k);
    ix
}

fn compare(
    pairs: &[(String, Vec<Tensor>, Vec<Tensor>)],
    notes: &mut Vec<String>,
) -> Vec<OutputDiff> {
    let mut diffs: Vec<OutputDiff> = Vec::new();
    let mut top_runs: Vec<(usize, usize, f64)> = Vec::new(); // per diff: runs, top-1 same, top-5 overlap
    for (input, mine, theirs) in pairs {
        for (a, slot) in mine.iter().zip(pair(mine, theirs)) {
            let Some(j) = slot else {
                let note = format!("output {} has no counterpart in the reference's", a.name());
                if !notes.contains(&note) {
                    notes.push(note);
                }
                continue;
            };
            let b = &theirs[j];
            if a.shape() != b.shape() {
                notes.push(format!(
                    "{input}: output {} is {:?}, the reference's {:?}",
                    a.name(),
                    a.shape(),
                    b.shape()
                ));
                continue;
            }
            let (x, r) = (values(a), values(b));
            let max_abs = x
                .iter()
                .zip(&r)
                .map(|(x, r)| gap(*x, *r))
                .fold(0.0, f64::max);
            let scale = r.iter().map(|v| v.abs()).fold(0.0, f64::max);
            let max_rel = if scale > 0.0 {
                max_abs / scale
            } else if max_abs > 0.0 {
                f64::INFINITY
            } else {
                0.0
            };
            let dot: f64 = x.iter().zip(&r).map(|(x, r)| x * r).sum();
            let norms = norm(&x) * norm(&r);
            let cosine = if norms > 0.0 {
                dot / norms
            } else if max_abs == 0.0 {
                1.0
            } else {
                0.0
            };
            // One score per class: a vector of at least ten, along the last
            // axis (`[1, 1000]`; not BlazeFace's `[1, 896, 1]` anchors).
            let classes = a.shape().iter().filter(|&&d| d > 1).count() == 1
                && a.shape().last().is_some_and(|&d| d >= 10);
            let i = match diffs.iter().position(|d| d.name == a.name()) {
                Some(i) => i,
                None => {
                    diffs.push(OutputDiff {
                        name: a.name().to_owned(),
                        reference_name: b.name().to_owned(),
                        shape: a.shape().to_vec(),
                        max_abs: 0.0,
                        max_rel: 0.0,
                        cosine: 1.0,
                        top1: None,
                        top5: None,
                    });
                    top_runs.push((0, 0, 0.0));
                    diffs.len() - 1
                }
            };
            let d = &mut diffs[i];
            d.max_abs = d.max_abs.max(max_abs);
            d.max_rel = d.max_rel.max(max_rel);
            d.cosine = d.cosine.min(cosine);
            if classes {
                let (t5a, t5r) = (top(&x, 5), top(&r, 5));
                let t = &mut top_runs[i];
                t.0 += 1;
                t.1 += usize::from(t5a[0] == t5r[0]);
                t.2 += t5a.iter().filter(|c| t5r.contains(c)).count() as f64 / 5.0;
            }
        }
    }
    for (d, (runs, same, overlap)) in diffs.iter_mut().zip(top_runs) {
        if runs > 0 {
            d.top1 = Some(same as f64 / runs as f64);
            d.top5 = Some(overlap / runs as f64);
        }
    }
    diffs
}

/// |x − r|, infinite where one is NaN and the other not (a NaN must not
/// vanish in a maximum).
fn gap(x: f64, r: f64) -> f64 {
    match (x.is_nan(), r.is_nan()) {
        (false, false) if x == r => 0.0,
        (false, false) => (x - r).abs(),
        (true, true) => 0.0,
        _ => f64::INFINITY,
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// Detections of both, matched input by input.
#[derive(Default)]
struct BoxTally {
    seen: bool,
    matched: usize,
    unmatched: usize,
    iou: f64,
}

type Detection = ([f64; 4], u64);

fn detections(prediction: &serde_json::Value) -> Option<Vec<Detection>> {
    let list = prediction.get("detections")?.as_array()?;
    Some(
        list.iter()
            .filter_map(|d| {
                let b = d.get("box")?.as_array()?;
                let b: Vec<f64> = b.iter().filter_map(|v| v.as_f64()).collect();
                let class = d.get("class").and_then(|c| c.as_u64()).unwrap_or(0);
                Some(([*b.first()?, *b.get(1)?, *b.get(2)?, *b.get(3)?], class))
            })
            .collect(),
    )
}

fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: &[f64; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

impl BoxTally {
    fn add(&mut self, mine: &serde_json::Value, theirs: &serde_json::Value) {
        let (Some(a), Some(b)) = (detections(mine), detections(theirs)) else {
            return;
        };
        self.seen = true;
        let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
        for (i, x) in a.iter().enumerate() {
            for (j, y) in b.iter().enumerate() {
                let v = iou(&x.0, &y.0);
                if x.1 == y.1 && v >= 0.5 {
                    pairs.push((v, i, j));
                }
            }
        }
        pairs.sort_by(|p, q| q.0.total_cmp(&p.0));
        let (mut used_a, mut used_b) = (HashSet::new(), HashSet::new());
        for (v, i, j) in pairs {
            if used_a.contains(&i) || used_b.contains(&j) {
                continue;
            }
            used_a.insert(i);
            used_b.insert(j);
            self.matched += 1;
            self.iou += v;
        }
        self.unmatched += (a.len() - used_a.len()) + (b.len() - used_b.len());
    }

    fn result(self) -> Option<BoxMatch> {
        self.seen.then(|| BoxMatch {
            matched: self.matched,
            unmatched: self.unmatched,
            mean_iou: (self.matched > 0).then(|| self.iou / self.matched as f64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::from_f32(name, shape.to_vec(), v).unwrap()
    }

    #[test]
    fn outputs_pair_by_name_then_by_shape_and_classes_count_top_k() {
        let scores: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let mut swapped = scores.clone();
        swapped.swap(9, 8);
        let mine = vec![
            t("logits", &[1, 10], &scores),
            t("boxes", &[1, 4], &[1.0, 2.0, 3.0, 4.0]),
        ];
        let theirs = vec![
            t("Identity_1", &[1, 4], &[1.0, 2.0, 3.0, 4.001]),
            t("logits", &[1, 10], &swapped),
        ];
        let mut notes = Vec::new();
        let d = compare(&[("x".into(), mine, theirs)], &mut notes);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(d[0].reference_name, "logits");
        assert_eq!((d[0].top1, d[0].top5), (Some(0.0), Some(1.0)));
        assert_eq!(d[1].reference_name, "Identity_1");
        assert!((d[1].max_rel - 0.001 / 4.001).abs() < 1e-6, "{:?}", d[1]);
        assert!(d[1].top1.is_none());
        assert!(d[1].cosine > 0.99999 && d[1].cosine <= 1.0 + 1e-12);
    }

    #[test]
    fn boxes_match_by_iou_and_class() {
        let p = |boxes: &[[f64; 4]]| serde_json::json!({"detections": boxes.iter().map(|b| serde_json::json!({"box": b, "class": 0, "score": 0.9})).collect::<Vec<_>>()});
        let mut tally = BoxTally::default();
        tally.add(
            &p(&[[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 60.0, 60.0]]),
            &p(&[[0.0, 0.0, 10.0, 11.0]]),
        );
        let m = tally.result().unwrap();
        assert_eq!((m.matched, m.unmatched), (1, 1));
        assert!((m.mean_iou.unwrap() - 100.0 / 110.0).abs() < 1e-9);
    }
}
