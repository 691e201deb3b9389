//! FIR design and polyphase resampling, as `scipy.signal.firwin` and
//! `scipy.signal.resample_poly` (which `librosa.resample` calls for
//! `res_type="polyphase"`).

use crate::{window, Error};

/// Most taps a designed filter may have: the largest the resampler designs
/// (`2 · 10 · 10 000 + 1`). Each output sample costs one multiply-add per tap.
pub const MAX_TAPS: usize = 200_001;

/// `scipy.signal.firwin(numtaps, cutoff, window=..., pass_zero=...,
/// scale=True)`: a linear-phase FIR filter by the window method. `cutoff`
/// holds band edges as fractions of Nyquist (0 < f < 1, increasing);
/// `pass_zero` makes the first band a pass band.
pub fn firwin(
    numtaps: usize,
    cutoff: &[f64],
    window_name: &str,
    beta: f64,
    pass_zero: bool,
) -> Result<Vec<f64>, Error> {
    if !(1..=MAX_TAPS).contains(&numtaps) {
        return crate::params(format!("numtaps {numtaps} must lie in 1..={MAX_TAPS}"));
    }
    if cutoff.is_empty()
        || cutoff.iter().any(|&f| !(f > 0.0 && f < 1.0))
        || cutoff.windows(2).any(|w| w[0] >= w[1])
    {
        return crate::params(format!(
            "cutoff {cutoff:?}: each edge must lie strictly between 0 and Nyquist, increasing"
        ));
    }
    let pass_nyquist = (cutoff.len() % 2 == 1) != pass_zero;
    if pass_nyquist && numtaps.is_multiple_of(2) {
        return crate::params(format!(
            "a filter that passes Nyquist needs an odd numtaps, not {numtaps}"
        ));
    }
    let mut edges = Vec::with_capacity(cutoff.len() + 2);
    if pass_zero {
        edges.push(0.0);
    }
    edges.extend_from_slice(cutoff);
    if pass_nyquist {
        edges.push(1.0);
    }
    let alpha = 0.5 * (numtaps - 1) as f64;
    let m: Vec<f64> = (0..numtaps).map(|i| i as f64 - alpha).collect();
    let mut h = vec![0.0; numtaps];
    for band in edges.chunks_exact(2) {
        let (left, right) = (band[0], band[1]);
        for (hi, &mi) in h.iter_mut().zip(&m) {
            *hi += right * sinc(right * mi) - left * sinc(left * mi);
        }
    }
    let win = window::get(window_name, numtaps, false, beta)?;
    for (hi, w) in h.iter_mut().zip(win) {
        *hi *= w;
    }
    // Unity gain at the centre of the first pass band.
    let (left, right) = (edges[0], edges[1]);
    let f = if left == 0.0 {
        0.0
    } else if right == 1.0 {
        1.0
    } else {
        0.5 * (left + right)
    };
    let s: f64 = h
        .iter()
        .zip(&m)
        .map(|(hi, mi)| hi * (std::f64::consts::PI * mi * f).cos())
        .sum();
    for hi in &mut h {
        *hi /= s;
    }
    Ok(h)
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// A polyphase resampler by `up / down`, with scipy's default filter
/// (`firwin(2 * 10 * max(up, down) + 1, 1 / max(up, down),
/// window=("kaiser", 5.0))`).
#[derive(Debug, Clone)]
pub struct Resampler {
    up: usize,
    down: usize,
    pre_remove: usize,
    /// The filter split into its `up` phases, each reversed, so every
    /// output sample is one contiguous dot product with the input.
    phases: Vec<Vec<f64>>,
}

impl Resampler {
    /// From one sample rate to another (reduced by their gcd). Ratios whose
    /// reduced terms exceed 10 000 are refused (the filter would be huge).
    pub fn new(from: u64, to: u64) -> Result<Self, Error> {
        if from == 0 || to == 0 {
            return crate::params("sample rates must be positive");
        }
        let g = gcd(from, to);
        let (up, down) = ((to / g) as usize, (from / g) as usize);
        if up.max(down) > 10_000 {
            return crate::params(format!(
                "resampling {from} Hz to {to} Hz needs a {up}/{down} polyphase filter; pick rates with a larger common divisor"
            ));
        }
        if up == 1 && down == 1 {
            return Ok(Resampler {
                up,
                down,
                pre_remove: 0,
                phases: Vec::new(),
            });
        }
        let max_rate = up.max(down);
        let half_len = 10 * max_rate;
        let mut h = firwin(
            2 * half_len + 1,
            &[1.0 / max_rate as f64],
            "kaiser",
            5.0,
            true,
        )?;
        for v in &mut h {
            *v *= up as f64;
        }
        let pre_pad = down - half_len % down;
        let mut padded = vec![0.0; pre_pad];
        padded.append(&mut h);
        let pre_remove = (half_len + pre_pad) / down;
        let phases = (0..up)
            .map(|p| {
                let mut taps: Vec<f64> = padded.iter().skip(p).step_by(up).copied().collect();
                taps.reverse();
                taps
            })
            .collect();
        Ok(Resampler {
            up,
            down,
            pre_remove,
            phases,
        })
    }

    /// Output length for `n` input samples: `ceil(n * up / down)`.
    pub fn output_len(&self, n: usize) -> usize {
        (n * self.up).div_ceil(self.down)
    }

    /// `scipy.signal.resample_poly(x, up, down)`.
    pub fn process(&self, x: &[f64]) -> Vec<f64> {
        if self.up == 1 && self.down == 1 {
            return x.to_vec();
        }
        let (up, down) = (self.up, self.down);
        // Output i of upfirdn is the sum over j of x[j] * h[m - j * up],
        // m = (i + pre_remove) * down: the taps of phase m % up against
        // x[.. m / up], newest sample last. Both advance by a fixed step per
        // output, so no division runs per sample.
        let m0 = self.pre_remove * down;
        let (mut next_phase, mut next_newest) = (m0 % up, m0 / up);
        let (step_phase, step_newest) = (down % up, down / up);
        (0..self.output_len(x.len()))
            .map(|_| {
                // newest: the x index that meets the phase's first tap.
                let (phase, newest) = (next_phase, next_newest);
                next_phase += step_phase;
                next_newest += step_newest;
                if next_phase >= up {
                    next_phase -= up;
                    next_newest += 1;
                }
                let taps = &self.phases[phase];
                let oldest = (newest + 1).saturating_sub(taps.len());
                let end = (newest + 1).min(x.len());
                if oldest >= end {
                    return 0.0;
                }
                // taps is reversed: taps[k] meets x[newest + 1 - taps.len() + k].
                let skip = oldest + taps.len() - (newest + 1);
                dot(&taps[skip..], &x[oldest..end])
            })
            .collect()
    }
}

/// `Σ a[k] · b[k]` over the shorter length, in four partial sums: lane `j`
/// adds the terms `j, j + 4, …` in order from 0.0, the lanes are added as
/// `(s0 + s2) + (s1 + s3)`, then the terms past the last multiple of four, in
/// order. Independent sums hide the adder's latency and let the compiler use
/// two 128-bit registers (wasm `simd128`, SSE2); the order is fixed, so
/// every build gets the same bits (and the Python example, which ports it).
///
/// The loop takes sixteen terms an iteration and what is left runs straight
/// through (at most three groups of four, then three terms): a resampler's
/// phase has about 28 taps, and in a sandboxed component every loop
/// iteration pays an epoch check, so one iteration costs less than seven.
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    #[inline(always)]
    fn lanes(s: &mut [f64; 4], x: &[f64], y: &[f64]) {
        for j in 0..4 {
            s[j] += x[j] * y[j];
        }
    }
    let n = a.len().min(b.len());
    let (a16, a_rest) = a[..n].as_chunks::<16>();
    let (b16, b_rest) = b[..n].as_chunks::<16>();
    let mut s = [0.0f64; 4];
    for (x, y) in a16.iter().zip(b16) {
        for c in (0..16).step_by(4) {
            lanes(&mut s, &x[c..c + 4], &y[c..c + 4]);
        }
    }
    let (a4, a_tail) = a_rest.as_chunks::<4>();
    let (b4, b_tail) = b_rest.as_chunks::<4>();
    for c in 0..3 {
        if let (Some(x), Some(y)) = (a4.get(c), b4.get(c)) {
            lanes(&mut s, x, y);
        }
    }
    let mut sum = (s[0] + s[2]) + (s[1] + s[3]);
    for k in 0..3 {
        if let (Some(x), Some(y)) = (a_tail.get(k), b_tail.get(k)) {
            sum += x * y;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_lengths() {
        let r = Resampler::new(16000, 16000).unwrap();
        assert_eq!(r.process(&[1.0, 2.0]), vec![1.0, 2.0]);
        let r = Resampler::new(22050, 16000).unwrap();
        assert_eq!(r.output_len(22050), 16000);
        // A constant stays (about) constant away from the edges.
        let y = r.process(&vec![1.0; 4410]);
        assert!((y[1600] - 1.0).abs() < 1e-3, "{}", y[1600]);
    }

    #[test]
    fn dot_sums_four_lanes_then_the_tail() {
        let a: Vec<f64> = (1..=7).map(f64::from).collect();
        assert_eq!(dot(&a, &[1.0; 9]), 28.0, "the shorter length");
        assert_eq!(dot(&[], &[1.0]), 0.0);
        // The order shows where rounding differs: lanes 0 and 2 meet first,
        // (1e16 - 1e16) + (1 + 1) = 2, where left to right 1e16 + 1 rounds
        // to 1e16 and the sum ends at 1.
        let v = [1e16, 1.0, -1e16, 1.0];
        assert_eq!(dot(&v, &[1.0; 4]), 2.0);
        assert_eq!(v.iter().sum::<f64>(), 1.0);
    }

    #[test]
    fn dot_keeps_the_lane_order_at_every_length() {
        // The plain four-lane loop the unrolled one must equal bit for bit.
        fn reference(a: &[f64], b: &[f64]) -> f64 {
            let n = a.len().min(b.len());
            let mut s = [0.0f64; 4];
            for k in 0..n / 4 * 4 {
                s[k % 4] += a[k] * b[k];
            }
            let mut sum = (s[0] + s[2]) + (s[1] + s[3]);
            for k in n / 4 * 4..n {
                sum += a[k] * b[k];
            }
            sum
        }
        // Terms of very different sizes, so any change of order changes bits.
        let a: Vec<f64> = (0..70)
            .map(|k| (k as f64 * 0.7).sin() * 10f64.powi(k % 9))
            .collect();
        let b: Vec<f64> = (0..70)
            .map(|k| (k as f64 * 1.3).cos() + 1e-9 * k as f64)
            .collect();
        for n in 0..70 {
            assert_eq!(
                dot(&a[..n], &b).to_bits(),
                reference(&a[..n], &b).to_bits(),
                "n = {n}"
            );
        }
    }

    #[test]
    fn firwin_lowpass_has_unity_dc_gain() {
        let h = firwin(31, &[0.25], "hamming", 0.0, true).unwrap();
        assert!((h.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(firwin(30, &[0.25], "hamming", 0.0, false).is_err());
    }
}
