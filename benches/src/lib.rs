//! Benchmarks live in benches/. This library holds what they share: timing
//! two ways of doing the same work side by side, for the ratios that
//! `docs/performance.md` reports.

#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lpdnn_app::{App, Pipeline, RunOptions, Runtime};
use lpdnn_engine_api::Tensor;

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file under `assets/`; panics with what to run when it is missing.
pub fn asset(rel: &str) -> PathBuf {
    let p = root().join("assets").join(rel);
    assert!(
        p.is_file(),
        "{} is missing: run scripts/setup.sh",
        p.display()
    );
    p
}

/// The image under `assets/` at `rel`, re-encoded as binary PPM: decoding it
/// is about a copy, so the pre-processor's own kernel dominates.
pub fn ppm(rel: &str) -> Vec<u8> {
    let img = image::open(asset(rel)).expect("image").into_rgb8();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Pnm)
        .expect("ppm");
    out.into_inner()
}

/// The face app (`examples/face-detection`) on `engine` with `threads`,
/// and the tensors its pre-processor makes of the astronaut image.
pub fn face_pipeline(engine: &str, threads: usize, runtime: &Runtime) -> (Pipeline, Vec<Tensor>) {
    let app = App::load(&root().join("examples/face-detection/app.json")).expect("app");
    let mut p = Pipeline::load(
        &app,
        runtime,
        &RunOptions {
            engine: Some(engine.into()),
            threads: Some(threads),
            ..Default::default()
        },
    )
    .expect("pipeline");
    let image = std::fs::read(asset("images/astronaut.png")).expect("astronaut.png");
    let tensors = p.preprocess(&image).expect("preprocess").chunks.remove(0);
    (p, tensors)
}

/// Two ways of doing the same work, timed alternately.
#[derive(Debug, Clone, Copy)]
pub struct Comparison {
    /// Median time of one call of A.
    pub a: Duration,
    /// Median time of one call of B.
    pub b: Duration,
    /// Median over the rounds of A's time over B's in the same round.
    pub ratio: f64,
    /// 25th percentile of the per-round ratios.
    pub ratio_p25: f64,
    /// 75th percentile of the per-round ratios.
    pub ratio_p75: f64,
    /// Rounds measured (each one batch of A and one of B).
    pub rounds: usize,
}

/// Fewest rounds, whatever the budget.
const MIN_ROUNDS: usize = 10;
/// Each side of a round runs for about this long.
const ROUND: Duration = Duration::from_millis(5);

/// Runs `f` and returns how long it took: for [`interleaved`] sides that
/// time all of their call.
pub fn timed(mut f: impl FnMut()) -> impl FnMut() -> Duration {
    move || {
        let start = Instant::now();
        f();
        start.elapsed()
    }
}

/// Times `a` against `b` interleaved: round after round, a few calls of A and
/// as many of B (alternating which goes first), until `budget` is spent. Each
/// call returns the time of the part it measures, so a side can prepare its
/// input untimed. Each round gives one ratio of two neighbouring stretches,
/// so a machine that slows down for a while (another tenant, the CPU clock)
/// slows both sides of the rounds it touches and the median ratio stays put;
/// two separate runs would each see a different machine.
pub fn interleaved(
    mut a: impl FnMut() -> Duration,
    mut b: impl FnMut() -> Duration,
    budget: Duration,
) -> Comparison {
    // Warm: caches, lazy set-up, the first page faults; then one timed call.
    a();
    b();
    let calls = |t: Duration| (ROUND.as_nanos() / t.as_nanos().max(1)).clamp(1, 100_000) as u32;
    let (na, nb) = (calls(a()), calls(b()));
    let mean = |f: &mut dyn FnMut() -> Duration, n: u32| (0..n).map(|_| f()).sum::<Duration>() / n;
    let (mut ta, mut tb, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let start = Instant::now();
    while ratios.len() < MIN_ROUNDS || start.elapsed() < budget {
        let (da, db) = if ratios.len() % 2 == 0 {
            let da = mean(&mut a, na);
            (da, mean(&mut b, nb))
        } else {
            let db = mean(&mut b, nb);
            (mean(&mut a, na), db)
        };
        ta.push(da);
        tb.push(db);
        ratios.push(da.as_secs_f64() / db.as_secs_f64().max(1e-12));
    }
    ta.sort();
    tb.sort();
    ratios.sort_by(f64::total_cmp);
    Comparison {
        a: ta[ta.len() / 2],
        b: tb[tb.len() / 2],
        ratio: quantile(&ratios, 0.5),
        ratio_p25: quantile(&ratios, 0.25),
        ratio_p75: quantile(&ratios, 0.75),
        rounds: ratios.len(),
    }
}

/// The `q` quantile of sorted, non-empty `v` (nearest rank).
fn quantile(v: &[f64], q: f64) -> f64 {
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Milliseconds with three decimals, right-aligned in 9 columns.
pub fn ms(d: Duration) -> String {
    format!("{:>9.3}", d.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(d: Duration) {
        let start = Instant::now();
        while start.elapsed() < d {
            std::hint::spin_loop();
        }
    }

    #[test]
    fn twice_the_work_reads_as_twice_the_time() {
        let c = interleaved(
            timed(|| spin(Duration::from_micros(400))),
            timed(|| spin(Duration::from_micros(200))),
            Duration::from_millis(200),
        );
        assert!(c.rounds >= MIN_ROUNDS);
        assert!(c.ratio > 1.6 && c.ratio < 2.4, "{c:?}");
        assert!(c.ratio_p25 <= c.ratio && c.ratio <= c.ratio_p75, "{c:?}");
    }
}
