//! Spectral features as librosa computes them: `stft`, `filters.mel`,
//! `feature.melspectrogram`, `power_to_db`, `feature.mfcc`,
//! `feature.delta`. Matrices are row-major `[rows][cols]` in `Vec<Vec<f64>>`
//! with librosa's orientation: features (or frequency bins) by frames.

use realfft::RealFftPlanner;

use crate::{window, Error};

/// Largest FFT length (2^16; librosa's default is 2048).
pub const MAX_N_FFT: usize = 1 << 16;

/// Most mel bands (librosa's default is 128).
pub const MAX_N_MELS: usize = 4096;

/// A features-by-frames matrix.
pub type Matrix = Vec<Vec<f64>>;

/// Short-time Fourier transform settings (librosa's names and defaults).
#[derive(Debug, Clone)]
pub struct Stft {
    /// FFT length (librosa `n_fft`, default 2048).
    pub n_fft: usize,
    /// Samples between frames (default `n_fft / 4`).
    pub hop_length: usize,
    /// Window length, zero-padded to `n_fft` (default `n_fft`).
    pub win_length: usize,
    /// Window name (default `hann`).
    pub window: String,
    /// Pad by `n_fft / 2` on both sides so frame `t` is centred on sample `t * hop`.
    pub center: bool,
    /// `constant` (zeros, librosa's default) or `reflect`.
    pub pad_mode: String,
    /// Exponent of the magnitude: 1 magnitude, 2 power (default).
    pub power: f64,
}

impl Default for Stft {
    fn default() -> Self {
        Stft {
            n_fft: 2048,
            hop_length: 512,
            win_length: 2048,
            window: "hann".into(),
            center: true,
            pad_mode: "constant".into(),
            power: 2.0,
        }
    }
}

impl Stft {
    /// `np.abs(librosa.stft(y, ...)) ** power`: `1 + n_fft / 2` bins by frames.
    pub fn spectrogram(&self, y: &[f64]) -> Result<Matrix, Error> {
        let n_fft = self.n_fft;
        if !(2..=MAX_N_FFT).contains(&n_fft) || self.hop_length == 0 {
            return crate::params(format!(
                "n_fft must lie in 2..={MAX_N_FFT} and hop_length be at least 1"
            ));
        }
        if self.win_length == 0 || self.win_length > n_fft {
            return crate::params(format!(
                "win_length {} must lie in 1..=n_fft ({n_fft})",
                self.win_length
            ));
        }
        if self.power <= 0.0 {
            return crate::params("power must be positive");
        }
        let mut fft_window = vec![0.0; n_fft];
        let lpad = (n_fft - self.win_length) / 2;
        fft_window[lpad..lpad + self.win_length].copy_from_slice(&window::get(
            &self.window,
            self.win_length,
            true,
            0.0,
        )?);

        let padded: Vec<f64> = if self.center {
            let p = n_fft / 2;
            match self.pad_mode.as_str() {
                "constant" => {
                    let mut v = vec![0.0; p];
                    v.extend_from_slice(y);
                    v.resize(v.len() + p, 0.0);
                    v
                }
                "reflect" => {
                    if y.len() <= p {
                        return Err(Error::Input(format!(
                            "reflect padding needs more than n_fft/2 = {p} samples, the input has {}",
                            y.len()
                        )));
                    }
                    let mut v: Vec<f64> = (1..=p).rev().map(|i| y[i]).collect();
                    v.extend_from_slice(y);
                    v.extend((0..p).map(|i| y[y.len() - 2 - i]));
                    v
                }
                other => {
                    return crate::params(format!("unknown pad_mode '{other}' (constant, reflect)"))
                }
            }
        } else {
            y.to_vec()
        };
        if padded.len() < n_fft {
            return Err(Error::Input(format!(
                "n_fft = {n_fft} is too large for an input of {} samples",
                y.len()
            )));
        }
        let frames = 1 + (padded.len() - n_fft) / self.hop_length;
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n_fft);
        let (mut input, mut spectrum) = (fft.make_input_vec(), fft.make_output_vec());
        let bins = n_fft / 2 + 1;
        let mut out = vec![vec![0.0; frames]; bins];
        let power = |c: realfft::num_complex::Complex<f64>| {
            let p = c.norm_sqr();
            if self.power == 2.0 {
                p
            } else {
                p.sqrt().powf(self.power)
            }
        };
        for t in 0..frames {
            let frame = &padded[t * self.hop_length..t * self.hop_length + n_fft];
            windowed(&mut input, frame, &fft_window);
            fft.process(&mut input, &mut spectrum)
                .map_err(|e| Error::Input(format!("FFT failed: {e}")))?;
            // Eight bins an iteration: the writes go to eight rows, and in a
            // sandboxed component each iteration pays an epoch check.
            let (rows8, rows_rest) = out.as_chunks_mut::<8>();
            let (bins8, bins_rest) = spectrum.as_chunks::<8>();
            for (rows, c) in rows8.iter_mut().zip(bins8) {
                for j in 0..8 {
                    rows[j][t] = power(c[j]);
                }
            }
            for (row, c) in rows_rest.iter_mut().zip(bins_rest) {
                row[t] = power(*c);
            }
        }
        Ok(out)
    }
}

