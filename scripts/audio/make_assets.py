"""Audio and sensor-signal assets and their Python reference outputs.

Writes, under ASSETS:
  audio/speech.wav         two sentences synthesized by espeak-ng, joined with
                           known silences (22050 Hz, 16-bit PCM, mono)
  audio/speech.json        the speech boundaries in seconds (the VAD oracle)
  audio/variants/*.wav     the same recording as 8/24/32-bit PCM, 32-bit float,
                           stereo, 16 kHz (decoding tests)
  reference/audio/*.npy    librosa features of speech.wav (float64 load)
  signals/imu.csv          a 3-channel synthetic sensor recording (100 Hz)
  reference/signal/*.npy   scipy.signal outputs on it
Deterministic: espeak-ng output for fixed text, seeded noise.
"""
import json
import os
import subprocess
import sys
import tempfile

import librosa
import numpy as np
import scipy.signal
import soundfile as sf

SENTENCES = [
    "The quick brown fox jumps over the lazy dog",
    "Benchmarks tell the truth about every engine",
]
SILENCES = [1.0, 1.5, 1.0]  # before, between, after (seconds)
SR = 22050


def save(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path + ".tmp.npy", np.ascontiguousarray(array))
    os.replace(path + ".tmp.npy", path)


def write_wav(path, y, sr, subtype):
    tmp = path + ".tmp.wav"
    sf.write(tmp, y, sr, subtype=subtype)
    os.replace(tmp, path)


def speech(out):
    parts, bounds, t = [], [], 0.0
    for i, text in enumerate(SENTENCES):
        with tempfile.NamedTemporaryFile(suffix=".wav") as f:
            subprocess.run(["espeak-ng", "-s", "150", "-w", f.name, text], check=True)
            y, sr = sf.read(f.name, dtype="float64")
        assert sr == SR, sr
        voiced = np.where(np.abs(y) > 0.01)[0]
        y = y[voiced[0] : voiced[-1] + 1]
        gap = np.zeros(int(SILENCES[i] * SR))
        parts += [gap, y]
        start = t + len(gap) / SR
        bounds.append({"start_s": round(start, 4), "end_s": round(start + len(y) / SR, 4), "text": text})
        t = start + len(y) / SR
    parts.append(np.zeros(int(SILENCES[-1] * SR)))
    y = np.concatenate(parts)
    os.makedirs(f"{out}/audio/variants", exist_ok=True)
    write_wav(f"{out}/audio/speech.wav", y, SR, "PCM_16")
    with open(f"{out}/audio/speech.json.tmp", "w") as f:
        json.dump({"sample_rate": SR, "seconds": len(y) / SR, "speech": bounds}, f, indent=1)
    os.replace(f"{out}/audio/speech.json.tmp", f"{out}/audio/speech.json")
    # The 16-bit file is what everything reads: re-read it so variants and
    # references start from the same quantized samples.
    y, _ = sf.read(f"{out}/audio/speech.wav", dtype="float64")
    v = f"{out}/audio/variants"
    write_wav(f"{v}/pcm8.wav", y, SR, "PCM_U8")
    write_wav(f"{v}/pcm24.wav", y, SR, "PCM_24")
    write_wav(f"{v}/pcm32.wav", y, SR, "PCM_32")
    write_wav(f"{v}/float32.wav", y, SR, "FLOAT")
    write_wav(f"{v}/stereo.wav", np.stack([y, 0.5 * y], axis=1), SR, "PCM_16")
    return y


def audio_references(out, y):
    r = f"{out}/reference/audio"
    # Native rate: MFCC, log-mel (HTK and Slaney), deltas, CMVN, pre-emphasis.
    mfcc = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=20, n_fft=2048, hop_length=512, n_mels=128)
    save(f"{r}/mfcc_22050.npy", mfcc)
    logmel_htk = librosa.power_to_db(
        librosa.feature.melspectrogram(y=y, sr=SR, n_fft=1024, hop_length=256, n_mels=64, htk=True, norm=None, window="hamming"),
        top_db=None,
    )
    save(f"{r}/logmel_htk_22050.npy", logmel_htk)
    d1 = librosa.feature.delta(mfcc, width=9, order=1)
    d2 = librosa.feature.delta(mfcc, width=9, order=2)
    save(f"{r}/mfcc_deltas_22050.npy", np.concatenate([mfcc, d1, d2], axis=0))
    cm = (mfcc - mfcc.mean(axis=1, keepdims=True)) / mfcc.std(axis=1, keepdims=True)
    save(f"{r}/mfcc_cmvn_22050.npy", cm)
    pre = librosa.effects.preemphasis(y, coef=0.97)
    save(f"{r}/mfcc_preemph_lifter_22050.npy", librosa.feature.mfcc(y=pre, sr=SR, n_mfcc=13, lifter=22))
    # Resampled to 16 kHz with the polyphase filter, then MFCC as speech models take it.
    y16 = librosa.resample(y, orig_sr=SR, target_sr=16000, res_type="polyphase")
    save(f"{r}/waveform_16000.npy", y16)
    save(
        f"{r}/mfcc_16000.npy",
        librosa.feature.mfcc(y=y16, sr=16000, n_mfcc=13, n_fft=400, hop_length=160, n_mels=40, fmin=20, fmax=7600),
    )


def signals(out):
    rng = np.random.default_rng(7)
    fs = 100.0
    t = np.arange(3000) / fs
    x = np.stack(
        [
            np.sin(2 * np.pi * 1.5 * t) + 0.3 * np.sin(2 * np.pi * 22 * t) + 0.05 * t,
            0.5 * np.cos(2 * np.pi * 0.7 * t) + 0.2 * rng.standard_normal(t.size),
            9.81 + 0.1 * np.sin(2 * np.pi * 5 * t) + 0.02 * rng.standard_normal(t.size),
        ],
        axis=1,
    )
    os.makedirs(f"{out}/signals", exist_ok=True)
    with open(f"{out}/signals/imu.csv.tmp", "w") as f:
        f.write("ax,ay,az\n")
        for row in x:
            f.write(",".join(repr(float(v)) for v in row) + "\n")
    os.replace(f"{out}/signals/imu.csv.tmp", f"{out}/signals/imu.csv")
    r = f"{out}/reference/signal"
    # detrend -> FIR low-pass 10 Hz -> Butterworth high-pass 0.5 Hz (sos) -> resample 100 -> 50 Hz -> z-score
    sos = scipy.signal.butter(2, 0.5, btype="highpass", fs=fs, output="sos")
    taps = scipy.signal.firwin(31, 10.0, fs=fs)
    y = scipy.signal.detrend(x, axis=0, type="linear")
    y = scipy.signal.lfilter(taps, [1.0], y, axis=0)
    y = scipy.signal.sosfilt(sos, y, axis=0)
    y = scipy.signal.resample_poly(y, 1, 2, axis=0)
    y = (y - y.mean(axis=0)) / y.std(axis=0)
    save(f"{r}/pipeline.npy", y.T)  # channels x samples
    with open(f"{r}/sos.json.tmp", "w") as f:
        json.dump(sos.tolist(), f)
    os.replace(f"{r}/sos.json.tmp", f"{r}/sos.json")
    save(f"{r}/firwin_bandpass.npy", scipy.signal.firwin(41, [5.0, 15.0], pass_zero=False, fs=fs, window="hann"))


def main():
    out = sys.argv[1]
    y = speech(out)
    audio_references(out, y)
    signals(out)


if __name__ == "__main__":
    main()
