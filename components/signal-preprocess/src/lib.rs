//! The sensor-signal pre-processor component.
//!
//! Reads a multi-channel recording (CSV with one column per channel, or
//! packed little-endian f32 samples, interleaved) and, per channel, in this
//! order: `detrend` (`scipy.signal.detrend`), `filters` (FIR by
//! `scipy.signal.firwin` + `lfilter`, or IIR as second-order sections by
//! `sosfilt`), resampling to `target_rate` (`resample_poly`), `normalize`
//! (`zscore`, `minmax`, `peak`); then cuts the stream into chunks and
//! applies `window` to each.

#![warn(missing_docs)]

use lpdnn_dsp::chunk::Chunking;
use lpdnn_dsp::resample::Resampler;
use lpdnn_dsp::{filter, resample, window, Error, Output};
use serde::Deserialize;

/// One filter stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Filter {
    /// A windowed-sinc FIR, designed as `firwin(numtaps, cutoff, window, pass_zero, fs)`.
    Fir {
        /// Taps (odd for high-pass and band-stop).
        numtaps: usize,
        /// Band edges in Hz.
        cutoff: Vec<f64>,
        /// Design window (default `hamming`, as scipy).
        #[serde(default = "d_fir_window")]
        window: String,
        /// Whether the band at 0 Hz passes (true: low-pass).
        #[serde(default = "yes")]
        pass_zero: bool,
    },
    /// FIR taps given directly (`lfilter(b, [1], x)`).
    Taps(Vec<f64>),
    /// An IIR biquad cascade: rows `[b0, b1, b2, 1, a1, a2]` (e.g. from
    /// `scipy.signal.butter(..., output="sos")`).
    Sos(Vec<[f64; 6]>),
}

/// Parameters, as written in app.json.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// `csv` (default) or `f32` (packed little-endian, interleaved).
    #[serde(default = "d_format")]
    pub format: String,
    /// Channels of an `f32` input (a CSV has one per column).
    #[serde(default)]
    pub channels: Option<usize>,
    /// Columns of a CSV to keep, 0-based (default: all).
    #[serde(default)]
    pub columns: Option<Vec<usize>>,
    /// Sample rate of the input, Hz.
    #[serde(default = "d_rate")]
    pub sample_rate: f64,
    /// Resample to this rate (integral rates; polyphase).
    #[serde(default)]
    pub target_rate: Option<f64>,
    /// `linear` or `constant`.
    #[serde(default)]
    pub detrend: Option<String>,
    /// Filters, applied in order.
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// `zscore`, `minmax` or `peak`, per channel.
    #[serde(default)]
    pub normalize: Option<String>,
    /// Samples per chunk after resampling (0: one chunk).
    #[serde(default)]
    pub chunk_length: usize,
    /// Samples between chunk starts; default `chunk_length`.
    #[serde(default)]
    pub chunk_hop: Option<usize>,
    /// Zero-pad the last partial chunk (else drop it).
    #[serde(default = "yes")]
    pub pad_end: bool,
    /// Window multiplied onto each chunk (`hann`, `hamming`, ...; symmetric).
    #[serde(default)]
    pub window: Option<String>,
    /// Longest input accepted, in samples per channel.
    #[serde(default = "d_max_samples")]
    pub max_samples: usize,
    /// Name of the model input (empty: by position).
    #[serde(default)]
    pub input: String,
    /// Tensor axes from `b` (batch), `c` (channels), `t` (time): `bct` (default) or `btc`, `ct`, `tc`.
    #[serde(default = "d_layout")]
    pub layout: String,
}

fn yes() -> bool {
    true
}
fn d_fir_window() -> String {
    "hamming".into()
}
fn d_format() -> String {
    "csv".into()
}
fn d_rate() -> f64 {
    1.0
}
fn d_max_samples() -> usize {
    10_000_000
}
fn d_layout() -> String {
    "bct".into()
}

/// Facts for the post-processor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Meta {
    /// Rate after resampling, Hz.
    pub sample_rate: f64,
    /// Samples per channel after resampling.
    pub samples: u64,
    /// Channels.
    pub channels: u32,
    /// Samples between chunk starts (0: one chunk).
    pub hop: u32,
}