/// Mel filterbank settings (`librosa.filters.mel`).
#[derive(Debug, Clone)]
pub struct Mel {
    /// Number of mel bands (default 128).
    pub n_mels: usize,
    /// Lowest frequency, Hz (default 0).
    pub fmin: f64,
    /// Highest frequency, Hz (default `sr / 2`).
    pub fmax: Option<f64>,
    /// HTK's mel scale instead of Slaney's.
    pub htk: bool,
    /// `slaney` area normalization (default) or none.
    pub slaney_norm: bool,
}

impl Default for Mel {
    fn default() -> Self {
        Mel {
            n_mels: 128,
            fmin: 0.0,
            fmax: None,
            htk: false,
            slaney_norm: true,
        }
    }
}

/// `librosa.hz_to_mel`.
pub fn hz_to_mel(f: f64, htk: bool) -> f64 {
    if htk {
        return 2595.0 * (1.0 + f / 700.0).log10();
    }
    let f_sp = 200.0 / 3.0;
    let (min_log_hz, logstep) = (1000.0, 6.4f64.ln() / 27.0);
    if f >= min_log_hz {
        min_log_hz / f_sp + (f / min_log_hz).ln() / logstep
    } else {
        f / f_sp
    }
}

/// `librosa.mel_to_hz`.
pub fn mel_to_hz(m: f64, htk: bool) -> f64 {
    if htk {
        return 700.0 * (10f64.powf(m / 2595.0) - 1.0);
    }
    let f_sp = 200.0 / 3.0;
    let (min_log_hz, logstep) = (1000.0, 6.4f64.ln() / 27.0);
    let min_log_mel = min_log_hz / f_sp;
    if m >= min_log_mel {
        min_log_hz * (logstep * (m - min_log_mel)).exp()
    } else {
        f_sp * m
    }
}

