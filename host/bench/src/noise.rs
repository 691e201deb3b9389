//! Was the run disturbed? Interference judged from what the monitors and the
//! anchors already measured during the steady state. The rule (also in
//! `docs/benchmark.md`):
//!
//! - **strong signs**, any one marks the run `NOISY`:
//!   - other processes kept at least [`OTHER_CPU_CORES`] CPU cores busy on
//!     average (system CPU load minus this process's);
//!   - the hypervisor stole at least [`STEAL_PERCENT`] % of the CPU time
//!     (`/proc/stat` steal);
//!   - a single-threaded stage (the wasm stages, and inference with one
//!     engine thread) took at least [`REAL_OVER_CPU`] × its CPU time in real
//!     time: its thread was waiting for a core;
//! - **notes**, reported beside the verdict but never deciding it (on a quiet
//!   machine they fire too: two inputs of different cost, caches, the
//!   monitor's own wake-ups):
//!   - the steady state's coefficient of variation is over [`CV_RATIO`] ×
//!     the warm-up's and over [`CV_FLOOR`];
//!   - one input's latencies are bimodal: Sarle's bimodality coefficient of
//!     the 5–95 % trimmed samples over [`BIMODALITY`].

use std::collections::BTreeMap;

pub use lpdnn_report::Interference;
use lpdnn_report::{Steady, Timeline, Warmup};

/// Other processes' average CPU use, in cores, that marks a run noisy.
pub const OTHER_CPU_CORES: f64 = 0.5;
/// Steal time, % of all CPU time, that marks a run noisy.
pub const STEAL_PERCENT: f64 = 2.0;
/// Real ÷ CPU time of a single-threaded stage that marks a run noisy.
pub const REAL_OVER_CPU: f64 = 1.2;
/// Steady ÷ warm-up coefficient of variation of a note.
pub const CV_RATIO: f64 = 2.0;
/// Smallest steady coefficient of variation of a note.
pub const CV_FLOOR: f64 = 0.05;
/// Sarle's bimodality coefficient of a note (a uniform
/// distribution has 5/9 ≈ 0.555, a normal one 1/3).
pub const BIMODALITY: f64 = 0.6;
/// Stages shorter than this (ms of CPU time) are too short for a real ÷ CPU
/// ratio to mean anything.
const MIN_STAGE_MS: f64 = 0.05;
/// Fewest warm-up iterations for its variation to be compared.
const MIN_WARMUP: u64 = 10;
/// Fewest samples of one input for a bimodality coefficient.
const MIN_BIMODAL_SAMPLES: usize = 30;

/// What [`assess`] looks at.
pub struct Readings<'a> {
    /// The steady state.
    pub steady: &'a Steady,
    /// The warm-up.
    pub warmup: &'a Warmup,
    /// Monitor samples and iteration times.
    pub timeline: &'a Timeline,
    /// The stage the run times as a whole (`total`, or `inference` alone).
    pub timed: &'a str,
    /// Stages whose work runs on the calling thread only.
    pub single_threaded: &'a [&'a str],
    /// Inputs in the dataset (iterations cycle through them).
    pub inputs: usize,
    /// Logical CPUs of the machine.
    pub cores: usize,
}

