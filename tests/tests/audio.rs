//! The audio and signal pre-processor components against librosa and
//! scipy.signal (reference arrays made by scripts/audio/make_assets.py),
//! the VAD app against the known boundaries of the synthesized speech, and
//! bad audio input.

mod common;

use common::{assert_close, asset, example, npy, runtime};
use lpdnn_app::{App, Pipeline, Prediction, RunOptions};
use lpdnn_runtime::{ProcessorErrorKind, RuntimeError};

/// Runs the audio component on `wav` with `params`; returns the chunks' f32 values and shapes.
fn audio(wav: &str, params: &str) -> Vec<(Vec<usize>, Vec<f32>)> {
    let cache = tempfile::tempdir().unwrap();
    let mut pre = runtime(cache.path())
        .preprocessor(&asset("components/audio_preprocess.wasm"), params, &[])
        .unwrap();
    let bytes = std::fs::read(asset(wav)).unwrap();
    pre.process(&bytes)
        .unwrap()
        .chunks
        .into_iter()
        .map(|mut c| {
            let t = c.remove(0);
            (t.shape().to_vec(), t.to_f32().unwrap())
        })
        .collect()
}

fn check(reference: &str, params: &str) {
    let (shape, want) = npy(&asset(&format!("reference/audio/{reference}.npy")));
    let out = audio("audio/speech.wav", params);
    assert_eq!(out.len(), 1);
    let (got_shape, got) = &out[0];
    assert_eq!(got_shape[1..], shape[..], "{reference}: shape");
    assert_close(reference, got, &want, 1e-4, 1e-5);
}

#[test]
fn mfcc_equals_librosa() {
    check(
        "mfcc_22050",
        r#"{"sr": 22050, "features": "mfcc", "n_mfcc": 20}"#,
    );
}

#[test]
fn log_mel_with_htk_scale_hamming_window_and_no_norm_equals_librosa() {
    check(
        "logmel_htk_22050",
        r#"{"sr": 22050, "features": "log_mel", "n_fft": 1024, "hop_length": 256, "n_mels": 64,
            "htk": true, "norm": null, "window": "hamming", "top_db": null}"#,
    );
}

#[test]
fn mfcc_deltas_equal_librosa() {
    check(
        "mfcc_deltas_22050",
        r#"{"sr": 22050, "n_mfcc": 20, "deltas": 2, "delta_width": 9}"#,
    );
}

#[test]
fn per_feature_normalization_equals_numpy() {
    check(
        "mfcc_cmvn_22050",
        r#"{"sr": 22050, "n_mfcc": 20, "normalize": "cmvn"}"#,
    );
}

#[test]
fn preemphasis_and_liftering_equal_librosa() {
    check(
        "mfcc_preemph_lifter_22050",
        r#"{"sr": 22050, "n_mfcc": 13, "preemphasis": 0.97, "lifter": 22}"#,
    );
}

#[test]
fn polyphase_resampling_equals_librosa() {
    let (_, want) = npy(&asset("reference/audio/waveform_16000.npy"));
    let out = audio(
        "audio/speech.wav",
        r#"{"sr": 16000, "features": "waveform"}"#,
    );
    assert_close("waveform_16000", &out[0].1, &want, 1e-6, 0.0);
}

#[test]
fn resampled_speech_mfcc_equals_librosa() {
    check(
        "mfcc_16000",
        r#"{"sr": 16000, "n_mfcc": 13, "n_fft": 400, "hop_length": 160, "n_mels": 40, "fmin": 20, "fmax": 7600}"#,
    );
}