impl Mel {
    /// The `n_mels` by `1 + n_fft / 2` weights. Like librosa, they are
    /// rounded to f32 (its default dtype).
    pub fn filters(&self, sr: f64, n_fft: usize) -> Result<Matrix, Error> {
        let fmax = self.fmax.unwrap_or(sr / 2.0);
        if !(2..=MAX_N_FFT).contains(&n_fft) || self.n_mels > MAX_N_MELS {
            return crate::params(format!(
                "mel: n_fft ({n_fft}) must lie in 2..={MAX_N_FFT} and n_mels ({}) be at most {MAX_N_MELS}",
                self.n_mels
            ));
        }
        if self.n_mels == 0 || !(self.fmin >= 0.0 && self.fmin < fmax && fmax <= sr / 2.0) {
            return crate::params(format!(
                "mel: need n_mels >= 1 and 0 <= fmin < fmax <= sr/2 (n_mels {}, fmin {}, fmax {fmax}, sr {sr})",
                self.n_mels, self.fmin
            ));
        }
        let bins = n_fft / 2 + 1;
        let fftfreqs: Vec<f64> = (0..bins).map(|k| k as f64 * sr / n_fft as f64).collect();
        let (lo, hi) = (hz_to_mel(self.fmin, self.htk), hz_to_mel(fmax, self.htk));
        let n = self.n_mels + 2;
        let mel_f: Vec<f64> = (0..n)
            .map(|i| {
                let m = if i == n - 1 {
                    hi
                } else {
                    lo + (hi - lo) * i as f64 / (n - 1) as f64
                };
                mel_to_hz(m, self.htk)
            })
            .collect();
        let mut weights = vec![vec![0.0; bins]; self.n_mels];
        for (i, row) in weights.iter_mut().enumerate() {
            let (fd0, fd1) = (mel_f[i + 1] - mel_f[i], mel_f[i + 2] - mel_f[i + 1]);
            let enorm = if self.slaney_norm {
                2.0 / (mel_f[i + 2] - mel_f[i])
            } else {
                1.0
            };
            for (w, f) in row.iter_mut().zip(&fftfreqs) {
                let lower = -(mel_f[i] - f) / fd0;
                let upper = (mel_f[i + 2] - f) / fd1;
                *w = f64::from((0f64.max(lower.min(upper)) * enorm) as f32);
            }
        }
        Ok(weights)
    }
}

/// `weights @ spectrogram`.
pub fn apply(weights: &Matrix, s: &Matrix) -> Matrix {
    let frames = s.first().map_or(0, Vec::len);
    weights
        .iter()
        .map(|w| {
            let mut row = vec![0.0; frames];
            for (wk, sk) in w.iter().zip(s) {
                if *wk != 0.0 {
                    axpy(&mut row, *wk, sk);
                }
            }
            row
        })
        .collect()
}

// The two loops below do their arithmetic eight elements per iteration:
// the same operations in the same order as one element at a time, but a
// sandboxed (wasm) build checks its deadline once per iteration, and at one
// or two elements an iteration that check cost as much as the work.

/// `dst[i] += c * src[i]` over the shorter length.
#[inline]
fn axpy(dst: &mut [f64], c: f64, src: &[f64]) {
    let n = dst.len().min(src.len());
    let (d8, d_rest) = dst[..n].as_chunks_mut::<8>();
    let (s8, s_rest) = src[..n].as_chunks::<8>();
    for (d, s) in d8.iter_mut().zip(s8) {
        for j in 0..8 {
            d[j] += c * s[j];
        }
    }
    for (d, s) in d_rest.iter_mut().zip(s_rest) {
        *d += c * s;
    }
}

/// `dst[i] = x[i] * w[i]` over the shortest length.
#[inline]
fn windowed(dst: &mut [f64], x: &[f64], w: &[f64]) {
    let n = dst.len().min(x.len()).min(w.len());
    let (d8, d_rest) = dst[..n].as_chunks_mut::<8>();
    let (x8, x_rest) = x[..n].as_chunks::<8>();
    let (w8, w_rest) = w[..n].as_chunks::<8>();
    for ((d, x), w) in d8.iter_mut().zip(x8).zip(w8) {
        for j in 0..8 {
            d[j] = x[j] * w[j];
        }
    }
    for ((d, x), w) in d_rest.iter_mut().zip(x_rest).zip(w_rest) {
        *d = x * w;
    }
}

