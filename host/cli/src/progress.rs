//! The benchmark's progress line, one per engine:
//! `onnxruntime (2/4) steady [=========>      ] 412/1000 it  p50 3.41 ms  ETA 2 s`.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use lpdnn_bench::{Event, Phase, WarmupPlan};

/// Redraws at most this often (the median is recomputed then).
const REDRAW: Duration = Duration::from_millis(100);
/// Resolution of the bar.
const STEPS: u64 = 1000;

/// The progress line of one engine's run.
pub struct EngineBar {
    bar: ProgressBar,
    label: String,
    /// Real times of this phase's iterations, ms.
    times: Vec<f64>,
    drawn: Option<Instant>,
}

fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.0} s")
    } else {
        format!("{}m{:02.0}s", (s / 60.0) as u64, s % 60.0)
    }
}

/// How far a steady phase is (0 to 1) and the seconds it has left, by
/// whichever of its limits (a count, a duration) comes first; `None`
/// without a limit.
fn steady_share(
    done: u64,
    total: Option<u64>,
    duration: Option<Duration>,
    elapsed: Duration,
) -> Option<(f64, f64)> {
    let per_it = elapsed.as_secs_f64() / done.max(1) as f64;
    let by_count = total.map(|t| {
        (
            done as f64 / t.max(1) as f64,
            t.saturating_sub(done) as f64 * per_it,
        )
    });
    let by_time = duration.map(|d| {
        (
            elapsed.as_secs_f64() / d.as_secs_f64().max(1e-9),
            d.saturating_sub(elapsed).as_secs_f64(),
        )
    });
    match (by_count, by_time) {
        (Some(c), Some(t)) => Some(if c.0 >= t.0 { c } else { t }),
        (c, t) => c.or(t),
    }
}

impl EngineBar {
    /// The line for engine `index` (from 1) of `count`.
    pub fn new(engine: &str, index: usize, count: usize) -> Self {
        let bar = ProgressBar::new(STEPS);
        let label = if count > 1 {
            format!("{engine} ({index}/{count})")
        } else {
            engine.to_owned()
        };
        let this = EngineBar {
            bar,
            label,
            times: Vec::new(),
            drawn: None,
        };
        this.spin(Phase::Load, "loading the components and the model".into());
        this
    }

    fn spin(&self, phase: Phase, msg: String) {
        self.bar.set_message(msg);
        self.bar.set_style(
            ProgressStyle::with_template("{prefix} {spinner} {msg}")
                .expect("valid template")
                .tick_chars("|/-\\ "),
        );
        self.bar.set_prefix(format!("{} {phase}", self.label));
        self.bar.set_position(0);
        self.bar.enable_steady_tick(REDRAW);
    }

