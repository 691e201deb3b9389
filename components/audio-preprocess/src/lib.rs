//! The audio pre-processor component.
//!
//! Decodes an untrusted WAV file inside the sandbox and turns it into the
//! model's input, chunk by chunk. Parameters carry librosa's names and
//! defaults (`sr`, `n_fft`, `hop_length`, `win_length`, `window`, `center`,
//! `pad_mode`, `power`, `n_mels`, `fmin`, `fmax`, `htk`, `norm`, `ref`,
//! `amin`, `top_db`, `n_mfcc`, `lifter`), so `features: "mfcc"` equals
//! `librosa.feature.mfcc(y=librosa.load(f, sr=sr, res_type="polyphase")[0], ...)`.
//! See `docs/authoring-components.md` for the full table.

#![warn(missing_docs)]

use lpdnn_dsp::chunk::Chunking;
use lpdnn_dsp::resample::Resampler;
use lpdnn_dsp::spectral::{self, Matrix, Mel, Stft};
use lpdnn_dsp::{filter, wav, Error, Output};
use serde::Deserialize;

/// What the model receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Features {
    /// The (resampled, mono) samples themselves.
    Waveform,
    /// `|stft| ** power`.
    Spectrogram,
    /// `librosa.feature.melspectrogram`.
    Melspectrogram,
    /// `librosa.power_to_db(melspectrogram)`.
    LogMel,
    /// `librosa.feature.mfcc`.
    Mfcc,
}

/// Parameters, as written in app.json.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Sample rate the model expects, Hz (librosa's default 22050).
    #[serde(default = "d_sr")]
    pub sr: u32,
    /// Resample other rates to `sr` (polyphase, as scipy's `resample_poly`);
    /// `false` refuses them.
    #[serde(default = "yes")]
    pub resample: bool,
    /// Longest input accepted, in seconds.
    #[serde(default = "d_max_seconds")]
    pub max_seconds: f64,
    /// Pre-emphasis coefficient (`librosa.effects.preemphasis`); none by default.
    #[serde(default)]
    pub preemphasis: Option<f64>,
    /// What the model receives.
    #[serde(default = "d_features")]
    pub features: Features,
    /// FFT length.
    #[serde(default = "d_n_fft")]
    pub n_fft: usize,
    /// Samples between frames; default `n_fft / 4`.
    #[serde(default)]
    pub hop_length: Option<usize>,
    /// Window length; default `n_fft`.
    #[serde(default)]
    pub win_length: Option<usize>,
    /// `hann`, `hamming`, `blackman` or `rectangular`.
    #[serde(default = "d_window")]
    pub window: String,
    /// Centre frames on their samples (pad `n_fft / 2` each side).
    #[serde(default = "yes")]
    pub center: bool,
    /// `constant` or `reflect`.
    #[serde(default = "d_pad_mode")]
    pub pad_mode: String,
    /// Magnitude exponent (2: power).
    #[serde(default = "d_power")]
    pub power: f64,
    /// Mel bands.
    #[serde(default = "d_n_mels")]
    pub n_mels: usize,
    /// Lowest mel frequency, Hz.
    #[serde(default)]
    pub fmin: f64,
    /// Highest mel frequency, Hz; default `sr / 2`.
    #[serde(default)]
    pub fmax: Option<f64>,
    /// HTK mel scale instead of Slaney's.
    #[serde(default)]
    pub htk: bool,
    /// `"slaney"` (default) or `null`.
    #[serde(default = "d_norm")]
    pub norm: Option<String>,
    /// dB reference power.
    #[serde(default = "d_ref", rename = "ref")]
    pub reference: f64,
    /// Smallest power before the logarithm.
    #[serde(default = "d_amin")]
    pub amin: f64,
    /// Floor at `max - top_db` dB; `null` disables.
    #[serde(default = "d_top_db")]
    pub top_db: Option<f64>,
    /// MFCC coefficients.
    #[serde(default = "d_n_mfcc")]
    pub n_mfcc: usize,
    /// DCT type (only 2, with `norm="ortho"`).
    #[serde(default = "d_dct_type")]
    pub dct_type: u8,
    /// Cepstral liftering (0: none).
    #[serde(default)]
    pub lifter: f64,
    /// Append deltas up to this order (0, 1 or 2) along the feature axis.
    #[serde(default)]
    pub deltas: usize,
    /// `librosa.feature.delta` width.
    #[serde(default = "d_delta_width")]
    pub delta_width: usize,
    /// Features: `cmvn` or `cmn` per feature over frames; waveform: `peak` or `zscore`.
    #[serde(default)]
    pub normalize: Option<String>,
    /// Samples per chunk at `sr` (0: the whole input is one chunk).
    #[serde(default)]
    pub chunk_length: usize,
    /// Samples between chunk starts; default `chunk_length`.
    #[serde(default)]
    pub chunk_hop: Option<usize>,
    /// Zeros before the first chunk (a model's left context).
    #[serde(default)]
    pub pad_start: usize,
    /// Zero-pad the last partial chunk (else drop it).
    #[serde(default = "yes")]
    pub pad_end: bool,
    /// Name of the model input (empty: by position).
    #[serde(default)]
    pub input: String,
    /// Tensor axes, from `b` (batch, 1), `c` (channel, 1), `f` (features)
    /// and `t` (frames, or samples for a waveform); default `bft`, or `bt`
    /// for a waveform.
    #[serde(default)]
    pub layout: Option<String>,
}