/// `librosa.power_to_db(s, ref, amin, top_db)`.
pub fn power_to_db(s: &mut Matrix, reference: f64, amin: f64, top_db: Option<f64>) {
    let offset = 10.0 * amin.max(reference).log10();
    let mut max = f64::NEG_INFINITY;
    // Eight values an iteration, in order (fewer epoch checks in a component).
    let mut db = |v: &mut f64| {
        *v = 10.0 * maxnum(*v, amin).log10() - offset;
        max = maxnum(max, *v);
    };
    for row in s.iter_mut() {
        let (v8, rest) = row.as_chunks_mut::<8>();
        for v8 in v8 {
            for v in v8 {
                db(v);
            }
        }
        for v in rest {
            db(v);
        }
    }
    if let Some(top) = top_db {
        let floor = max - top;
        for row in s.iter_mut() {
            let (v8, rest) = row.as_chunks_mut::<8>();
            for v8 in v8 {
                for v in v8 {
                    *v = maxnum(*v, floor);
                }
            }
            for v in rest {
                *v = maxnum(*v, floor);
            }
        }
    }
}

/// `a.max(b)` (the other one when either is NaN) as a compare and a
/// select: WebAssembly's `f64.max` propagates NaN, so `f64::max` compiles
/// there to a call of libm's `fmax`, one per element of a spectrogram.
#[inline]
fn maxnum(a: f64, b: f64) -> f64 {
    if a >= b || b.is_nan() {
        a
    } else {
        b
    }
}

/// `scipy.fftpack.dct(s, type=2, norm="ortho", axis=0)[:n]`, then
/// librosa's liftering when `lifter > 0`.
pub fn mfcc_from_log_mel(s: &Matrix, n_mfcc: usize, lifter: f64) -> Result<Matrix, Error> {
    let n = s.len();
    if n_mfcc == 0 || n_mfcc > n {
        return crate::params(format!("n_mfcc must lie in 1..={n} (n_mels)"));
    }
    let frames = s.first().map_or(0, Vec::len);
    let mut out = vec![vec![0.0; frames]; n_mfcc];
    for (k, row) in out.iter_mut().enumerate() {
        let scale = if k == 0 {
            (1.0 / n as f64).sqrt()
        } else {
            (2.0 / n as f64).sqrt()
        };
        let lift = if lifter > 0.0 {
            1.0 + (lifter / 2.0) * (std::f64::consts::PI * (k + 1) as f64 / lifter).sin()
        } else {
            1.0
        };
        for (i, si) in s.iter().enumerate() {
            let c = scale
                * lift
                * (std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2 * n) as f64).cos();
            axpy(row, c, si);
        }
    }
    Ok(out)
}

/// `librosa.feature.delta(s, width, order, axis=-1, mode="interp")`: a
/// Savitzky-Golay derivative along frames.
pub fn delta(s: &Matrix, width: usize, order: usize) -> Result<Matrix, Error> {
    let frames = s.first().map_or(0, Vec::len);
    if width < 3 || width.is_multiple_of(2) {
        return crate::params(format!(
            "delta width must be an odd integer >= 3, not {width}"
        ));
    }
    if order == 0 {
        return crate::params("delta order must be at least 1");
    }
    if width > frames {
        return Err(Error::Input(format!(
            "delta width {width} exceeds the {frames} frames of the input; use a longer input or a smaller delta_width"
        )));
    }
    let half = width / 2;
    // Coefficients that give the derivative at each position of a window.
    let at = |pos: usize| savgol_row(width, order, order, pos as f64 - half as f64);
    let centre = at(half);
    let head: Vec<Vec<f64>> = (0..half).map(at).collect();
    let tail: Vec<Vec<f64>> = (width - half..width).map(at).collect();
    Ok(s.iter()
        .map(|row| {
            (0..frames)
                .map(|t| {
                    let (coefs, start) = if t < half {
                        (&head[t], 0)
                    } else if t + half >= frames {
                        (&tail[t + half - frames], frames - width)
                    } else {
                        (&centre, t - half)
                    };
                    coefs
                        .iter()
                        .zip(&row[start..start + width])
                        .map(|(c, v)| c * v)
                        .sum()
                })
                .collect()
        })
        .collect())
}