/// A checked configuration.
#[derive(Debug, Clone)]
pub struct Pipeline {
    p: Params,
    stages: Vec<Stage>,
    resampler: Option<Resampler>,
    chunking: Option<Chunking>,
}

#[derive(Debug, Clone)]
enum Stage {
    Fir(Vec<f64>),
    Sos(Vec<[f64; 6]>),
}

impl Pipeline {
    /// Parses and checks params JSON text.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let p: Params = serde_json::from_str(text).map_err(|e| Error::Params(e.to_string()))?;
        Self::new(p)
    }

    /// Checks the parameters and designs the filters.
    pub fn new(p: Params) -> Result<Self, Error> {
        let bad = |m: String| Err(Error::Params(m));
        if p.sample_rate.is_nan() || p.sample_rate <= 0.0 {
            return bad("sample_rate must be positive".into());
        }
        match p.format.as_str() {
            "csv" => {}
            "f32" if p.channels.is_some_and(|c| c > 0) => {}
            "f32" => return bad("format f32 needs \"channels\" (at least 1)".into()),
            other => return bad(format!("format '{other}' is not supported (csv, f32)")),
        }
        let nyquist = p.sample_rate / 2.0;
        let stages = p
            .filters
            .iter()
            .enumerate()
            .map(|(i, f)| match f {
                Filter::Fir {
                    numtaps,
                    cutoff,
                    window,
                    pass_zero,
                } => {
                    let norm: Vec<f64> = cutoff.iter().map(|c| c / nyquist).collect();
                    resample::firwin(*numtaps, &norm, window, 0.0, *pass_zero)
                        .map(Stage::Fir)
                        .map_err(|e| Error::Params(format!("filters[{i}]: {e}")))
                }
                Filter::Taps(b) if b.is_empty() => {
                    Err(Error::Params(format!("filters[{i}]: no taps")))
                }
                Filter::Taps(b) => Ok(Stage::Fir(b.clone())),
                Filter::Sos(s) => {
                    filter::sosfilt(s, &[])
                        .map_err(|e| Error::Params(format!("filters[{i}]: {e}")))?;
                    Ok(Stage::Sos(s.clone()))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let resampler = match p.target_rate {
            None => None,
            Some(t) if t > 0.0 && t.fract() == 0.0 && p.sample_rate.fract() == 0.0 => {
                Some(Resampler::new(p.sample_rate as u64, t as u64)?)
            }
            Some(t) => {
                return bad(format!(
                    "target_rate {t} and sample_rate {} must be positive whole numbers of Hz",
                    p.sample_rate
                ))
            }
        };
        let chunking = match p.chunk_length {
            0 => None,
            n => Some(Chunking::new(n, p.chunk_hop.unwrap_or(n), 0, p.pad_end)?),
        };
        if let Some(d) = &p.detrend {
            filter::detrend(&[0.0], d)?;
        }
        if let Some(n) = &p.normalize {
            filter::normalize(&mut [0.0], n)?;
        }
        if let Some(w) = &p.window {
            window::get(w, 4, false, 0.0)?;
        }
        if !["bct", "btc", "ct", "tc"].contains(&p.layout.as_str()) {
            return bad(format!(
                "layout '{}' is not one of bct, btc, ct, tc",
                p.layout
            ));
        }
        Ok(Pipeline {
            p,
            stages,
            resampler,
            chunking,
        })
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.p
    }

    /// Parses the input into channels.
    pub fn parse(&self, bytes: &[u8]) -> Result<Vec<Vec<f64>>, Error> {
        let p = &self.p;
        let channels = if p.format == "f32" {
            let c = p.channels.unwrap_or(1);
            if !bytes.len().is_multiple_of(4 * c) {
                return Err(Error::Input(format!(
                    "raw f32 input of {} bytes is not a whole number of {c}-channel frames ({} bytes each)",
                    bytes.len(),
                    4 * c
                )));
            }
            let values: Vec<f64> = bytes
                .chunks_exact(4)
                .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect();
            (0..c)
                .map(|k| values.iter().skip(k).step_by(c).copied().collect())
                .collect()
        } else {
            parse_csv(bytes, p.columns.as_deref())?
        };
        let n = channels.first().map_or(0, Vec::len);
        if n == 0 {
            return Err(Error::Input("the signal holds no sample".into()));
        }
        if n > p.max_samples {
            return Err(Error::Input(format!(
                "the signal holds {n} samples per channel, over max_samples = {}",
                p.max_samples
            )));
        }
        if let Some((i, _)) = channels
            .iter()
            .flatten()
            .enumerate()
            .find(|(_, v)| !v.is_finite())
        {
            return Err(Error::Input(format!("value {i} is not a finite number")));
        }
        Ok(channels)
    }

    /// Processes one channel up to (not including) chunking.
    pub fn channel(&self, x: &[f64]) -> Result<Vec<f64>, Error> {
        let p = &self.p;
        let mut y = match &p.detrend {
            Some(d) => filter::detrend(x, d)?,
            None => x.to_vec(),
        };
        for s in &self.stages {
            y = match s {
                Stage::Fir(b) => filter::lfilter(b, &[1.0], &y)?,
                Stage::Sos(sos) => filter::sosfilt(sos, &y)?,
            };
        }
        if let Some(r) = &self.resampler {
            y = r.process(&y);
        }
        if let Some(n) = &p.normalize {
            filter::normalize(&mut y, n)?;
        }
        Ok(y)
    }

    /// Parses and processes one recording.
    pub fn process(&self, bytes: &[u8]) -> Result<(Vec<Output>, Meta), Error> {
        let channels = self
            .parse(bytes)?
            .iter()
            .map(|c| self.channel(c))
            .collect::<Result<Vec<_>, _>>()?;
        let samples = channels[0].len();
        let per_channel: Vec<Vec<Vec<f64>>> = match &self.chunking {
            Some(c) => channels
                .iter()
                .map(|x| c.split(x))
                .collect::<Result<_, _>>()?,
            None => channels.iter().map(|x| vec![x.clone()]).collect(),
        };
        let win = match &self.p.window {
            Some(w) => Some(window::get(w, per_channel[0][0].len(), false, 0.0)?),
            None => None,
        };
        let (c, count) = (per_channel.len(), per_channel[0].len());
        let outputs = (0..count)
            .map(|i| {
                let t = per_channel[0][i].len();
                let at = |k: usize, j: usize| {
                    let v = per_channel[k][i][j];
                    (win.as_ref().map_or(v, |w| v * w[j])) as f32
                };
                let time_last = self.p.layout.ends_with('t');
                let values = if time_last {
                    (0..c).flat_map(|k| (0..t).map(move |j| at(k, j))).collect()
                } else {
                    (0..t).flat_map(|j| (0..c).map(move |k| at(k, j))).collect()
                };
                let mut shape = if time_last {
                    vec![c as u32, t as u32]
                } else {
                    vec![t as u32, c as u32]
                };
                if self.p.layout.starts_with('b') {
                    shape.insert(0, 1);
                }
                Output { shape, values }
            })
            .collect();
        let rate = self.p.target_rate.unwrap_or(self.p.sample_rate);
        Ok((
            outputs,
            Meta {
                sample_rate: rate,
                samples: samples as u64,
                channels: c as u32,
                hop: self.chunking.map_or(0, |c| c.hop as u32),
            },
        ))
    }
}

/// Parses CSV text: one row per sample, one column per channel; a first
/// row that is not numeric is a header.
fn parse_csv(bytes: &[u8], columns: Option<&[usize]>) -> Result<Vec<Vec<f64>>, Error> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::Input(format!("the CSV is not UTF-8 text: {e}")))?;
    let mut out: Vec<Vec<f64>> = Vec::new();
    let mut width = None;
    for (line_no, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split([',', ';', '\t']).map(str::trim).collect();
        let parsed: Result<Vec<f64>, _> = fields.iter().map(|f| f.parse::<f64>()).collect();
        let row = match parsed {
            Ok(r) => r,
            Err(_) if width.is_none() && out.is_empty() => {
                width = Some(fields.len()); // a header
                continue;
            }
            Err(e) => {
                return Err(Error::Input(format!(
                    "CSV line {}: {e} in '{line}'",
                    line_no + 1
                )))
            }
        };
        let w = *width.get_or_insert(row.len());
        if row.len() != w {
            return Err(Error::Input(format!(
                "CSV line {}: {} fields, expected {w}",
                line_no + 1,
                row.len()
            )));
        }
        let keep: Vec<usize> = columns.map_or_else(|| (0..w).collect(), <[usize]>::to_vec);
        if out.is_empty() {
            if let Some(&bad) = keep.iter().find(|&&k| k >= w) {
                return Err(Error::Input(format!(
                    "column {bad} does not exist (the CSV has {w})"
                )));
            }
            out = vec![Vec::new(); keep.len()];
        }
        for (o, k) in out.iter_mut().zip(keep) {
            o.push(row[k]);
        }
    }
    if out.is_empty() {
        return Err(Error::Input("the CSV holds no numeric row".into()));
    }
    Ok(out)
}

