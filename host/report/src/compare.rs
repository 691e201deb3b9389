//! `compare A.json B.json`: per engine and stage, B's steady-state mean
//! against A's, with Welch's 95 % interval and a verdict; warnings when the
//! two results measured different things (app, dataset, model, engine,
//! threads, stages timed, machine); two engines of one result; a gate for CI
//! (`--fail-if-slower`). A verdict on a disturbed run (NOISY, THROTTLED or
//! partial, on either side) is inconclusive unless asked otherwise
//! (`--allow-noisy`): the gate then neither passes nor fails.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::report::{AnchorTable, EngineRun, Report, RunState};
use crate::stats::{compare, Difference, Verdict};
use crate::{Provenance, ResultError, WIDTH};

/// The comparison of two results.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Comparison {
    /// Result A, the baseline.
    pub a: PathBuf,
    /// Result B, compared with A (the same file when two engines of one
    /// result are compared).
    pub b: PathBuf,
    /// What differs between what A and B measured, each with both values.
    pub warnings: Vec<String>,
    /// B against A, per engine pair and stage; stages in pipeline order.
    pub rows: Vec<Row>,
    /// Engines or stages only one side has.
    pub unmatched: Vec<String>,
    /// The runs compared that were disturbed, each with the reason its
    /// result records; their rows are `inconclusive` unless `allow_noisy`.
    pub disturbed: Vec<Disturbed>,
    /// Disturbed runs are judged all the same (`--allow-noisy`).
    pub allow_noisy: bool,
    /// The answer of `--fail-if-slower`, when asked ([`Comparison::judge`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
}

/// Which result a run comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Side {
    /// The baseline.
    A,
    /// The result compared with it.
    B,
}

/// A compared run that was not measured undisturbed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Disturbed {
    /// The result it comes from.
    pub side: Side,
    /// Its engine.
    pub engine: String,
    /// Its state: `noisy`, `throttled` or `partial`.
    pub state: RunState,
    /// What its result records: the interference evidence, the throttling
    /// seen, or where it was interrupted.
    pub reason: String,
}

impl std::fmt::Display for Disturbed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?}'s {} run is {}: {}",
            self.side,
            self.engine,
            self.state.word(),
            self.reason
        )
    }
}

impl Disturbed {
    /// The disturbance of `run`, or `None` for a run in state OK.
    fn of(side: Side, run: &EngineRun) -> Option<Disturbed> {
        let noise = || {
            run.interference
                .as_ref()
                .filter(|i| i.noisy && !i.evidence.is_empty())
                .map(|i| i.evidence.join("; "))
        };
        let reason = match run.state {
            RunState::Ok => return None,
            RunState::Noisy => noise().unwrap_or_else(|| "no evidence recorded".into()),
            RunState::Throttled => {
                let mut r = run
                    .throttle
                    .as_ref()
                    .filter(|t| !t.reasons.is_empty())
                    .map_or("no reason recorded".into(), |t| t.reasons.join("; "));
                if let Some(n) = noise() {
                    r.push_str(&format!("; also disturbed: {n}"));
                }
                r
            }
            RunState::Partial => match &run.phases.steady {
                Some(s) => format!(
                    "interrupted after {} steady-state iteration(s)",
                    s.iterations
                ),
                None => "interrupted before its steady state".into(),
            },
        };
        Some(Disturbed {
            side,
            engine: run.engine.clone(),
            state: run.state,
            reason,
        })
    }
}

/// What `--fail-if-slower` concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateOutcome {
    /// No judged stage of B is significantly slower by more than the
    /// threshold, and none is inconclusive.
    Pass,
    /// Some judged stage of B is significantly slower by more than it.
    Fail,
    /// No judged stage fails, but some could not be judged: a run of their
    /// pair was disturbed.
    Inconclusive,
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Gate {
    /// The threshold, % slower.
    pub percent: f64,
    /// Pass, fail or inconclusive.
    pub outcome: GateOutcome,
    /// One line saying why, naming the stages or the disturbed runs.
    pub message: String,
}