#[test]
fn every_supported_encoding_decodes_to_the_same_samples() {
    let params = r#"{"sr": 22050, "features": "waveform"}"#;
    let base = audio("audio/speech.wav", params).remove(0).1;
    let want: Vec<f64> = base.iter().map(|&v| f64::from(v)).collect();
    for (file, atol, scale) in [
        ("pcm24", 1e-7, 1.0),
        ("pcm32", 1e-7, 1.0),
        ("float32", 1e-7, 1.0),
        ("pcm8", 1.0 / 128.0, 1.0),
        ("stereo", 2e-5, 0.75), // (y + y/2) / 2, y/2 rounded to 16 bits
    ] {
        let got = audio(&format!("audio/variants/{file}.wav"), params)
            .remove(0)
            .1;
        let want: Vec<f64> = want.iter().map(|v| v * scale).collect();
        assert_close(file, &got, &want, atol, 0.0);
    }
}

#[test]
fn the_vad_app_finds_the_synthesized_speech_within_a_tenth_of_a_second() {
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(asset("audio/speech.json")).unwrap())
            .unwrap();
    let truth = truth["speech"].as_array().unwrap();
    let app = App::load(&example("voice-activity")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    for engine in ["onnxruntime", "lne"] {
        let options = RunOptions {
            engine: Some(engine.into()),
            ..Default::default()
        };
        let mut pipeline = Pipeline::load(&app, &runtime(cache.path()), &options).unwrap();
        let Prediction::Segments(found) = pipeline.run_file(&asset("audio/speech.wav")).unwrap()
        else {
            panic!("{engine}: not segments");
        };
        assert_eq!(found.len(), truth.len(), "{engine}: {found:?}");
        for (s, t) in found.iter().zip(truth) {
            let (start, end) = (t["start_s"].as_f64().unwrap(), t["end_s"].as_f64().unwrap());
            assert!(
                (f64::from(s.start_s) - start).abs() <= 0.1
                    && (f64::from(s.end_s) - end).abs() <= 0.1,
                "{engine}: found {s:?}, truth {start}-{end}"
            );
            assert!(s.score > 0.7, "{engine}: {s:?}");
            assert_eq!(s.label.as_deref(), Some("speech"));
        }
        // One engine call per 32 ms chunk, the LSTM state carried between them.
        let calls = pipeline.anchors().get("inference").unwrap().samples.len();
        assert_eq!(
            calls,
            (9.0645f64 * 16000.0 / 512.0).ceil() as usize,
            "{engine}"
        );
    }
}

/// A WAV header for `format` (1 PCM, 3 float, 6 A-law) with `data` bytes after it.
fn wav_header(format: u16, bits: u16, rate: u32, data: &[u8]) -> Vec<u8> {
    let mut v = b"RIFF".to_vec();
    v.extend((36 + data.len() as u32).to_le_bytes());
    v.extend(b"WAVEfmt ");
    v.extend(16u32.to_le_bytes());
    v.extend(format.to_le_bytes());
    v.extend(1u16.to_le_bytes());
    v.extend(rate.to_le_bytes());
    v.extend((rate * u32::from(bits) / 8).to_le_bytes());
    v.extend((bits / 8).to_le_bytes());
    v.extend(bits.to_le_bytes());
    v.extend(b"data");
    v.extend((data.len() as u32).to_le_bytes());
    v.extend(data);
    v
}