#[cfg(target_arch = "wasm32")]
mod component {
    use lpdnn_sdk::{
        signal::Guest, Config, Configured, InputMeta, Preprocessed, ProcessorError, SignalMeta,
    };

    use super::Pipeline;

    static PIPELINE: Configured<Pipeline> = Configured::new();

    struct SignalPreprocessor;

    impl Guest for SignalPreprocessor {
        fn configure(config: Config) -> Result<(), ProcessorError> {
            PIPELINE.set(Pipeline::from_json(&config.params)?);
            Ok(())
        }

        fn process(signal: Vec<u8>) -> Result<Preprocessed, ProcessorError> {
            PIPELINE.with(|p| {
                let (outputs, meta) = p.process(&signal)?;
                Ok(Preprocessed {
                    chunks: lpdnn_dsp::wit_chunks(outputs, &p.params().input),
                    meta: InputMeta::Signal(SignalMeta {
                        sample_rate: meta.sample_rate as f32,
                        samples: meta.samples,
                        channels: meta.channels,
                        hop: meta.hop,
                    }),
                })
            })
        }
    }

    lpdnn_sdk::export_signal_preprocessor!(SignalPreprocessor);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_header_two_channels_chunked() {
        let p = Pipeline::from_json(r#"{"chunk_length": 4, "layout": "btc"}"#).unwrap();
        let csv = b"ax,ay\n1,10\n2,20\n3,30\n4,40\n5,50\n";
        let (out, meta) = p.process(csv).unwrap();
        assert_eq!(meta.channels, 2);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].shape, vec![1, 4, 2]);
        assert_eq!(&out[0].values[..4], &[1.0, 10.0, 2.0, 20.0]);
        assert_eq!(&out[1].values[..4], &[5.0, 50.0, 0.0, 0.0]);
    }

    #[test]
    fn errors_name_the_problem() {
        let p = Pipeline::from_json("{}").unwrap();
        assert!(p
            .process(b"1,2\n3\n")
            .unwrap_err()
            .to_string()
            .contains("line 2"));
        assert!(p
            .process(b"")
            .unwrap_err()
            .to_string()
            .contains("no numeric row"));
        let raw = Pipeline::from_json(r#"{"format": "f32", "channels": 3}"#).unwrap();
        assert!(raw
            .process(&[0u8; 8])
            .unwrap_err()
            .to_string()
            .contains("frames"));
        assert!(Pipeline::from_json(r#"{"format": "f32"}"#).is_err());
        assert!(Pipeline::from_json(r#"{"filters": [{"fir": {"numtaps": 10, "cutoff": [5], "pass_zero": false}}], "sample_rate": 100}"#).is_err());
        assert!(Pipeline::from_json(r#"{"filters": [{"sos": [[1,0,0,2,0,0]]}]}"#).is_err());
    }
}
