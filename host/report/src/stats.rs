//! Statistics of a set of samples: moments, order statistics, a
//! confidence interval of the mean, and the comparison of two runs.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Percentiles reported for every anchor, in percent.
pub const PERCENTILES: [f64; 5] = [50.0, 90.0, 95.0, 99.0, 99.9];

/// Statistics of one series (e.g. an anchor's real time in ms).
///
/// Conventions: `var`/`std` are the sample variance and deviation (n − 1);
/// percentiles are nearest-rank (the smallest sample with at least p % of
/// the samples at or below it, as MLPerf LoadGen reports them); `ci95` is
/// Student's t interval of the mean, which assumes independent samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Number of samples.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation.
    pub std: f64,
    /// Sample variance.
    pub var: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// 95 % confidence interval of the mean, `[low, high]`.
    pub ci95: [f64; 2],
}

impl Stats {
    /// Computes the statistics; `None` for no samples.
    pub fn of(values: &[f64]) -> Option<Stats> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        // Welford's moments: the sample variance (n − 1).
        let m = lpdnn_anchors::Moments::of(values.iter().copied());
        let mean = m.mean;
        let var = m.var;
        let std = var.sqrt();
        let half = if n > 1 {
            t_quantile(0.975, (n - 1) as f64) * std / (n as f64).sqrt()
        } else {
            f64::NAN
        };
        let pct = |p: f64| percentile(&sorted, p);
        Some(Stats {
            n,
            mean,
            std,
            var,
            min: sorted[0],
            max: sorted[n - 1],
            p50: pct(50.0),
            p90: pct(90.0),
            p95: pct(95.0),
            p99: pct(99.0),
            p99_9: pct(99.9),
            ci95: if half.is_finite() {
                [mean - half, mean + half]
            } else {
                [mean, mean]
            },
        })
    }

    /// Half the width of the 95 % interval of the mean (the "±").
    pub fn ci95_half(&self) -> f64 {
        (self.ci95[1] - self.ci95[0]) / 2.0
    }

    /// The percentiles in [`PERCENTILES`] order.
    pub fn percentiles(&self) -> [f64; 5] {
        [self.p50, self.p90, self.p95, self.p99, self.p99_9]
    }
}

/// Nearest-rank percentile of sorted values (`p` in percent).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    // Round first: 99.9 % of 1000 is 999.0000000000001 in floating point.
    let rank = ((p / 100.0 * n as f64 * 1e9).round() / 1e9).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// Samples a percentile needs before it means something: the chance that
/// all `n` samples fall below the true p-th percentile, `(p/100)^n`, must
/// be under 0.13 %. This gives MLPerf's figures: 64 samples for p90, 662
/// for p99 (and 10 for p50, 130 for p95, 6643 for p99.9).
pub fn samples_needed(p: f64) -> usize {
    ((0.0013f64).ln() / (p / 100.0).ln()).ceil() as usize
}

/// A warning for the percentiles that `n` samples of `what` cannot
/// support, or `None` when all can be trusted.
pub fn percentile_warning(what: &str, n: usize) -> Option<String> {
    let short: Vec<String> = PERCENTILES
        .iter()
        .filter(|&&p| n < samples_needed(p))
        .map(|&p| format!("p{} (needs {})", fmt_p(p), samples_needed(p)))
        .collect();
    (!short.is_empty()).then(|| {
        format!(
            "{what}: {n} sample(s) are too few for {}; reported, but close to the maximum",
            short.join(", ")
        )
    })
}

/// `99.9` → `"99.9"`, `50` → `"50"`.
pub fn fmt_p(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p}")
    }
}

fn t_quantile(p: f64, dof: f64) -> f64 {
    StudentsT::new(0.0, 1.0, dof)
        .map(|t| t.inverse_cdf(p))
        .unwrap_or(1.959964)
}

/// How B's mean compares with A's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// B's mean is lower and the 95 % interval of the difference excludes 0.
    Faster,
    /// B's mean is higher and the interval excludes 0.
    Slower,
    /// The interval of the difference contains 0.
    NoSignificantDifference,
    /// Not judged: a run on either side was disturbed (NOISY, THROTTLED or
    /// partial). `compare` gives it; [`compare`] never does.
    Inconclusive,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Faster => "faster",
            Verdict::Slower => "slower",
            Verdict::NoSignificantDifference => "no significant difference",
            Verdict::Inconclusive => "inconclusive",
        })
    }
}