    fn fill(&self, phase: Phase, fraction: f64, msg: String) {
        self.bar.disable_steady_tick();
        self.bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:24}] {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        self.bar.set_prefix(format!("{} {phase}", self.label));
        self.bar
            .set_position((fraction.clamp(0.0, 1.0) * STEPS as f64) as u64);
        self.bar.set_message(msg);
    }

    /// The median of this phase's times so far, ms.
    fn p50(&self) -> String {
        if self.times.is_empty() {
            return String::new();
        }
        let mut t = self.times.clone();
        let mid = (t.len() - 1) / 2;
        let (_, m, _) = t.select_nth_unstable_by(mid, f64::total_cmp);
        format!("  p50 {m:.2} ms")
    }

    /// Whether to redraw now (the first and last events always are).
    fn due(&mut self, last: bool) -> bool {
        let now = Instant::now();
        if last || self.drawn.is_none_or(|d| now - d >= REDRAW) {
            self.drawn = Some(now);
            true
        } else {
            false
        }
    }

    /// Takes one event of the runner.
    pub fn event(&mut self, event: Event) {
        match event {
            Event::Phase(Phase::Load) => {}
            Event::Phase(Phase::Layers) => {
                self.spin(Phase::Layers, "timing each layer on a profiled copy".into())
            }
            Event::Phase(Phase::Check) => self.spin(
                Phase::Check,
                "every input through the reference engine".into(),
            ),
            Event::Phase(phase) => {
                self.times.clear();
                self.drawn = None;
                self.spin(phase, "starting".into());
            }
            Event::Warmup {
                done,
                plan,
                elapsed,
                last_ms,
            } => {
                self.times.push(last_ms);
                if !self.due(false) {
                    return;
                }
                let p50 = self.p50();
                match plan {
                    WarmupPlan::Iterations(k) => self.fill(
                        Phase::Warmup,
                        done as f64 / (*k).max(1) as f64,
                        format!("{done}/{k} it{p50}"),
                    ),
                    WarmupPlan::Time(d) => self.fill(
                        Phase::Warmup,
                        elapsed.as_secs_f64() / d.as_secs_f64().max(1e-9),
                        format!(
                            "{:.1}/{:.1} s, {done} it{p50}",
                            elapsed.as_secs_f64(),
                            d.as_secs_f64()
                        ),
                    ),
                    WarmupPlan::Converge { max_time, .. } => self.bar.set_message(format!(
                        "{done} it, until the times settle (at most {}){p50}",
                        seconds(*max_time)
                    )),
                }
            }
            Event::Steady {
                done,
                total,
                duration,
                elapsed,
                last_ms,
            } => {
                self.times.push(last_ms);
                let last =
                    total.is_some_and(|t| done >= t) || duration.is_some_and(|d| elapsed >= d);
                if !self.due(last) {
                    return;
                }
                let p50 = self.p50();
                let (fraction, left) =
                    steady_share(done, total, duration, elapsed).unwrap_or((0.0, 0.0));
                let count = match total {
                    Some(t) => format!("{done}/{t} it"),
                    None => format!(
                        "{:.1}/{:.1} s, {done} it",
                        elapsed.as_secs_f64(),
                        duration.unwrap_or_default().as_secs_f64()
                    ),
                };
                let eta = seconds(Duration::from_secs_f64(left.max(0.0)));
                self.fill(Phase::Steady, fraction, format!("{count}{p50}  ETA {eta}"));
            }
        }
    }

    /// Removes the line.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// The same progress as events for whoever started this benchmark child: at
/// most four a second on standard output, each a
/// [`lpdnn_bench_api::ChildEvent::Progress`] line.
pub struct JsonProgress {
    engine: String,
    phase: Phase,
    written: Option<Instant>,
}

impl JsonProgress {
    /// The lines of engine `engine`'s run.
    pub fn new(engine: &str) -> Self {
        let mut this = JsonProgress {
            engine: engine.to_owned(),
            phase: Phase::Load,
            written: None,
        };
        this.write(0, None, None, Duration::ZERO, None, true);
        this
    }

    fn write(
        &mut self,
        done: u64,
        total: Option<u64>,
        fraction: Option<f64>,
        elapsed: Duration,
        last_ms: Option<f64>,
        now: bool,
    ) {
        let at = Instant::now();
        if !now
            && self
                .written
                .is_some_and(|w| at - w < Duration::from_millis(250))
        {
            return;
        }
        self.written = Some(at);
        let line = lpdnn_bench_api::Progress {
            engine: self.engine.clone(),
            phase: self.phase.to_string(),
            done,
            total,
            fraction: fraction.map(|f| f.clamp(0.0, 1.0)),
            elapsed_s: elapsed.as_secs_f64(),
            last_ms,
        };
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            lpdnn_bench_api::ChildEvent::Progress(line).line()
        );
        let _ = out.flush();
    }

    /// Takes one event of the runner.
    pub fn event(&mut self, event: Event) {
        match event {
            Event::Phase(phase) => {
                self.phase = phase;
                self.write(0, None, None, Duration::ZERO, None, true);
            }
            Event::Warmup {
                done,
                plan,
                elapsed,
                last_ms,
            } => {
                let (total, fraction) = match plan {
                    WarmupPlan::Iterations(k) => (Some(*k), Some(done as f64 / (*k).max(1) as f64)),
                    WarmupPlan::Time(d) => (
                        None,
                        Some(elapsed.as_secs_f64() / d.as_secs_f64().max(1e-9)),
                    ),
                    WarmupPlan::Converge { .. } => (None, None),
                };
                self.write(done, total, fraction, elapsed, Some(last_ms), false);
            }
            Event::Steady {
                done,
                total,
                duration,
                elapsed,
                last_ms,
            } => {
                let fraction = steady_share(done, total, duration, elapsed).map(|(f, _)| f);
                let last = fraction.is_some_and(|f| f >= 1.0);
                self.write(done, total, fraction, elapsed, Some(last_ms), last);
            }
        }
    }
}