fn yes() -> bool {
    true
}
fn d_sr() -> u32 {
    22050
}
fn d_max_seconds() -> f64 {
    600.0
}
fn d_features() -> Features {
    Features::Mfcc
}
fn d_n_fft() -> usize {
    2048
}
fn d_window() -> String {
    "hann".into()
}
fn d_pad_mode() -> String {
    "constant".into()
}
fn d_power() -> f64 {
    2.0
}
fn d_n_mels() -> usize {
    128
}
fn d_norm() -> Option<String> {
    Some("slaney".into())
}
fn d_ref() -> f64 {
    1.0
}
fn d_amin() -> f64 {
    1e-10
}
fn d_top_db() -> Option<f64> {
    Some(80.0)
}
fn d_n_mfcc() -> usize {
    20
}
fn d_dct_type() -> u8 {
    2
}
fn d_delta_width() -> usize {
    9
}

/// A checked configuration, with the reusable parts (resampler, mel
/// filters) built once.
#[derive(Debug, Clone)]
pub struct Pipeline {
    p: Params,
    stft: Stft,
    mel: Option<Matrix>,
    chunking: Option<Chunking>,
    layout: Vec<char>,
}

/// What the post-processor learns about the input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Meta {
    /// Rate of the features, Hz.
    pub sample_rate: u32,
    /// Rate of the file, Hz.
    pub source_rate: u32,
    /// Mono samples at `sample_rate`.
    pub samples: u64,
    /// Channels of the file.
    pub channels: u32,
    /// Samples between chunk starts (0: one chunk).
    pub hop: u32,
}

