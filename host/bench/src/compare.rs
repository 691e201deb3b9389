//! `compare A.json B.json`: per engine and anchor, B's steady-state mean
//! against A's, with Welch's 95 % interval and a verdict.

use std::path::Path;

use crate::report::Report;
use crate::stats::{compare, Difference};
use crate::BenchError;

/// The comparison of two results.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Comparison {
    /// (engine, anchor, difference), for every engine and anchor both have.
    pub rows: Vec<(String, String, Difference)>,
    /// Engines or anchors only one side has.
    pub unmatched: Vec<String>,
}

fn read(path: &Path) -> Result<Report, BenchError> {
    let bad = |message: String| BenchError::Result {
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

/// Compares the results in two files (B against A).
pub fn compare_reports(a: &Path, b: &Path) -> Result<Comparison, BenchError> {
    let (ra, rb) = (read(a)?, read(b)?);
    let mut rows = Vec::new();
    let mut unmatched = Vec::new();
    for run_a in &ra.runs {
        let Some(run_b) = rb.runs.iter().find(|r| r.engine == run_a.engine) else {
            unmatched.push(format!("engine {} only in {}", run_a.engine, a.display()));
            continue;
        };
        let (Some(sa), Some(sb)) = (&run_a.phases.steady, &run_b.phases.steady) else {
            unmatched.push(format!(
                "engine {}: no steady state on one side",
                run_a.engine
            ));
            continue;
        };
        for (name, stats_a) in &sa.anchors.0 {
            match sb.anchors.get(name) {
                Some(stats_b) => rows.push((
                    run_a.engine.clone(),
                    name.clone(),
                    compare(&stats_a.real_ms, &stats_b.real_ms),
                )),
                None => unmatched.push(format!("{} {name} only in {}", run_a.engine, a.display())),
            }
        }
    }
    for run_b in &rb.runs {
        if !ra.runs.iter().any(|r| r.engine == run_b.engine) {
            unmatched.push(format!("engine {} only in {}", run_b.engine, b.display()));
        }
    }
    if rows.is_empty() {
        return Err(BenchError::Result {
            path: b.to_owned(),
            message: format!("nothing in common with {} to compare", a.display()),
        });
    }
    Ok(Comparison { rows, unmatched })
}

impl Comparison {
    /// The comparison as a table.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut out = format!(
            "{:<12} {:<12} {:>12} {:>12} {:>10} {:>24}  verdict (B vs A)\n",
            "engine", "anchor", "A mean ms", "B mean ms", "B-A %", "B-A 95 % CI (ms)"
        );
        for (engine, anchor, d) in &self.rows {
            let _ = writeln!(
                out,
                "{engine:<12} {anchor:<12} {:>12.4} {:>12.4} {:>+10.2} {:>24}  {}",
                d.a,
                d.b,
                d.diff_percent,
                format!("[{:+.4}, {:+.4}]", d.ci95[0], d.ci95[1]),
                d.verdict
            );
        }
        for u in &self.unmatched {
            let _ = writeln!(out, "not compared: {u}");
        }
        out
    }
}
