//! The segments post-processor component: folds per-chunk probabilities
//! (one scalar output per chunk, e.g. silero-vad's speech probability) into
//! time segments, with the rules of silero-vad's `get_speech_timestamps`:
//! hysteresis between `threshold` and `neg_threshold`, `min_silence_duration_ms`
//! before a segment ends, `min_speech_duration_ms` to keep it, and
//! `speech_pad_ms` of padding (halved between close segments). A segment's
//! score is the mean probability of its chunks. Chunk `i` stands for
//! samples from `i * hop` (the `hop` of the audio or signal meta).

#![warn(missing_docs)]

use serde::Deserialize;

/// Parameters, as written in app.json (silero-vad's names and defaults).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Probability at or above which a chunk is speech.
    #[serde(default = "d_threshold")]
    pub threshold: f32,
    /// Probability below which speech may end; default `threshold - 0.15`.
    #[serde(default)]
    pub neg_threshold: Option<f32>,
    /// Shorter segments are dropped.
    #[serde(default = "d_min_speech")]
    pub min_speech_duration_ms: f64,
    /// Silence that must pass before a segment ends.
    #[serde(default = "d_min_silence")]
    pub min_silence_duration_ms: f64,
    /// Padding added on each side of a segment.
    #[serde(default = "d_pad")]
    pub speech_pad_ms: f64,
    /// Model output holding the probability (empty: the first).
    #[serde(default)]
    pub output: String,
}

fn d_threshold() -> f32 {
    0.5
}
fn d_min_speech() -> f64 {
    250.0
}
fn d_min_silence() -> f64 {
    100.0
}
fn d_pad() -> f64 {
    30.0
}

impl Params {
    /// Parses and checks params JSON text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let p: Params = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if !(0.0..=1.0).contains(&p.threshold) {
            return Err(format!("threshold {} must lie in [0, 1]", p.threshold));
        }
        if let Some(neg) = p.neg_threshold.filter(|n| !(0.0..=1.0).contains(n)) {
            return Err(format!("neg_threshold {neg} must lie in [0, 1]"));
        }
        if p.min_speech_duration_ms < 0.0
            || p.min_silence_duration_ms < 0.0
            || p.speech_pad_ms < 0.0
        {
            return Err("durations must not be negative".into());
        }
        Ok(p)
    }
}

/// A segment in samples: `[start, end)` and its mean probability.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// First sample.
    pub start: u64,
    /// One past the last sample.
    pub end: u64,
    /// Mean probability of its chunks.
    pub score: f32,
}

/// Folds per-chunk probabilities into segments of a stream of `total`
/// samples at `rate` Hz, chunk `i` starting at sample `i * hop`.
pub fn fold(probs: &[f32], hop: u64, rate: f64, total: u64, p: &Params) -> Vec<Span> {
    let ms = |v: f64| (rate * v / 1000.0) as u64;
    let (min_speech, min_silence, pad) = (
        ms(p.min_speech_duration_ms),
        ms(p.min_silence_duration_ms),
        ms(p.speech_pad_ms),
    );
    let neg = p.neg_threshold.unwrap_or((p.threshold - 0.15).max(0.01));
    let mut spans: Vec<(u64, u64, usize, usize)> = Vec::new(); // start, end, first chunk, last chunk
    let mut current: Option<(u64, usize)> = None;
    let mut temp_end: Option<(u64, usize)> = None;
    for (i, &prob) in probs.iter().enumerate() {
        let at = hop.saturating_mul(i as u64);
        if prob >= p.threshold {
            temp_end = None;
            if current.is_none() {
                current = Some((at, i));
            }
            continue;
        }
        if let (Some((start, first)), true) = (current, prob < neg) {
            let (end, last) = *temp_end.get_or_insert((at, i));
            if at - end >= min_silence {
                if end - start > min_speech {
                    spans.push((start, end, first, last));
                }
                current = None;
                temp_end = None;
            }
        }
    }
    if let Some((start, first)) = current {
        if total.saturating_sub(start) > min_speech {
            spans.push((start, total, first, probs.len()));
        }
    }
    let mut out: Vec<Span> = spans
        .iter()
        .map(|&(start, end, a, b)| {
            let chunk = &probs[a..b.max(a + 1).min(probs.len())];
            Span {
                start,
                end,
                score: chunk.iter().sum::<f32>() / chunk.len() as f32,
            }
        })
        .collect();
    for i in 0..out.len() {
        if i == 0 {
            out[0].start = out[0].start.saturating_sub(pad);
        }
        if i + 1 < out.len() {
            let gap = out[i + 1].start - out[i].end;
            if gap < 2 * pad {
                out[i].end += gap / 2;
                out[i + 1].start = out[i + 1].start.saturating_sub(gap / 2);
            } else {
                out[i].end = out[i].end.saturating_add(pad).min(total);
                out[i + 1].start = out[i + 1].start.saturating_sub(pad);
            }
        } else {
            out[i].end = out[i].end.saturating_add(pad).min(total);
        }
    }
    out
}