impl Pipeline {
    /// Parses and checks params JSON text.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let p: Params = serde_json::from_str(text).map_err(|e| Error::Params(e.to_string()))?;
        Self::new(p)
    }

    /// Checks the parameters.
    pub fn new(p: Params) -> Result<Self, Error> {
        let bad = |m: String| Err(Error::Params(m));
        if p.sr == 0 {
            return bad("sr must be positive".into());
        }
        if p.max_seconds.is_nan() || p.max_seconds <= 0.0 {
            return bad("max_seconds must be positive".into());
        }
        if p.dct_type != 2 {
            return bad(format!(
                "dct_type {} is not supported (only 2, orthonormal)",
                p.dct_type
            ));
        }
        if p.deltas > 2 {
            return bad(format!("deltas {} is not supported (0, 1 or 2)", p.deltas));
        }
        let slaney_norm = match p.norm.as_deref() {
            Some("slaney") => true,
            None => false,
            Some(other) => {
                return bad(format!(
                    "norm '{other}' is not supported (\"slaney\" or null)"
                ))
            }
        };
        let stft = Stft {
            n_fft: p.n_fft,
            hop_length: p.hop_length.unwrap_or(p.n_fft / 4),
            win_length: p.win_length.unwrap_or(p.n_fft),
            window: p.window.clone(),
            center: p.center,
            pad_mode: p.pad_mode.clone(),
            power: p.power,
        };
        let needs_mel = matches!(
            p.features,
            Features::Melspectrogram | Features::LogMel | Features::Mfcc
        );
        let mel = if needs_mel {
            Some(
                Mel {
                    n_mels: p.n_mels,
                    fmin: p.fmin,
                    fmax: p.fmax,
                    htk: p.htk,
                    slaney_norm,
                }
                .filters(f64::from(p.sr), p.n_fft)?,
            )
        } else {
            None
        };
        if p.features == Features::Mfcc && (p.n_mfcc == 0 || p.n_mfcc > p.n_mels) {
            return bad(format!(
                "n_mfcc {} must lie in 1..=n_mels ({})",
                p.n_mfcc, p.n_mels
            ));
        }
        if p.features != Features::Waveform {
            // Check the window now rather than on the first input.
            lpdnn_dsp::window::get(&p.window, 4, true, 0.0)?;
        }
        let chunking = match p.chunk_length {
            0 => None,
            n => Some(Chunking::new(
                n,
                p.chunk_hop.unwrap_or(n),
                p.pad_start,
                p.pad_end,
            )?),
        };
        let waveform = p.features == Features::Waveform;
        let layout: Vec<char> = p
            .layout
            .clone()
            .unwrap_or_else(|| if waveform { "bt" } else { "bft" }.into())
            .chars()
            .collect();
        let count = |c: char| layout.iter().filter(|&&x| x == c).count();
        let valid = layout.iter().all(|c| "bcft".contains(*c))
            && count('t') == 1
            && count('b') <= 1
            && count('c') <= 1
            && count('f') == usize::from(!waveform);
        if !valid {
            return bad(format!(
                "layout '{}' must name each axis once from b, c, f, t, with t always and f only for features (not a waveform)",
                layout.iter().collect::<String>()
            ));
        }
        if let Some(n) = &p.normalize {
            let ok = if waveform {
                ["peak", "zscore"].contains(&n.as_str())
            } else {
                ["cmvn", "cmn"].contains(&n.as_str())
            };
            if !ok {
                return bad(format!(
                    "normalize '{n}' does not apply to {} (use {})",
                    if waveform { "a waveform" } else { "features" },
                    if waveform {
                        "peak or zscore"
                    } else {
                        "cmvn or cmn"
                    }
                ));
            }
        }
        Ok(Pipeline {
            p,
            stft,
            mel,
            chunking,
            layout,
        })
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.p
    }

    /// Decodes and processes one WAV file.
    pub fn process(&self, bytes: &[u8]) -> Result<(Vec<Output>, Meta), Error> {
        let p = &self.p;
        let max_samples = (p.max_seconds * 192_000.0 * 8.0) as usize;
        let audio = wav::decode(bytes, max_samples)?;
        let seconds = audio.samples.len() as f64 / f64::from(audio.sample_rate);
        if seconds > p.max_seconds {
            return Err(Error::Input(format!(
                "the recording lasts {seconds:.1} s, over max_seconds = {}",
                p.max_seconds
            )));
        }
        let mut y = if audio.sample_rate == p.sr {
            audio.samples
        } else if p.resample {
            Resampler::new(u64::from(audio.sample_rate), u64::from(p.sr))?.process(&audio.samples)
        } else {
            return Err(Error::Input(format!(
                "wrong sample rate: the file is {} Hz, the app expects {} Hz (set \"resample\": true to convert)",
                audio.sample_rate, p.sr
            )));
        };
        if let Some(c) = p.preemphasis {
            y = filter::preemphasis(&y, c);
        }
        let samples = y.len() as u64;
        let chunks = match &self.chunking {
            Some(c) => c.split(&y)?,
            None => vec![y],
        };
        let outputs = chunks
            .iter()
            .map(|c| self.features(c))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((
            outputs,
            Meta {
                sample_rate: p.sr,
                source_rate: audio.sample_rate,
                samples,
                channels: audio.channels,
                hop: self.chunking.map_or(0, |c| c.hop as u32),
            },
        ))
    }

    /// The features of one chunk of samples.
    pub fn features(&self, y: &[f64]) -> Result<Output, Error> {
        let p = &self.p;
        if p.features == Features::Waveform {
            let mut y = y.to_vec();
            if let Some(n) = &p.normalize {
                filter::normalize(&mut y, n)?;
            }
            return Ok(self.arrange(&[y]));
        }
        let mut s = self.stft.spectrogram(y)?;
        if let Some(mel) = &self.mel {
            s = spectral::apply(mel, &s);
        }
        if matches!(p.features, Features::LogMel | Features::Mfcc) {
            spectral::power_to_db(&mut s, p.reference, p.amin, p.top_db);
        }
        if p.features == Features::Mfcc {
            s = spectral::mfcc_from_log_mel(&s, p.n_mfcc, p.lifter)?;
        }
        if p.deltas > 0 {
            let mut all = s.clone();
            for order in 1..=p.deltas {
                all.extend(spectral::delta(&s, p.delta_width, order)?);
            }
            s = all;
        }
        if let Some(n) = &p.normalize {
            spectral::normalize_features(&mut s, n)?;
        }
        Ok(self.arrange(&s))
    }

    /// Lays a features-by-frames matrix out as the `layout` says.
    fn arrange(&self, s: &[Vec<f64>]) -> Output {
        let (f, t) = (s.len(), s.first().map_or(0, Vec::len));
        let shape = self
            .layout
            .iter()
            .map(|c| match c {
                'f' => f as u32,
                't' => t as u32,
                _ => 1,
            })
            .collect();
        let f_first = self.layout.iter().position(|&c| c == 'f').unwrap_or(0)
            < self.layout.iter().position(|&c| c == 't').unwrap_or(0);
        let values = if f_first || f == 1 {
            s.iter().flatten().map(|&v| v as f32).collect()
        } else {
            (0..t)
                .flat_map(|j| s.iter().map(move |row| row[j] as f32))
                .collect()
        };
        Output { shape, values }
    }
}

