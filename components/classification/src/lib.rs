//! The classification post-processor component: optional softmax, top-k,
//! labels from the app's label file.
//!
//! Parameters: `{"softmax": true, "top_k": 5, "output": ""}` — `output`
//! names the model output to read (default: the first).

#![warn(missing_docs)]

use serde::Deserialize;

/// Parameters, as written in app.json.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Apply softmax to the scores (for models that output logits).
    #[serde(default = "yes")]
    pub softmax: bool,
    /// How many classes to report, best first.
    #[serde(default = "five")]
    pub top_k: usize,
    /// Name of the model output to read; empty means the first.
    #[serde(default)]
    pub output: String,
}

fn yes() -> bool {
    true
}
fn five() -> usize {
    5
}

impl Params {
    /// Parses and checks the params JSON text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let p: Params = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if p.top_k == 0 {
            return Err("top_k must be at least 1".into());
        }
        Ok(p)
    }
}

/// The `top_k` best `(class id, score)` pairs of `scores`, best first.
pub fn top_k(scores: &[f32], p: &Params) -> Vec<(u32, f32)> {
    let scores = if p.softmax {
        softmax(scores)
    } else {
        scores.to_vec()
    };
    let mut idx: Vec<u32> = (0..scores.len() as u32).collect();
    let k = p.top_k.min(idx.len());
    let by_score = |a: &u32, b: &u32| {
        scores[*b as usize]
            .total_cmp(&scores[*a as usize])
            .then(a.cmp(b))
    };
    if k < idx.len() {
        idx.select_nth_unstable_by(k, by_score);
        idx.truncate(k);
    }
    idx.sort_by(by_score);
    idx.into_iter().map(|i| (i, scores[i as usize])).collect()
}

/// Numerically stable softmax.
pub fn softmax(x: &[f32]) -> Vec<f32> {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = x.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.into_iter().map(|v| v / sum).collect()
}

#[cfg(target_arch = "wasm32")]
mod component {
    use std::sync::Mutex;

    use super::{softmax, top_k, Params};

    use lpdnn_sdk::post::{ClassScore, Guest, Prediction};
    use lpdnn_sdk::{find, Config, InputMeta, ProcessorError, Tensor};

    static STATE: Mutex<Option<(Params, Vec<String>)>> = Mutex::new(None);

    struct Classification;

    impl Guest for Classification {
        fn configure(config: Config) -> Result<(), ProcessorError> {
            let p = Params::from_json(&config.params).map_err(ProcessorError::InvalidParams)?;
            *STATE.lock().unwrap() = Some((p, config.labels));
            Ok(())
        }

        /// One chunk: the top classes of its scores. Several chunks (a
        /// stream): the top classes of the mean of their per-chunk scores
        /// (after softmax, when enabled).
        fn process(
            outputs: Vec<Vec<Tensor>>,
            _meta: InputMeta,
        ) -> Result<Prediction, ProcessorError> {
            let guard = STATE.lock().unwrap();
            let (p, labels) = guard.as_ref().ok_or_else(|| {
                ProcessorError::Internal("process called before configure".into())
            })?;
            let mut per_chunk = outputs
                .iter()
                .map(|chunk| find(chunk, &p.output)?.to_f32())
                .collect::<Result<Vec<_>, _>>()?;
            for (i, scores) in per_chunk.iter().enumerate() {
                if let Some((class, v)) = scores.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    return Err(ProcessorError::InvalidTensor(format!(
                        "chunk {i}: the model's score for class {class} is {v}"
                    )));
                }
            }
            let (scores, p) = match per_chunk.len() {
                0 => return Err(ProcessorError::InvalidTensor("no outputs".into())),
                1 => (per_chunk.remove(0), p.clone()),
                n => {
                    let mut mean = vec![0.0f32; per_chunk[0].len()];
                    for s in &per_chunk {
                        let s = if p.softmax { softmax(s) } else { s.clone() };
                        if s.len() != mean.len() {
                            return Err(ProcessorError::InvalidTensor(
                                "chunks gave scores of different lengths".into(),
                            ));
                        }
                        mean.iter_mut().zip(s).for_each(|(m, v)| *m += v / n as f32);
                    }
                    (
                        mean,
                        Params {
                            softmax: false,
                            ..p.clone()
                        },
                    )
                }
            };
            if !labels.is_empty() && labels.len() != scores.len() {
                return Err(ProcessorError::InvalidTensor(format!(
                    "the model gives {} scores but the app has {} labels",
                    scores.len(),
                    labels.len()
                )));
            }
            Ok(Prediction::Classes(
                top_k(&scores, &p)
                    .into_iter()
                    .map(|(id, score)| ClassScore {
                        id,
                        label: labels.get(id as usize).cloned(),
                        score,
                    })
                    .collect(),
            ))
        }
    }

    lpdnn_sdk::export_postprocessor!(Classification);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_best_first_after_softmax() {
        let p = Params::from_json(r#"{"top_k": 2}"#).unwrap();
        let best = top_k(&[1.0, 3.0, 2.0, 0.0], &p);
        assert_eq!(best.iter().map(|b| b.0).collect::<Vec<_>>(), vec![1, 2]);
        let total: f32 = softmax(&[1.0, 3.0, 2.0, 0.0]).iter().sum();
        assert!((total - 1.0).abs() < 1e-6);
        assert!((best[0].1 - 0.6439).abs() < 1e-3, "{best:?}");
    }

    #[test]
    fn raw_scores_without_softmax_and_k_above_len() {
        let p = Params::from_json(r#"{"softmax": false, "top_k": 10}"#).unwrap();
        assert_eq!(top_k(&[0.5, 0.25], &p), vec![(0, 0.5), (1, 0.25)]);
    }

    #[test]
    fn bad_params_are_refused() {
        assert!(Params::from_json(r#"{"top_k": 0}"#)
            .unwrap_err()
            .contains("top_k"));
        assert!(Params::from_json(r#"{"topk": 1}"#)
            .unwrap_err()
            .contains("topk"));
    }
}
