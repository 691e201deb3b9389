//! Window functions as `scipy.signal.get_window` makes them.

use crate::Error;

/// A window by name: `hann`, `hamming`, `blackman`, `rectangular` (or
/// `boxcar`), `kaiser` (with `beta`). `periodic` is scipy's `fftbins=True`
/// (the form spectral analysis uses); otherwise symmetric (filter design).
pub fn get(name: &str, n: usize, periodic: bool, beta: f64) -> Result<Vec<f64>, Error> {
    if n == 0 {
        return crate::params("window length must be at least 1");
    }
    if n == 1 {
        return Ok(vec![1.0]);
    }
    // A periodic window of n is the symmetric window of n + 1 without its last point.
    let m = if periodic { n + 1 } else { n };
    let cosine = |a: &[f64]| -> Vec<f64> {
        (0..n)
            .map(|i| {
                let fac =
                    -std::f64::consts::PI + 2.0 * std::f64::consts::PI * i as f64 / (m - 1) as f64;
                a.iter()
                    .enumerate()
                    .map(|(k, ak)| ak * (k as f64 * fac).cos())
                    .sum()
            })
            .collect()
    };
    Ok(match name {
        "hann" | "hanning" => cosine(&[0.5, 0.5]),
        "hamming" => cosine(&[0.54, 0.46]),
        "blackman" => cosine(&[0.42, 0.50, 0.08]),
        "rectangular" | "boxcar" | "ones" => vec![1.0; n],
        "kaiser" => {
            let alpha = (m - 1) as f64 / 2.0;
            (0..n)
                .map(|i| {
                    let r = (i as f64 - alpha) / alpha;
                    bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(beta)
                })
                .collect()
        }
        other => {
            return crate::params(format!(
                "unknown window '{other}' (hann, hamming, blackman, rectangular, kaiser)"
            ))
        }
    })
}

/// The modified Bessel function of the first kind, order 0 (power series).
pub fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let (mut term, mut sum, mut k) = (1.0f64, 1.0f64, 1.0f64);
    loop {
        term *= q / (k * k);
        sum += term;
        if term < sum * 1e-17 {
            return sum;
        }
        k += 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let h = get("hann", 4, true, 0.0).unwrap();
        let want = [0.0, 0.5, 1.0, 0.5];
        for (a, b) in h.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{h:?}");
        }
        let s = get("hamming", 3, false, 0.0).unwrap();
        assert!((s[0] - 0.08).abs() < 1e-12 && (s[1] - 1.0).abs() < 1e-12);
        assert!((bessel_i0(5.0) - 27.239871823604442).abs() < 1e-12);
        assert!(get("triangle", 4, true, 0.0).is_err());
    }
}