#[cfg(target_arch = "wasm32")]
mod component {
    use lpdnn_sdk::post::{Guest, Prediction, Segment};
    use lpdnn_sdk::{find, Config, Configured, InputMeta, ProcessorError, Tensor};

    use super::{fold, Params};

    static STATE: Configured<(Params, Option<String>)> = Configured::new();

    struct Segments;

    impl Guest for Segments {
        fn configure(config: Config) -> Result<(), ProcessorError> {
            let p = Params::from_json(&config.params).map_err(ProcessorError::InvalidParams)?;
            STATE.set((p, config.labels.first().cloned()));
            Ok(())
        }

        fn process(
            outputs: Vec<Vec<Tensor>>,
            meta: InputMeta,
        ) -> Result<Prediction, ProcessorError> {
            STATE.with(|(p, label)| {
                let (rate, total, hop) = match meta {
                    InputMeta::Audio(a) => (f64::from(a.sample_rate), a.samples, a.hop),
                    InputMeta::Signal(s) => (f64::from(s.sample_rate), s.samples, s.hop),
                    _ => {
                        return Err(ProcessorError::InvalidTensor(
                            "segments need the audio or signal meta of a chunked stream".into(),
                        ))
                    }
                };
                if !(rate.is_finite() && rate > 0.0) {
                    return Err(ProcessorError::InvalidTensor(format!(
                        "the input's sample rate is {rate}; segments need a positive rate"
                    )));
                }
                let hop = if hop == 0 { total } else { u64::from(hop) };
                let probs = outputs
                    .iter()
                    .enumerate()
                    .map(|(i, chunk)| {
                        let v = find(chunk, &p.output)?.to_f32()?;
                        let prob = v.first().copied().ok_or_else(|| {
                            ProcessorError::InvalidTensor(format!("chunk {i}: the output is empty"))
                        })?;
                        if !(0.0..=1.0).contains(&prob) {
                            return Err(ProcessorError::InvalidTensor(format!(
                                "chunk {i}: output '{}' is {prob}, not a probability in [0, 1]",
                                p.output
                            )));
                        }
                        Ok(prob)
                    })
                    .collect::<Result<Vec<f32>, _>>()?;
                Ok(Prediction::Segments(
                    fold(&probs, hop, rate, total, p)
                        .into_iter()
                        .map(|s| Segment {
                            start_s: (s.start as f64 / rate) as f32,
                            end_s: (s.end as f64 / rate) as f32,
                            score: s.score,
                            label: label.clone(),
                        })
                        .collect(),
                ))
            })
        }
    }

    lpdnn_sdk::export_postprocessor!(Segments);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_burst_gives_one_padded_segment() {
        let p = Params::from_json("{}").unwrap();
        // 512-sample chunks at 16 kHz: silence, 1 s of speech, silence.
        let mut probs = vec![0.02; 31];
        probs.extend(vec![0.9; 31]);
        probs.extend(vec![0.02; 31]);
        let s = fold(&probs, 512, 16000.0, 93 * 512, &p);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].start, 31 * 512 - 480);
        assert_eq!(s[0].end, 62 * 512 + 480);
        assert!((s[0].score - 0.9).abs() < 1e-6);
    }

    #[test]
    fn short_blips_are_dropped_and_params_checked() {
        let p = Params::from_json("{}").unwrap();
        let mut probs = vec![0.0; 10];
        probs[3] = 0.9;
        assert!(fold(&probs, 512, 16000.0, 5120, &p).is_empty());
        assert!(Params::from_json(r#"{"threshold": 2}"#).is_err());
        assert!(Params::from_json(r#"{"treshold": 0.5}"#).is_err());
    }
}