#[cfg(target_arch = "wasm32")]
mod component {
    use lpdnn_sdk::{
        audio::Guest, AudioMeta, Config, Configured, InputMeta, Preprocessed, ProcessorError,
    };

    use super::Pipeline;

    static PIPELINE: Configured<Pipeline> = Configured::new();

    struct AudioPreprocessor;

    impl Guest for AudioPreprocessor {
        fn configure(config: Config) -> Result<(), ProcessorError> {
            PIPELINE.set(Pipeline::from_json(&config.params)?);
            Ok(())
        }

        fn process(audio: Vec<u8>) -> Result<Preprocessed, ProcessorError> {
            PIPELINE.with(|p| {
                let (outputs, meta) = p.process(&audio)?;
                Ok(Preprocessed {
                    chunks: lpdnn_dsp::wit_chunks(outputs, &p.params().input),
                    meta: InputMeta::Audio(AudioMeta {
                        sample_rate: meta.sample_rate,
                        source_rate: meta.source_rate,
                        samples: meta.samples,
                        channels: meta.channels,
                        hop: meta.hop,
                    }),
                })
            })
        }
    }

    lpdnn_sdk::export_audio_preprocessor!(AudioPreprocessor);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(sr: u32, seconds: f64) -> Vec<u8> {
        let n = (f64::from(sr) * seconds) as usize;
        let y: Vec<f64> = (0..n)
            .map(|i| 0.3 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / f64::from(sr)).sin())
            .collect();
        wav::encode_pcm16(&y, sr)
    }

    #[test]
    fn mfcc_shape_and_layouts() {
        let p = Pipeline::from_json(r#"{"sr": 16000, "n_fft": 512, "n_mels": 40, "n_mfcc": 13}"#)
            .unwrap();
        let (out, meta) = p.process(&tone(16000, 1.0)).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].shape, vec![1, 13, 1 + 16000 / 128]);
        assert_eq!(meta.hop, 0);
        let p = Pipeline::from_json(r#"{"sr": 16000, "n_fft": 512, "n_mels": 40, "n_mfcc": 13, "layout": "btf", "deltas": 2}"#).unwrap();
        let (out, _) = p.process(&tone(16000, 1.0)).unwrap();
        assert_eq!(out[0].shape, vec![1, 126, 39]);
    }

    #[test]
    fn waveform_chunks_with_context() {
        let p = Pipeline::from_json(
            r#"{"sr": 16000, "features": "waveform", "chunk_length": 576, "chunk_hop": 512, "pad_start": 64}"#,
        )
        .unwrap();
        let (out, meta) = p.process(&tone(22050, 1.0)).unwrap();
        assert_eq!(meta.samples, 16000);
        assert_eq!(meta.source_rate, 22050);
        assert_eq!(out.len(), 32); // ceil(16000 / 512)
        assert!(out.iter().all(|o| o.shape == vec![1, 576]));
    }

    #[test]
    fn bad_params_and_input() {
        for bad in [
            r#"{"features": "chroma"}"#,
            r#"{"n_mfcc": 200}"#,
            r#"{"layout": "bt"}"#,
            r#"{"window": "triangle"}"#,
            r#"{"nfft": 512}"#,
            r#"{"normalize": "peak"}"#,
        ] {
            assert!(
                matches!(Pipeline::from_json(bad), Err(Error::Params(_))),
                "{bad}"
            );
        }
        let strict = Pipeline::from_json(r#"{"sr": 16000, "resample": false}"#).unwrap();
        let e = strict.process(&tone(22050, 0.5)).unwrap_err();
        assert!(e.to_string().contains("wrong sample rate"), "{e}");
    }
}
