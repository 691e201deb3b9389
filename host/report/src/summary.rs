//! What the text and the HTML report both say of a run: the stage timed,
//! the engines ranked, numbers as they print.

use lpdnn_types::Stage;

use crate::report::EngineRun;
use crate::stats::{Ranked, Ranking};

/// The stage timed as a whole: `total`, or `inference` alone when only
/// the engine was timed.
pub(crate) fn timed_stage(run: &EngineRun) -> &'static str {
    let has = |stage: Stage| {
        run.phases
            .steady
            .as_ref()
            .is_some_and(|s| s.anchors.get(stage.name()).is_some())
    };
    if !has(Stage::Total) && has(Stage::Inference) {
        Stage::Inference.name()
    } else {
        Stage::Total.name()
    }
}

/// The engines of `runs` ranked by their timed stage's steady-state mean
/// (runs without a steady state left out); `None` when none has one.
pub(crate) fn ranking(runs: &[EngineRun]) -> Option<Ranking<'_>> {
    Ranking::of(
        runs.iter()
            .filter_map(|r| {
                let s = r.phases.steady.as_ref()?;
                let a = s.anchors.get(timed_stage(r))?;
                Some(Ranked {
                    engine: &r.engine,
                    stage: timed_stage(r),
                    stats: &a.real_ms,
                    throughput_per_s: s.throughput_per_s,
                })
            })
            .collect(),
    )
}

/// Milliseconds with three or four significant figures.
pub(crate) fn fmt_ms(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        "–".into()
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A round number (an axis end, a setting) without trailing zeros.
pub(crate) fn fmt_round(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// What a result measured under user-mode emulation is worth.
pub(crate) fn emulated_note(arch: &str, kernel: &str) -> String {
    format!(
        "{arch} code ran under user-mode emulation (qemu-user) on an {kernel} kernel: \
         predictions are the target's, timings and resources are not the board's"
    )
}