/// One stage of one engine pair: B's steady-state mean against A's.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    /// A's engine.
    pub engine_a: String,
    /// B's engine (the same as A's unless two engines are compared).
    pub engine_b: String,
    /// The stage (anchor): `preprocess`, `inference`, `postprocess`, `total`.
    pub stage: String,
    /// B − A of the real-time mean, ms and %, with Welch's 95 % interval
    /// and the verdict the statistics give.
    pub difference: Difference,
    /// The verdict given: the difference's, or `inconclusive` when a run
    /// of this pair was disturbed (unless `--allow-noisy`).
    pub verdict: Verdict,
}

impl Row {
    /// `lne`, or `lne vs onnxruntime` when the engines differ.
    pub fn engines(&self) -> String {
        pair_label(&self.engine_a, &self.engine_b)
    }
}

fn pair_label(a: &str, b: &str) -> String {
    if a == b {
        a.to_owned()
    } else {
        format!("{a} vs {b}")
    }
}

/// The stages of `anchors` in pipeline order; stages the pipeline does not
/// know keep their recorded order (the sort is stable).
fn in_pipeline_order(anchors: &AnchorTable) -> Vec<&str> {
    let mut stages: Vec<&str> = anchors.0.iter().map(|(n, _)| n.as_str()).collect();
    stages.sort_by_key(|s| crate::report::pipeline_rank(s));
    stages
}