/// The difference of two means (B − A) with Welch's 95 % interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// Mean of A.
    pub a: f64,
    /// Mean of B.
    pub b: f64,
    /// B − A.
    pub diff: f64,
    /// (B − A) / A, in percent.
    pub diff_percent: f64,
    /// 95 % confidence interval of B − A.
    pub ci95: [f64; 2],
    /// The verdict for B.
    pub verdict: Verdict,
}

/// Compares two series by Welch's t interval (unequal variances).
pub fn compare(a: &Stats, b: &Stats) -> Difference {
    let diff = b.mean - a.mean;
    let (va, vb) = (a.var / a.n as f64, b.var / b.n as f64);
    let se = (va + vb).sqrt();
    let half = if a.n > 1 && b.n > 1 && se > 0.0 {
        // Welch–Satterthwaite degrees of freedom.
        let dof =
            (va + vb).powi(2) / (va.powi(2) / (a.n - 1) as f64 + vb.powi(2) / (b.n - 1) as f64);
        t_quantile(0.975, dof) * se
    } else if se == 0.0 && a.n > 1 && b.n > 1 {
        0.0
    } else {
        f64::INFINITY
    };
    let ci95 = [diff - half, diff + half];
    let verdict = if ci95[0] > 0.0 {
        Verdict::Slower
    } else if ci95[1] < 0.0 {
        Verdict::Faster
    } else {
        Verdict::NoSignificantDifference
    };
    Difference {
        a: a.mean,
        b: b.mean,
        diff,
        diff_percent: if a.mean != 0.0 {
            diff / a.mean * 100.0
        } else {
            f64::NAN
        },
        ci95,
        verdict,
    }
}

/// One engine's time per input, as ranked by [`Ranking`].
#[derive(Debug, Clone, Copy)]
pub struct Ranked<'a> {
    /// The engine.
    pub engine: &'a str,
    /// The stage timed as a whole: `total`, or `inference` alone.
    pub stage: &'a str,
    /// Its steady-state real time per input (that stage), ms.
    pub stats: &'a Stats,
    /// Its throughput over the steady state, inputs per second.
    pub throughput_per_s: f64,
}

/// The answer to "which engine is fastest?": the engines by mean time per
/// input, those the fastest's 95 % interval does not tell apart from it,
/// and whether the p99 ranks them otherwise. The text report's headline
/// and the HTML report's say the same thing from it.
#[derive(Debug, Clone)]
pub struct Ranking<'a> {
    /// Every engine, fastest mean first.
    pub by_mean: Vec<Ranked<'a>>,
    /// The others whose 95 % interval of the mean overlaps the fastest's
    /// (this run does not tell them apart), in rank order.
    pub within: Vec<Ranked<'a>>,
    /// The engine with the lowest p99 when it is not the fastest by mean.
    pub lowest_p99: Option<Ranked<'a>>,
}

