//! `rms-energy`: an audio pre-processor that turns a WAV file into its
//! frame-by-frame RMS energy, `[1, frames]` (as `librosa.feature.rms` with
//! `center=False`). Parameters: `{"frame_length": 2048, "hop_length": 512}`.

use std::io::Cursor;

use lpdnn_sdk::{
    audio::Guest, AudioMeta, Config, Configured, InputMeta, Preprocessed, ProcessorError, Tensor,
};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "frame")]
    frame_length: usize,
    #[serde(default = "hop")]
    hop_length: usize,
}

fn frame() -> usize {
    2048
}
fn hop() -> usize {
    512
}

static PARAMS: Configured<Params> = Configured::new();

struct RmsEnergy;

impl Guest for RmsEnergy {
    fn configure(config: Config) -> Result<(), ProcessorError> {
        let p: Params = lpdnn_sdk::params(&config)?;
        if p.frame_length == 0 || p.hop_length == 0 {
            return Err(ProcessorError::InvalidParams(
                "frame_length and hop_length must be positive".into(),
            ));
        }
        PARAMS.set(p);
        Ok(())
    }

    fn process(audio: Vec<u8>) -> Result<Preprocessed, ProcessorError> {
        PARAMS.with(|p| {
            let bad = |e: hound::Error| {
                ProcessorError::InvalidInput(format!("cannot decode the WAV file: {e}"))
            };
            let reader = hound::WavReader::new(Cursor::new(&audio)).map_err(bad)?;
            let spec = reader.spec();
            if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
                return Err(ProcessorError::InvalidInput(
                    "rms-energy reads 16-bit PCM only".into(),
                ));
            }
            let channels = usize::from(spec.channels);
            let samples: Vec<f32> = reader
                .into_samples::<i16>()
                .collect::<Result<Vec<_>, _>>()
                .map_err(bad)?
                .chunks_exact(channels)
                .map(|f| f.iter().map(|&s| f32::from(s) / 32768.0).sum::<f32>() / channels as f32)
                .collect();
            if samples.len() < p.frame_length {
                return Err(ProcessorError::InvalidInput(
                    "shorter than one frame".into(),
                ));
            }
            let rms: Vec<f32> = samples
                .windows(p.frame_length)
                .step_by(p.hop_length)
                .map(|w| (w.iter().map(|x| x * x).sum::<f32>() / w.len() as f32).sqrt())
                .collect();
            Ok(Preprocessed {
                chunks: vec![vec![Tensor::from_f32("", &[1, rms.len() as u32], &rms)]],
                meta: InputMeta::Audio(AudioMeta {
                    sample_rate: spec.sample_rate,
                    source_rate: spec.sample_rate,
                    samples: samples.len() as u64,
                    channels: u32::from(spec.channels),
                    hop: 0,
                }),
            })
        })
    }
}

lpdnn_sdk::export_audio_preprocessor!(RmsEnergy);