#[test]
fn bad_audio_gets_a_clear_error_and_the_instance_serves_again() {
    let cache = tempfile::tempdir().unwrap();
    let component = asset("components/audio_preprocess.wasm");
    let mut pre = runtime(cache.path())
        .preprocessor(&component, r#"{"sr": 22050, "resample": false}"#, &[])
        .unwrap();
    let good = std::fs::read(asset("audio/speech.wav")).unwrap();
    let mut truncated = good[..good.len() / 2].to_vec();
    truncated.truncate(truncated.len() - 1);
    let resampled = std::fs::read(asset("audio/variants/pcm24.wav")).unwrap();
    let mut at_16k = wav_header(1, 16, 16000, &[0; 3200]);
    at_16k[44..]
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = (i % 7) as u8);
    let cases: [(&str, Vec<u8>, &str); 6] = [
        (
            "corrupt",
            b"RIFF\x0c\x00\x00\x00WAVEdata\x00\x00\x00\x00".to_vec(),
            "not a valid WAV",
        ),
        (
            "not a wav",
            std::fs::read(asset("images/chelsea.png")).unwrap(),
            "not a valid WAV",
        ),
        ("truncated", truncated, "truncated"),
        (
            "a-law",
            wav_header(6, 8, 22050, &[0; 100]),
            "unsupported WAV encoding",
        ),
        ("zero-length", wav_header(1, 16, 22050, &[]), "zero-length"),
        (
            "wrong rate",
            at_16k,
            "wrong sample rate: the file is 16000 Hz, the app expects 22050 Hz",
        ),
    ];
    for (what, bytes, needle) in cases {
        let err = pre
            .process(&bytes)
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(
            matches!(
                &err,
                RuntimeError::Processor {
                    kind: ProcessorErrorKind::InvalidInput,
                    ..
                }
            ),
            "{what}: {err}"
        );
        let text = err.to_string();
        assert!(
            text.contains(needle) && text.contains("audio_preprocess.wasm"),
            "{what}: {text}"
        );
    }
    // Still serving, and 24-bit input at the right rate is fine.
    assert!(pre.process(&resampled).is_ok());
    assert!(pre.process(&good).is_ok());
}

#[test]
fn bad_audio_params_name_the_parameter() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    for (params, needle) in [
        (r#"{"n_mfcc": 500}"#, "n_mfcc"),
        (r#"{"window": "triangle"}"#, "triangle"),
        (r#"{"hop": 10}"#, "unknown field `hop`"),
        (r#"{"layout": "btx"}"#, "layout"),
    ] {
        let err = rt
            .preprocessor(&asset("components/audio_preprocess.wasm"), params, &[])
            .err()
            .unwrap();
        assert!(
            matches!(
                &err,
                RuntimeError::Processor {
                    kind: ProcessorErrorKind::InvalidParams,
                    ..
                }
            ),
            "{params}: {err}"
        );
        assert!(err.to_string().contains(needle), "{params}: {err}");
    }
}

fn signal(params: &str, input: &[u8]) -> (Vec<usize>, Vec<f32>) {
    let cache = tempfile::tempdir().unwrap();
    let mut pre = runtime(cache.path())
        .preprocessor(&asset("components/signal_preprocess.wasm"), params, &[])
        .unwrap();
    let mut out = pre.process(input).unwrap();
    assert_eq!(out.chunks.len(), 1);
    let t = out.chunks.remove(0).remove(0);
    (t.shape().to_vec(), t.to_f32().unwrap())
}

#[test]
fn signal_pipeline_equals_scipy() {
    let sos: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(asset("reference/signal/sos.json")).unwrap())
            .unwrap();
    let params = serde_json::json!({
        "sample_rate": 100,
        "detrend": "linear",
        "filters": [
            {"fir": {"numtaps": 31, "cutoff": [10.0]}},
            {"sos": sos}
        ],
        "target_rate": 50,
        "normalize": "zscore"
    });
    let (shape, got) = signal(
        &params.to_string(),
        &std::fs::read(asset("signals/imu.csv")).unwrap(),
    );
    let (want_shape, want) = npy(&asset("reference/signal/pipeline.npy"));
    assert_eq!(shape[1..], want_shape[..]);
    assert_close("detrend-fir-sos-resample-zscore", &got, &want, 1e-5, 1e-5);
}

#[test]
fn fir_band_pass_design_equals_scipy_firwin() {
    // The impulse response of the filter is its taps.
    let mut csv = String::from("x\n1\n");
    csv.push_str(&"0\n".repeat(40));
    let params = r#"{"sample_rate": 100, "filters": [{"fir": {"numtaps": 41, "cutoff": [5, 15], "pass_zero": false, "window": "hann"}}], "layout": "ct"}"#;
    let (_, got) = signal(params, csv.as_bytes());
    let (_, want) = npy(&asset("reference/signal/firwin_bandpass.npy"));
    assert_close("firwin band-pass", &got, &want, 1e-7, 1e-6);
}