impl<'a> Ranking<'a> {
    /// Ranks `entries`; `None` when there are none.
    pub fn of(mut entries: Vec<Ranked<'a>>) -> Option<Ranking<'a>> {
        entries.sort_by(|a, b| a.stats.mean.total_cmp(&b.stats.mean));
        let best = *entries.first()?;
        let within = entries[1..]
            .iter()
            .filter(|o| o.stats.ci95[0] <= best.stats.ci95[1])
            .copied()
            .collect();
        let lowest_p99 = entries
            .iter()
            .min_by(|a, b| a.stats.p99.total_cmp(&b.stats.p99))
            .filter(|l| l.stats.p99 < best.stats.p99)
            .copied();
        Some(Ranking {
            by_mean: entries,
            within,
            lowest_p99,
        })
    }

    /// The fastest engine by mean.
    pub fn fastest(&self) -> Ranked<'a> {
        self.by_mean[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_match_a_hand_computation() {
        let s = Stats::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(s.n, 8);
        assert!((s.mean - 5.0).abs() < 1e-12);
        // Sum of squared deviations 32, over n - 1 = 7.
        assert!((s.var - 32.0 / 7.0).abs() < 1e-12);
        assert_eq!((s.min, s.max), (2.0, 9.0));
        // Nearest rank: p50 of 8 → rank 4 → 4; p90 → rank 8 → 9.
        assert_eq!(s.p50, 4.0);
        assert_eq!(s.p90, 9.0);
        // t(0.975, 7) = 2.364624; half width = t * std / sqrt(8).
        let half = 2.364624 * (32.0f64 / 7.0).sqrt() / 8f64.sqrt();
        assert!((s.ci95[0] - (5.0 - half)).abs() < 1e-5, "{:?}", s.ci95);
        assert!((s.ci95[1] - (5.0 + half)).abs() < 1e-5, "{:?}", s.ci95);
        assert!(Stats::of(&[]).is_none());
        let one = Stats::of(&[3.0]).unwrap();
        assert_eq!((one.var, one.ci95), (0.0, [3.0, 3.0]));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=1000).map(f64::from).collect();
        let s = Stats::of(&v).unwrap();
        assert_eq!(s.percentiles(), [500.0, 900.0, 950.0, 990.0, 999.0]);
        assert_eq!(percentile(&[1.0, 2.0], 50.0), 1.0);
        assert_eq!(percentile(&[1.0, 2.0], 50.1), 2.0);
    }

    #[test]
    fn sample_counts_follow_mlperf() {
        assert_eq!(samples_needed(90.0), 64);
        assert_eq!(samples_needed(99.0), 662);
        let w = percentile_warning("total", 64).unwrap();
        assert!(
            w.contains("p95 (needs 130), p99 (needs 662), p99.9 (needs 6643)"),
            "{w}"
        );
        assert!(!w.contains("p90"), "{w}");
        assert_eq!(percentile_warning("total", 10_000), None);
    }

    #[test]
    fn ranking_names_the_fastest_those_within_its_interval_and_a_lower_p99() {
        // a: mean 10; b: mean 10.01, its interval overlaps a's; c: mean 20.
        let a: Vec<f64> = (0..100).map(|i| 9.9 + (i % 3) as f64 * 0.1).collect();
        let b: Vec<f64> = (0..100).map(|i| 9.91 + (i % 3) as f64 * 0.1).collect();
        let c: Vec<f64> = (0..100).map(|i| 19.9 + (i % 3) as f64 * 0.1).collect();
        let (a, b, c) = (
            Stats::of(&a).unwrap(),
            Stats::of(&b).unwrap(),
            Stats::of(&c).unwrap(),
        );
        let entry = |engine, stats| Ranked {
            engine,
            stage: "total",
            stats,
            throughput_per_s: 0.0,
        };
        let r = Ranking::of(vec![entry("c", &c), entry("b", &b), entry("a", &a)]).unwrap();
        fn names<'a>(v: &[Ranked<'a>]) -> Vec<&'a str> {
            v.iter().map(|e| e.engine).collect()
        }
        assert_eq!(names(&r.by_mean), ["a", "b", "c"]);
        assert_eq!(r.fastest().engine, "a");
        assert_eq!(names(&r.within), ["b"]);
        // p99 agrees with the mean here (a's 10.1 < b's 10.11).
        assert!(r.lowest_p99.is_none(), "{:?}", r.lowest_p99);
        // Make a's tail long: b now has the lowest p99.
        let mut a2: Vec<f64> = (0..100).map(|i| 9.7 + (i % 3) as f64 * 0.1).collect();
        a2[0] = 15.0;
        a2[1] = 15.0;
        let a2 = Stats::of(&a2).unwrap();
        assert!(a2.mean < b.mean && a2.p99 > b.p99);
        let r = Ranking::of(vec![entry("b", &b), entry("a", &a2)]).unwrap();
        assert_eq!(r.fastest().engine, "a");
        assert_eq!(r.lowest_p99.map(|e| e.engine), Some("b"));
        assert!(Ranking::of(vec![]).is_none());
    }

    #[test]
    fn comparison_separates_real_differences_from_noise() {
        let a: Vec<f64> = (0..100).map(|i| 10.0 + (i % 5) as f64 * 0.1).collect();
        let b: Vec<f64> = a.iter().map(|x| x * 0.9).collect();
        let c: Vec<f64> = a.iter().rev().copied().collect();
        let (a, b, c) = (
            Stats::of(&a).unwrap(),
            Stats::of(&b).unwrap(),
            Stats::of(&c).unwrap(),
        );
        let d = compare(&a, &b);
        assert_eq!(d.verdict, Verdict::Faster);
        assert!((d.diff_percent + 10.0).abs() < 1e-9);
        assert_eq!(compare(&b, &a).verdict, Verdict::Slower);
        assert_eq!(compare(&a, &c).verdict, Verdict::NoSignificantDifference);
    }
}