/// Applies the rule (see the module documentation).
pub fn assess(r: &Readings) -> Interference {
    let mut strong = Vec::new();
    let window = steady_window(r.timeline);
    let mean_of = |f: &dyn Fn(&BTreeMap<String, f64>) -> Option<f64>| {
        let (start, end) = window?;
        let v: Vec<f64> = r
            .timeline
            .samples
            .iter()
            .filter(|p| p.t > start && p.t <= end)
            .filter_map(|p| f(&p.values))
            .collect();
        (v.len() >= 2).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let other_cpu_cores =
        mean_of(&|v| Some(v.get("cpu_load_system")? - v.get("cpu_load_process")?))
            .map(|pct| (pct * r.cores as f64 / 100.0).max(0.0));
    if let Some(c) = other_cpu_cores.filter(|c| *c >= OTHER_CPU_CORES) {
        strong.push(format!(
            "other processes kept {c:.2} of {} CPU cores busy during the steady state",
            r.cores
        ));
    }
    let steal_percent = mean_of(&|v| v.get("cpu_steal").copied());
    if let Some(s) = steal_percent.filter(|s| *s >= STEAL_PERCENT) {
        strong.push(format!("the hypervisor stole {s:.1} % of the CPU time"));
    }
    let mut real_over_cpu = BTreeMap::new();
    for stage in r.single_threaded {
        let Some(a) = r.steady.anchors.get(stage) else {
            continue;
        };
        if a.cpu_ms.mean < MIN_STAGE_MS {
            continue;
        }
        let ratio = a.real_ms.mean / a.cpu_ms.mean;
        real_over_cpu.insert((*stage).to_owned(), ratio);
        if ratio >= REAL_OVER_CPU {
            strong.push(format!(
                "{stage} ran on one thread but took {ratio:.2} × its CPU time \
                 ({:.3} ms real, {:.3} ms CPU): it waited for a core",
                a.real_ms.mean, a.cpu_ms.mean
            ));
        }
    }

    let cv = |s: &crate::stats::Stats| (s.mean > 0.0).then(|| s.std / s.mean);
    let cv_steady = r.steady.anchors.get(r.timed).and_then(|a| cv(&a.real_ms));
    let cv_warmup = (r.warmup.iterations >= MIN_WARMUP)
        .then(|| r.warmup.anchors.get(r.timed).and_then(|a| cv(&a.real_ms)))
        .flatten();
    let mut notes = Vec::new();
    if let (Some(s), Some(w)) = (cv_steady, cv_warmup) {
        if s > CV_FLOOR && s > CV_RATIO * w {
            notes.push(format!(
                "{} varied {:.1} % in the steady state against {:.1} % in the warm-up",
                r.timed,
                s * 100.0,
                w * 100.0
            ));
        }
    }
    let bimodality = (0..r.inputs.max(1))
        .filter_map(|input| {
            let samples: Vec<f64> = r
                .timeline
                .iterations_ms
                .iter()
                .skip(input)
                .step_by(r.inputs.max(1))
                .copied()
                .collect();
            bimodality_coefficient(&samples)
        })
        .reduce(f64::max);
    if let Some(b) = bimodality.filter(|b| *b > BIMODALITY) {
        notes.push(format!(
            "one input's latencies are bimodal (coefficient {b:.2} > {BIMODALITY})"
        ));
    }

    Interference {
        noisy: !strong.is_empty(),
        other_cpu_cores,
        steal_percent,
        real_over_cpu,
        cv_steady,
        cv_warmup,
        bimodality,
        evidence: strong,
        notes,
    }
}

/// First and last moment of the steady state on the timeline's clock.
fn steady_window(t: &Timeline) -> Option<(f64, f64)> {
    let start = *t.iterations_t.first()?;
    let end = t.iterations_t.last()? + t.iterations_ms.last().copied().unwrap_or(0.0) / 1e3;
    Some((start, end))
}

/// Sarle's bimodality coefficient (g² + 1) / (k + 3(n−1)²/((n−2)(n−3))) of
/// the 5–95 % trimmed samples (g: sample skewness, k: sample excess
/// kurtosis), so that a few outliers do not pass for a second mode.
fn bimodality_coefficient(samples: &[f64]) -> Option<f64> {
    if samples.len() < MIN_BIMODAL_SAMPLES {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let cut = s.len() / 20;
    let s = &s[cut..s.len() - cut];
    let n = s.len() as f64;
    let mean = s.iter().sum::<f64>() / n;
    let m = |k: i32| s.iter().map(|x| (x - mean).powi(k)).sum::<f64>() / n;
    let (m2, m3, m4) = (m(2), m(3), m(4));
    if m2 <= 0.0 {
        return None;
    }
    // Bias-corrected sample skewness and excess kurtosis.
    let g1 = m3 / m2.powf(1.5);
    let skew = g1 * (n * (n - 1.0)).sqrt() / (n - 2.0);
    let g2 = m4 / (m2 * m2) - 3.0;
    let kurt = ((n + 1.0) * g2 + 6.0) * (n - 1.0) / ((n - 2.0) * (n - 3.0));
    Some((skew * skew + 1.0) / (kurt + 3.0 * (n - 1.0).powi(2) / ((n - 2.0) * (n - 3.0))))
}

#[cfg(test)]
mod tests {
    use super::{assess, bimodality_coefficient, Readings};
    use crate::stats::Stats;
    use lpdnn_monitors::Point;
    use lpdnn_report::{AnchorStats, AnchorTable, Steady, Timeline, Warmup};

    fn stage(real: &[f64], cpu: &[f64]) -> AnchorStats {
        AnchorStats {
            real_ms: Stats::of(real).unwrap(),
            cpu_ms: Stats::of(cpu).unwrap(),
            alloc_bytes: None,
            throughput_per_s: 0.0,
        }
    }

    /// A 2-core machine: 20 iterations of 5 ms from t = 1 s, monitor
    /// samples every 10 ms with the given system and process loads (%).
    fn case(system: f64, process: f64, real_over_cpu: f64) -> super::Interference {
        let real: Vec<f64> = (0..20).map(|i| 5.0 + (i % 3) as f64 * 0.01).collect();
        let cpu: Vec<f64> = real.iter().map(|r| r / real_over_cpu).collect();
        let anchors = AnchorTable(vec![
            ("preprocess".into(), stage(&real, &cpu)),
            ("total".into(), stage(&real, &real)),
        ]);
        let steady = Steady {
            iterations: 20,
            passes: 20,
            seconds: 0.1,
            ended_by: crate::EndedBy::Number,
            throughput_per_s: 200.0,
            anchors: anchors.clone(),
        };
        let warmup = Warmup {
            iterations: 20,
            seconds: 0.1,
            ended_by: crate::EndedBy::Iterations,
            anchors,
        };
        let timeline = Timeline {
            interval_ms: Some(10.0),
            samples: (0..12)
                .map(|i| Point {
                    t: 1.0 + i as f64 * 0.01,
                    values: [
                        ("cpu_load_system".to_owned(), system),
                        ("cpu_load_process".to_owned(), process),
                        ("cpu_steal".to_owned(), 0.0),
                    ]
                    .into(),
                })
                .collect(),
            iterations_t: (0..20).map(|i| 1.0 + i as f64 * 0.005).collect(),
            iterations_ms: real,
        };
        assess(&Readings {
            steady: &steady,
            warmup: &warmup,
            timeline: &timeline,
            timed: "total",
            single_threaded: &["preprocess"],
            inputs: 1,
            cores: 2,
        })
    }

    #[test]
    fn quiet_is_not_noisy() {
        let i = case(52.0, 50.0, 1.01);
        assert!(!i.noisy, "{i:?}");
        assert!((i.other_cpu_cores.unwrap() - 0.04).abs() < 1e-9, "{i:?}");
        assert!(i.evidence.is_empty() && i.notes.is_empty(), "{i:?}");
        assert!(i
            .summary()
            .starts_with("none seen (other processes 0.04 cores"));
    }

    #[test]
    fn other_processes_or_a_waiting_stage_are_noisy() {
        // 1.3 cores busy elsewhere.
        let i = case(95.0, 30.0, 1.01);
        assert!(i.noisy, "{i:?}");
        assert!(
            i.evidence[0].starts_with("other processes kept 1.30 of 2"),
            "{i:?}"
        );
        // A single-threaded stage at 1.45 × its CPU time.
        let i = case(52.0, 50.0, 1.45);
        assert!(i.noisy, "{i:?}");
        assert!(i.evidence[0].starts_with("preprocess ran on one thread but took 1.45"));
        assert!(i.summary().starts_with("NOISY: preprocess"));
    }

    fn lcg(seed: u64) -> impl FnMut() -> f64 {
        let mut x = seed;
        move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn two_modes_are_bimodal_one_mode_with_outliers_is_not() {
        let mut u = lcg(1);
        // Normal-ish (sum of 12 uniforms) around 4 ms.
        let mut normal = || 4.0 + (0..12).map(|_| u()).sum::<f64>() * 0.1 - 0.6;
        let one: Vec<f64> = (0..400).map(|_| normal()).collect();
        let b1 = bimodality_coefficient(&one).unwrap();
        assert!(b1 < 0.45, "one mode: {b1}");
        // The same with 2 % far outliers.
        let mut outliers = one.clone();
        for x in outliers.iter_mut().step_by(50) {
            *x = 40.0;
        }
        let b2 = bimodality_coefficient(&outliers).unwrap();
        assert!(b2 < 0.5, "outliers: {b2}");
        // Half the samples 40 % slower: a second mode.
        let two: Vec<f64> = (0..400)
            .map(|i| normal() * if i % 2 == 0 { 1.0 } else { 1.4 })
            .collect();
        let b3 = bimodality_coefficient(&two).unwrap();
        assert!(b3 > 0.6, "two modes: {b3}");
    }
}