fn read(path: &Path) -> Result<Report, ResultError> {
    let bad = |message: String| ResultError {
        path: path.to_owned(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(crate::SCHEMA) => {}
        Some(other) => {
            return Err(bad(format!(
                "field `schema` is {other:?}; this lpdnn-host reads {:?}",
                crate::SCHEMA
            )))
        }
        None => {
            return Err(bad(
                "field `schema` is missing: not an lpdnn-host benchmark result".into(),
            ))
        }
    }
    serde_path_to_error::deserialize(value)
        .map_err(|e| bad(format!("field `{}`: {}", e.path(), e.inner())))
}

/// The run of `engine` in `report`, or an error naming the file and the
/// engines it has.
fn find<'r>(report: &'r Report, engine: &str, path: &Path) -> Result<&'r EngineRun, ResultError> {
    if let Some(run) = report.runs.iter().find(|r| r.engine == engine) {
        return Ok(run);
    }
    let message = match report.errors.iter().find(|f| f.engine == engine) {
        Some(f) => format!("engine {engine} failed in this run: {}", f.error),
        None => format!(
            "no engine {engine} in this result (it has {})",
            if report.runs.is_empty() {
                "none".to_owned()
            } else {
                report
                    .runs
                    .iter()
                    .map(|r| r.engine.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    };
    Err(ResultError {
        path: path.to_owned(),
        message,
    })
}

/// Compares the results in two files, B against A (`b` may be `a`).
///
/// `engines`: `None` matches runs by engine name (two single-engine results
/// are compared whatever their engines, with a warning when they differ);
/// `Some((x, y))` compares A's engine `x` with B's engine `y` only, and the
/// engine difference is then expected (no warning for it).
///
/// `allow_noisy`: judge the rows of disturbed runs (NOISY, THROTTLED,
/// partial) as any other; otherwise their verdict is `inconclusive`.
pub fn compare_reports(
    a: &Path,
    b: &Path,
    engines: Option<(&str, &str)>,
    allow_noisy: bool,
) -> Result<Comparison, ResultError> {
    let ra = read(a)?;
    let rb = if b == a { ra.clone() } else { read(b)? };
    let mut unmatched = Vec::new();
    let pairs: Vec<(&EngineRun, &EngineRun)> = match engines {
        Some((ea, eb)) => vec![(find(&ra, ea, a)?, find(&rb, eb, b)?)],
        None if ra.runs.len() == 1 && rb.runs.len() == 1 => vec![(&ra.runs[0], &rb.runs[0])],
        None => {
            let mut pairs = Vec::new();
            for run_a in &ra.runs {
                match rb.runs.iter().find(|r| r.engine == run_a.engine) {
                    Some(run_b) => pairs.push((run_a, run_b)),
                    None => unmatched.push(format!("engine {} only in A", run_a.engine)),
                }
            }
            for run_b in &rb.runs {
                if !ra.runs.iter().any(|r| r.engine == run_b.engine) {
                    unmatched.push(format!("engine {} only in B", run_b.engine));
                }
            }
            pairs
        }
    };

    let mut warnings = report_warnings(&ra, &rb);
    for (run_a, run_b) in &pairs {
        let prefix = if pairs.len() > 1 {
            format!("{}: ", pair_label(&run_a.engine, &run_b.engine))
        } else {
            String::new()
        };
        warnings.extend(
            run_warnings(run_a, run_b, engines.is_none())
                .into_iter()
                .map(|w| format!("{prefix}{w}")),
        );
    }

    let mut disturbed: Vec<Disturbed> = Vec::new();
    for (run_a, run_b) in &pairs {
        for d in [Disturbed::of(Side::A, run_a), Disturbed::of(Side::B, run_b)]
            .into_iter()
            .flatten()
        {
            // One file against itself: each run once.
            let seen = disturbed.iter().any(|o| {
                o.engine == d.engine && (o.side == d.side || b == a) && o.state == d.state
            });
            if !seen {
                disturbed.push(d);
            }
        }
    }

    let mut rows = Vec::new();
    for (run_a, run_b) in &pairs {
        let label = pair_label(&run_a.engine, &run_b.engine);
        let judged = allow_noisy || (run_a.state == RunState::Ok && run_b.state == RunState::Ok);
        let (sa, sb) = match (&run_a.phases.steady, &run_b.phases.steady) {
            (Some(sa), Some(sb)) => (sa, sb),
            (sa, _) => {
                let side = if sa.is_none() { "A" } else { "B" };
                unmatched.push(format!(
                    "{label}: no steady state in {side} (interrupted before it)"
                ));
                continue;
            }
        };
        let mut only_a = Vec::new();
        for stage in in_pipeline_order(&sa.anchors) {
            let (Some(stats_a), Some(stats_b)) = (sa.anchors.get(stage), sb.anchors.get(stage))
            else {
                only_a.push(stage);
                continue;
            };
            let difference = compare(&stats_a.real_ms, &stats_b.real_ms);
            rows.push(Row {
                engine_a: run_a.engine.clone(),
                engine_b: run_b.engine.clone(),
                stage: stage.to_owned(),
                verdict: if judged {
                    difference.verdict
                } else {
                    Verdict::Inconclusive
                },
                difference,
            });
        }
        let only_b: Vec<&str> = in_pipeline_order(&sb.anchors)
            .into_iter()
            .filter(|s| sa.anchors.get(s).is_none())
            .collect();
        for (side, only) in [("A", only_a), ("B", only_b)] {
            if !only.is_empty() {
                unmatched.push(format!(
                    "{label}: {} {} only in {side}",
                    if only.len() == 1 { "stage" } else { "stages" },
                    only.join(", ")
                ));
            }
        }
    }
    if rows.is_empty() {
        let names = |r: &Report| {
            r.runs
                .iter()
                .map(|r| r.engine.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(ResultError {
            path: b.to_owned(),
            message: format!(
                "nothing in common with {} to compare (A has engines {}, B {}; \
                 --engines X,Y compares A's X with B's Y)",
                a.display(),
                names(&ra),
                names(&rb)
            ),
        });
    }
    Ok(Comparison {
        a: a.to_owned(),
        b: b.to_owned(),
        warnings,
        rows,
        unmatched,
        disturbed,
        allow_noisy,
        gate: None,
    })
}

/// `what differs: A x, B y` when `x != y`.
fn differs(out: &mut Vec<String>, what: &str, a: String, b: String) {
    if a != b {
        out.push(format!("{what}: A {a}, B {b}"));
    }
}

/// Differences in what the two benchmarks ran and where.
fn report_warnings(ra: &Report, rb: &Report) -> Vec<String> {
    let (ca, cb) = (&ra.config, &rb.config);
    let mut out = Vec::new();
    if ca.app_name != cb.app_name || ca.app != cb.app {
        out.push(format!(
            "app differs: A {} ({}), B {} ({})",
            ca.app_name, ca.app, cb.app_name, cb.app
        ));
    }
    if ca.inputs != cb.inputs {
        let common = ca.inputs.iter().filter(|i| cb.inputs.contains(i)).count();
        out.push(format!(
            "dataset differs: A {} input(s) ({}), B {} input(s) ({}), {common} in common",
            ca.inputs.len(),
            ca.dataset,
            cb.inputs.len(),
            cb.dataset
        ));
    }
    let threads = |t: Option<usize>| t.map_or("the app's default".to_owned(), |t| t.to_string());
    differs(
        &mut out,
        "threads differ",
        threads(ca.threads),
        threads(cb.threads),
    );
    let stages = |inference_only: bool| {
        if inference_only {
            "inference only (--inference-only)".to_owned()
        } else {
            "the whole pipeline".to_owned()
        }
    };
    differs(
        &mut out,
        "stages timed differ",
        stages(ca.inference_only),
        stages(cb.inference_only),
    );
    let (pa, pb) = (&ra.provenance, &rb.provenance);
    differs(&mut out, "machine differs", machine(pa), machine(pb));
    let governor = |p: &Provenance| p.governor.clone().unwrap_or_else(|| "none".into());
    differs(
        &mut out,
        "cpufreq governor differs",
        governor(pa),
        governor(pb),
    );
    differs(
        &mut out,
        "lpdnn-host build differs",
        pa.lpdnn_host.profile.clone(),
        pb.lpdnn_host.profile.clone(),
    );
    out
}

/// `x86_64 linux AMD EPYC 7B13 (2 cores)`.
fn machine(p: &Provenance) -> String {
    let h = &p.host;
    format!(
        "{} {} {} ({} cores)",
        h.arch,
        h.os,
        h.cpu_model.as_deref().unwrap_or("unknown CPU"),
        h.cores
    )
}

/// The model's file name and the start of its SHA-256.
fn model(run: &EngineRun) -> String {
    let name = Path::new(&run.model)
        .file_name()
        .map_or(run.model.clone(), |n| n.to_string_lossy().into_owned());
    let sha: String = run.model_sha256.chars().take(8).collect();
    format!("{name} {sha}…")
}

/// Differences between two engine runs; `engine_matters`: warn when the
/// engines differ (they were not asked for by name).
fn run_warnings(a: &EngineRun, b: &EngineRun, engine_matters: bool) -> Vec<String> {
    let mut out = Vec::new();
    if engine_matters {
        differs(
            &mut out,
            "engine differs",
            a.engine.clone(),
            b.engine.clone(),
        );
    }
    if a.engine == b.engine {
        let version = |r: &EngineRun| r.engine_version.clone().unwrap_or("unknown".into());
        differs(
            &mut out,
            &format!("{} version differs", a.engine),
            version(a),
            version(b),
        );
    }
    differs(
        &mut out,
        "device differs",
        a.device.to_string(),
        b.device.to_string(),
    );
    if a.model_sha256 != b.model_sha256 {
        out.push(format!("model differs: A {}, B {}", model(a), model(b)));
    }
    out
}

impl Comparison {
    /// The rows where B is slower than A by more than `percent` % and the
    /// difference is significant (its 95 % interval excludes 0); rows not
    /// judged (`inconclusive`) are not among them.
    pub fn slower_than(&self, percent: f64) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| r.verdict == Verdict::Slower && r.difference.diff_percent > percent)
            .collect()
    }

    /// `--fail-if-slower PERCENT`: fails when a judged stage of B is
    /// significantly slower than A by more than `percent` %; otherwise
    /// inconclusive when some stage could not be judged (a disturbed run),
    /// else passes. The message is one line.
    pub fn judge(&self, percent: f64) -> Gate {
        let describe = |rows: &[&Row]| {
            rows.iter()
                .map(|r| {
                    let d = &r.difference;
                    format!(
                        "{} {} {:+.2} % ({:.4} -> {:.4} ms, B-A 95 % CI [{:+.4}, {:+.4}] ms)",
                        r.engines(),
                        r.stage,
                        d.diff_percent,
                        d.a,
                        d.b,
                        d.ci95[0],
                        d.ci95[1]
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let gate = |outcome, message| Gate {
            percent,
            outcome,
            message,
        };
        let slower = self.slower_than(percent);
        if !slower.is_empty() {
            return gate(
                GateOutcome::Fail,
                format!(
                    "B is slower than A by more than {percent} %: {}",
                    describe(&slower)
                ),
            );
        }
        if self.rows.iter().any(|r| r.verdict == Verdict::Inconclusive) {
            let would: Vec<&Row> = self
                .rows
                .iter()
                .filter(|r| {
                    r.verdict == Verdict::Inconclusive
                        && r.difference.verdict == Verdict::Slower
                        && r.difference.diff_percent > percent
                })
                .collect();
            let measured = if would.is_empty() {
                "as measured, no stage would fail it".to_owned()
            } else {
                format!("as measured, it would fail on {}", describe(&would))
            };
            let why: Vec<String> = self.disturbed.iter().map(ToString::to_string).collect();
            return gate(
                GateOutcome::Inconclusive,
                format!(
                    "inconclusive: --fail-if-slower {percent} not judged, {}; {measured} \
                     (rerun on a quiet machine, or --allow-noisy to judge it all the same)",
                    why.join("; ")
                ),
            );
        }
        gate(
            GateOutcome::Pass,
            format!("no stage of B is significantly slower than A by more than {percent} %"),
        )
    }

    /// The comparison as text: the warnings, then a table per engine pair,
    /// stages in pipeline order, within [`WIDTH`] columns.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let wrap = |out: &mut String, first: &str, text: &str| {
            let options = textwrap::Options::new(WIDTH)
                .initial_indent(first)
                .subsequent_indent("    ")
                .break_words(false);
            for line in textwrap::wrap(text, options) {
                let _ = writeln!(out, "{line}");
            }
        };
        for w in &self.warnings {
            wrap(&mut out, "warning: ", w);
        }
        for d in &self.disturbed {
            if self.allow_noisy {
                wrap(
                    &mut out,
                    "warning: ",
                    &format!("{d} (judged all the same: --allow-noisy)"),
                );
            } else {
                wrap(&mut out, "inconclusive: ", &d.to_string());
            }
        }
        let width = self
            .rows
            .iter()
            .map(|r| r.stage.chars().count())
            .max()
            .unwrap_or(0)
            .max("stage".len());
        let _ = writeln!(
            out,
            "  {:<width$}{:>12}{:>12}{:>10} {:>24}  verdict (B vs A)",
            "stage", "A mean ms", "B mean ms", "B-A %", "B-A 95 % CI (ms)"
        );
        let mut group = None;
        for r in &self.rows {
            let label = r.engines();
            if group.as_ref() != Some(&label) {
                if r.engine_a == r.engine_b {
                    let _ = writeln!(out, "engine {label}");
                } else {
                    let _ = writeln!(out, "engine {} (A) vs {} (B)", r.engine_a, r.engine_b);
                }
                group = Some(label);
            }
            let d = &r.difference;
            let _ = writeln!(
                out,
                "  {:<width$}{:>12.4}{:>12.4}{:>+10.2} {:>24}  {}",
                r.stage,
                d.a,
                d.b,
                d.diff_percent,
                format!("[{:+.4}, {:+.4}]", d.ci95[0], d.ci95[1]),
                r.verdict
            );
        }
        for u in &self.unmatched {
            wrap(&mut out, "not compared: ", u);
        }
        if self.rows.iter().any(|r| r.verdict == Verdict::Inconclusive) {
            wrap(
                &mut out,
                "",
                "Verdicts on a disturbed run are inconclusive: rerun on a quiet machine, \
                 or give --allow-noisy to judge them all the same.",
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(engine: &str, stage: &str, a: f64, b: f64, ci: [f64; 2], verdict: Verdict) -> Row {
        Row {
            engine_a: engine.into(),
            engine_b: engine.into(),
            stage: stage.into(),
            difference: Difference {
                a,
                b,
                diff: b - a,
                diff_percent: (b - a) / a * 100.0,
                ci95: ci,
                verdict,
            },
            verdict,
        }
    }

    fn comparison(rows: Vec<Row>, disturbed: Vec<Disturbed>) -> Comparison {
        Comparison {
            a: "a.json".into(),
            b: "b.json".into(),
            warnings: vec![],
            rows,
            unmatched: vec![],
            disturbed,
            allow_noisy: false,
            gate: None,
        }
    }

    /// `row`, not judged: a run of its pair was disturbed.
    fn inconclusive(mut r: Row) -> Row {
        r.verdict = Verdict::Inconclusive;
        r
    }

    fn noisy(side: Side, engine: &str) -> Disturbed {
        Disturbed {
            side,
            engine: engine.into(),
            state: RunState::Noisy,
            reason: "other processes kept 1.20 CPU cores busy".into(),
        }
    }

    #[test]
    fn stages_rank_in_pipeline_order() {
        let mut s = vec!["total", "preprocess", "custom", "postprocess", "inference"];
        s.sort_by_key(|s| crate::report::pipeline_rank(s));
        assert_eq!(
            s,
            ["preprocess", "inference", "postprocess", "custom", "total"]
        );
    }

    #[test]
    fn the_gate_needs_both_the_threshold_and_significance() {
        let c = comparison(
            vec![
                // +50 % but not significant.
                row(
                    "lne",
                    "preprocess",
                    2.0,
                    3.0,
                    [-0.5, 2.5],
                    Verdict::NoSignificantDifference,
                ),
                // +20 %, significant.
                row("lne", "inference", 5.0, 6.0, [0.5, 1.5], Verdict::Slower),
                // -20 %, significant.
                row("lne", "total", 10.0, 8.0, [-2.5, -1.5], Verdict::Faster),
            ],
            vec![],
        );
        assert_eq!(c.slower_than(10.0).len(), 1);
        let g = c.judge(10.0);
        assert_eq!(g.outcome, GateOutcome::Fail);
        assert!(
            g.message.contains("lne inference +20.00 %"),
            "{}",
            g.message
        );
        assert!(
            !g.message.contains('\n') && !g.message.contains("preprocess"),
            "{}",
            g.message
        );
        assert_eq!(c.judge(25.0).outcome, GateOutcome::Pass);
        assert!(c.table().lines().all(|l| l.chars().count() <= WIDTH));
    }

    #[test]
    fn a_slowdown_of_a_disturbed_run_is_inconclusive_not_a_failure() {
        // The case: both runs NOISY, B +23.5 % "slower".
        let c = comparison(
            vec![inconclusive(row(
                "lne",
                "total",
                4.0,
                4.94,
                [0.5, 1.4],
                Verdict::Slower,
            ))],
            vec![noisy(Side::A, "lne"), noisy(Side::B, "lne")],
        );
        assert!(c.slower_than(5.0).is_empty());
        let g = c.judge(5.0);
        assert_eq!(g.outcome, GateOutcome::Inconclusive, "{}", g.message);
        // Which run, which state, the recorded reason, and what the
        // statistics alone would have said.
        for want in [
            "A's lne run is NOISY: other processes kept 1.20 CPU cores busy",
            "B's lne run is NOISY",
            "it would fail on lne total +23.50 %",
            "--allow-noisy",
        ] {
            assert!(g.message.contains(want), "{want}: {}", g.message);
        }
        assert!(!g.message.contains('\n'), "{}", g.message);
        let table = c.table();
        assert!(
            table.contains("inconclusive: A's lne run is NOISY"),
            "{table}"
        );
        let total = table.lines().find(|l| l.trim_start().starts_with("total"));
        assert!(total.unwrap().ends_with("inconclusive"), "{table}");
        assert!(table.lines().all(|l| l.chars().count() <= WIDTH), "{table}");
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["rows"][0]["verdict"], "inconclusive");
        assert_eq!(json["rows"][0]["difference"]["verdict"], "slower");
        assert_eq!(json["disturbed"][1]["side"], "B");
        assert_eq!(json["disturbed"][1]["state"], "noisy");

        // A judged pair that fails still fails beside an inconclusive one;
        // a judged pair that passes does not make the whole pass.
        let mut c = c;
        c.rows.push(row(
            "onnxruntime",
            "total",
            5.0,
            6.0,
            [0.5, 1.5],
            Verdict::Slower,
        ));
        assert_eq!(c.judge(5.0).outcome, GateOutcome::Fail);
        assert_eq!(c.judge(50.0).outcome, GateOutcome::Inconclusive);
    }
}
