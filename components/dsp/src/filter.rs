//! Time-domain filters as scipy.signal and librosa define them.

use crate::Error;

/// `scipy.signal.lfilter(b, a, x)` with zero initial state (direct form II
/// transposed); `a[0]` must not be 0.
pub fn lfilter(b: &[f64], a: &[f64], x: &[f64]) -> Result<Vec<f64>, Error> {
    lfilter_zi(b, a, x, None)
}

fn lfilter_zi(b: &[f64], a: &[f64], x: &[f64], zi: Option<&[f64]>) -> Result<Vec<f64>, Error> {
    if b.is_empty() || a.is_empty() || a[0] == 0.0 {
        return crate::params("filter: b and a must be non-empty and a[0] non-zero");
    }
    let n = b.len().max(a.len());
    let a0 = a[0];
    let coef = |v: &[f64], i: usize| v.get(i).copied().unwrap_or(0.0) / a0;
    let mut z = vec![0.0; n];
    if let Some(zi) = zi {
        z[..zi.len()].copy_from_slice(zi);
    }
    Ok(x.iter()
        .map(|&xn| {
            let y = coef(b, 0) * xn + z[0];
            for i in 1..n {
                z[i - 1] = coef(b, i) * xn - coef(a, i) * y + z[i];
            }
            y
        })
        .collect())
}

/// `librosa.effects.preemphasis(y, coef)`: `y[n] - coef * y[n-1]`, with
/// librosa's default initial state `2 * y[0] - y[1]` (used as given, as
/// librosa does: the first output is `3 * y[0] - y[1]`).
pub fn preemphasis(y: &[f64], coef: f64) -> Vec<f64> {
    if y.len() < 2 {
        return y.to_vec();
    }
    let zi = [2.0 * y[0] - y[1]];
    lfilter_zi(&[1.0, -coef], &[1.0], y, Some(&zi)).expect("valid coefficients")
}

/// `scipy.signal.sosfilt(sos, x)`: a cascade of biquads, each
/// `[b0, b1, b2, a0, a1, a2]` with `a0 == 1`.
pub fn sosfilt(sos: &[[f64; 6]], x: &[f64]) -> Result<Vec<f64>, Error> {
    if sos.is_empty() {
        return crate::params("sos must hold at least one section");
    }
    if let Some(i) = sos.iter().position(|s| s[3] != 1.0) {
        return crate::params(format!("sos[{i}][3] (a0) must be 1, as in scipy"));
    }
    let mut y = x.to_vec();
    for s in sos {
        let (mut z0, mut z1) = (0.0, 0.0);
        for v in y.iter_mut() {
            let xn = *v;
            let out = s[0] * xn + z0;
            z0 = s[1] * xn - s[4] * out + z1;
            z1 = s[2] * xn - s[5] * out;
            *v = out;
        }
    }
    Ok(y)
}

/// `scipy.signal.detrend(x, type=...)`: `linear` removes the least-squares
/// line, `constant` the mean.
pub fn detrend(x: &[f64], kind: &str) -> Result<Vec<f64>, Error> {
    let n = x.len() as f64;
    if x.is_empty() {
        return Ok(Vec::new());
    }
    let mean = x.iter().sum::<f64>() / n;
    match kind {
        "constant" => Ok(x.iter().map(|v| v - mean).collect()),
        "linear" => {
            let tm = (n - 1.0) / 2.0;
            let sxx: f64 = (0..x.len()).map(|t| (t as f64 - tm).powi(2)).sum();
            let sxy: f64 = x
                .iter()
                .enumerate()
                .map(|(t, v)| (t as f64 - tm) * (v - mean))
                .sum();
            let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
            Ok(x.iter()
                .enumerate()
                .map(|(t, v)| v - (mean + slope * (t as f64 - tm)))
                .collect())
        }
        other => crate::params(format!("unknown detrend '{other}' (linear, constant)")),
    }
}

/// Scales a series: `zscore` (mean 0, population std 1, as
/// `scipy.stats.zscore`), `minmax` (to [0, 1]) or `peak` (max |x| to 1).
/// A constant series becomes zeros.
pub fn normalize(x: &mut [f64], mode: &str) -> Result<(), Error> {
    let n = x.len().max(1) as f64;
    match mode {
        "zscore" => {
            let mean = x.iter().sum::<f64>() / n;
            let std = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
            x.iter_mut()
                .for_each(|v| *v = if std > 0.0 { (*v - mean) / std } else { 0.0 });
        }
        "minmax" => {
            let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            x.iter_mut()
                .for_each(|v| *v = if hi > lo { (*v - lo) / (hi - lo) } else { 0.0 });
        }
        "peak" => {
            let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            if peak > 0.0 {
                x.iter_mut().for_each(|v| *v /= peak);
            }
        }
        other => {
            return crate::params(format!(
                "unknown normalize '{other}' (zscore, minmax, peak)"
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_outputs() {
        assert_eq!(
            preemphasis(&[1.0, 3.0, 4.0, 3.0], 0.5),
            vec![0.0, 2.5, 2.5, 1.0]
        );
        let y = lfilter(&[1.0], &[1.0, -0.5], &[1.0, 0.0, 0.0]).unwrap();
        assert_eq!(y, vec![1.0, 0.5, 0.25]);
        let s = sosfilt(&[[1.0, 0.0, 0.0, 1.0, -0.5, 0.0]], &[1.0, 0.0, 0.0]).unwrap();
        assert_eq!(s, vec![1.0, 0.5, 0.25]);
        let d = detrend(&[1.0, 3.0, 5.0, 7.0], "linear").unwrap();
        assert!(d.iter().all(|v| v.abs() < 1e-12));
        assert!(sosfilt(&[[1.0, 0.0, 0.0, 2.0, 0.0, 0.0]], &[1.0]).is_err());
    }
}