/// Least-squares weights that give the `deriv`-th derivative, at offset
/// `x0` from the centre, of the degree-`polyorder` polynomial fitted to a
/// window of `width` samples.
fn savgol_row(width: usize, polyorder: usize, deriv: usize, x0: f64) -> Vec<f64> {
    let half = (width / 2) as f64;
    let d = polyorder + 1;
    let xs: Vec<f64> = (0..width).map(|i| i as f64 - half).collect();
    // Normal equations (A^T A) c = g, A[i][j] = x_i^j; weights = A c.
    let mut ata = vec![vec![0.0; d + 1]; d];
    for (r, row) in ata.iter_mut().enumerate() {
        for (c, cell) in row.iter_mut().take(d).enumerate() {
            *cell = xs.iter().map(|x| x.powi((r + c) as i32)).sum();
        }
        // g: the deriv-th derivative of x^r at x0.
        row[d] = if r < deriv {
            0.0
        } else {
            let falling: f64 = (0..deriv).map(|k| (r - k) as f64).product();
            falling * x0.powi((r - deriv) as i32)
        };
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..d {
        let piv = (col..d)
            .max_by(|&a, &b| ata[a][col].abs().total_cmp(&ata[b][col].abs()))
            .unwrap_or(col);
        ata.swap(col, piv);
        for r in 0..d {
            if r != col {
                let f = ata[r][col] / ata[col][col];
                let pivot = ata[col].clone();
                for (cell, p) in ata[r].iter_mut().zip(&pivot).skip(col) {
                    *cell -= f * p;
                }
            }
        }
    }
    let c: Vec<f64> = (0..d).map(|r| ata[r][d] / ata[r][r]).collect();
    xs.iter()
        .map(|x| {
            c.iter()
                .enumerate()
                .map(|(j, cj)| cj * x.powi(j as i32))
                .sum()
        })
        .collect()
}

/// Per-feature normalization over frames: `cmvn` subtracts each feature's
/// mean and divides by its (population) standard deviation; `cmn` only
/// subtracts the mean. A constant feature is left at 0.
pub fn normalize_features(s: &mut Matrix, mode: &str) -> Result<(), Error> {
    let scale = match mode {
        "cmvn" => true,
        "cmn" => false,
        other => return crate::params(format!("unknown normalize '{other}' (cmvn, cmn)")),
    };
    for row in s {
        if scale {
            crate::filter::normalize(row, "zscore")?;
        } else {
            let mean = row.iter().sum::<f64>() / row.len().max(1) as f64;
            row.iter_mut().for_each(|v| *v -= mean);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_scale_round_trips() {
        for f in [0.0, 440.0, 1000.0, 7999.0] {
            for htk in [false, true] {
                assert!((mel_to_hz(hz_to_mel(f, htk), htk) - f).abs() < 1e-9);
            }
        }
        assert!((hz_to_mel(1000.0, false) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn delta_of_a_ramp_is_its_slope() {
        let s = vec![(0..20).map(|t| 3.0 * t as f64 + 1.0).collect::<Vec<_>>()];
        let d = delta(&s, 9, 1).unwrap();
        assert!(d[0].iter().all(|v| (v - 3.0).abs() < 1e-9), "{:?}", d[0]);
        let d2 = delta(&s, 9, 2).unwrap();
        assert!(d2[0].iter().all(|v| v.abs() < 1e-9));
        assert!(delta(&s, 8, 1).is_err());
    }

    #[test]
    fn stft_of_a_sine_peaks_at_its_bin() {
        let y: Vec<f64> = (0..4096)
            .map(|i| (2.0 * std::f64::consts::PI * 8.0 * i as f64 / 256.0).sin())
            .collect();
        let s = Stft {
            n_fft: 256,
            hop_length: 64,
            win_length: 256,
            ..Stft::default()
        }
        .spectrogram(&y)
        .unwrap();
        assert_eq!(s.len(), 129);
        assert_eq!(s[0].len(), 1 + 4096 / 64);
        let t = 30;
        let peak = (0..129)
            .max_by(|&a, &b| s[a][t].total_cmp(&s[b][t]))
            .unwrap();
        assert_eq!(peak, 8);
    }
}
