//! A sweep's comparison report: the reports of a job group's cells as one
//! [`Report`], side by side as `benchmark` puts engines. Each run is
//! labelled by what varies across the cells (`lne @ raspberry-pi-4b`) and
//! carries its [`Placement`]; a cell that failed, was cancelled or was
//! refused at submission is an error beside the others, never hiding them.

use lpdnn_platforms::Host;
use lpdnn_types::Device;
use serde::{Deserialize, Serialize};

use crate::{EngineFailure, Report};

/// Where one cell of a sweep ran (or was to run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// Platform name.
    pub platform: String,
    /// Profile name.
    pub profile: String,
    /// The engine (our name).
    pub engine: String,
    /// The device asked for.
    pub device: Device,
    /// Engine threads asked for (`null`: the worker's default).
    pub threads: Option<usize>,
    /// The job that ran it (`null`: refused at submission).
    pub job: Option<String>,
    /// The worker that ran it.
    pub worker: Option<String>,
    /// The machine, as the run recorded it (`null` when it did not run).
    pub host: Option<Host>,
}

/// How one cell ended.
#[derive(Debug, Clone)]
pub enum CellOutcome {
    /// Its job passed: its report.
    Passed(Box<Report>),
    /// Its job failed or was cancelled, or the cell was refused: why.
    Failed(String),
}

/// One cell of a sweep and how it ended.
#[derive(Debug, Clone)]
pub struct SweepCell {
    /// Where it ran.
    pub placement: Placement,
    /// How it ended.
    pub outcome: CellOutcome,
}

/// Which of a sweep's parts differ between its cells.
struct Varies {
    platform: bool,
    profile: bool,
    device: bool,
    threads: bool,
}

impl Varies {
    fn of(cells: &[SweepCell]) -> Varies {
        fn differ<T: PartialEq>(cells: &[SweepCell], f: impl Fn(&Placement) -> T) -> bool {
            cells
                .windows(2)
                .any(|w| f(&w[0].placement) != f(&w[1].placement))
        }
        Varies {
            platform: differ(cells, |p| p.platform.clone()),
            profile: differ(cells, |p| p.profile.clone()),
            device: differ(cells, |p| p.device),
            threads: differ(cells, |p| p.threads),
        }
    }

    /// The cell's name in the report: its engine, then what varies.
    fn label(&self, p: &Placement) -> String {
        let mut label = p.engine.clone();
        if self.device {
            label.push_str(&format!(" ({})", p.device));
        }
        if self.platform || self.profile {
            label.push_str(" @ ");
            label.push_str(&p.platform);
            if self.profile {
                label.push('/');
                label.push_str(&p.profile);
            }
        }
        if self.threads {
            match p.threads {
                Some(1) => label.push_str(", 1 thread"),
                Some(n) => label.push_str(&format!(", {n} threads")),
                None => label.push_str(", default threads"),
            }
        }
        label
    }
}

/// The cells' reports as one: every passed cell's runs relabelled and
/// placed, in the cells' order; every other cell an error. The settings
/// and provenance are the first passed cell's (each run's machine is in
/// its placement); threads is `null` when the cells differ in it. `Err`
/// (each cell's reason) when no cell passed.
pub fn sweep_report(cells: Vec<SweepCell>) -> Result<Report, String> {
    let varies = Varies::of(&cells);
    let mut merged: Option<Report> = None;
    let mut runs = Vec::new();
    let mut errors = Vec::new();
    let mut partial = false;
    for cell in cells {
        let label = varies.label(&cell.placement);
        match cell.outcome {
            CellOutcome::Passed(report) => {
                let mut report = *report;
                let mut placement = cell.placement;
                placement.host = Some(report.provenance.host.clone());
                partial |= report.partial;
                let several = report.runs.len() > 1;
                for mut run in report.runs.drain(..) {
                    run.engine = if several {
                        format!("{label} [{}]", run.engine)
                    } else {
                        label.clone()
                    };
                    run.placement = Some(placement.clone());
                    runs.push(run);
                }
                for failure in report.errors.drain(..) {
                    errors.push(EngineFailure {
                        engine: label.clone(),
                        error: failure.error,
                        placement: Some(placement.clone()),
                    });
                }
                merged.get_or_insert(report);
            }
            CellOutcome::Failed(error) => errors.push(EngineFailure {
                engine: label,
                error,
                placement: Some(cell.placement),
            }),
        }
    }
    let Some(mut report) = merged else {
        let reasons: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.engine, e.error))
            .collect();
        return Err(format!("no cell passed ({})", reasons.join("; ")));
    };
    if varies.threads {
        report.config.threads = None;
    }
    report.partial = partial;
    report.runs = runs;
    report.errors = errors;
    Ok(report)
}

/// Whether `report` is a sweep's (its runs carry placements).
pub(crate) fn is_sweep(report: &Report) -> bool {
    report.runs.iter().any(|r| r.placement.is_some())
}

/// The labels of the runs that ran under emulation, by the kernel's
/// architecture and the emulated one.
pub(crate) fn emulated_runs(report: &Report) -> Vec<(String, String, Vec<&str>)> {
    let mut out: Vec<(String, String, Vec<&str>)> = Vec::new();
    for run in &report.runs {
        let Some(host) = run.placement.as_ref().and_then(|p| p.host.as_ref()) else {
            continue;
        };
        let Some(kernel) = &host.emulated_on else {
            continue;
        };
        match out
            .iter_mut()
            .find(|(a, k, _)| *a == host.arch && k == kernel)
        {
            Some((_, _, labels)) => labels.push(&run.engine),
            None => out.push((host.arch.clone(), kernel.clone(), vec![&run.engine])),
        }
    }
    out
}

/// One line on where a sweep's run ran: platform and profile, the
/// machine, the worker and the job.
pub(crate) fn placement_line(p: &Placement) -> String {
    let mut line = format!("on {}/{}", p.platform, p.profile);
    if let Some(h) = &p.host {
        line.push_str(&format!(
            ": {}, {} core(s), {}",
            h.cpu_model.as_deref().unwrap_or("unknown CPU"),
            h.cores,
            h.arch
        ));
        if let Some(kernel) = &h.emulated_on {
            line.push_str(&format!(" emulated on {kernel}"));
        }
    }
    if let Some(w) = &p.worker {
        line.push_str(&format!("; worker {w}"));
    }
    if let Some(j) = &p.job {
        line.push_str(&format!("; job {j}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../tests/fixtures/face-two-engines.json");

    /// The fixture's run of `engine` as a one-engine job's report, on a
    /// machine of `arch` (emulated on x86_64 when it is another).
    fn job_report(engine: &str, arch: &str) -> Report {
        let mut r: Report = serde_json::from_str(FIXTURE).unwrap();
        r.runs.retain(|run| run.engine == engine);
        assert_eq!(r.runs.len(), 1);
        r.provenance.host.arch = arch.into();
        r.provenance.host.emulated_on = (arch != "x86_64").then(|| "x86_64".into());
        r
    }

    fn cell(platform: &str, engine: &str, outcome: CellOutcome) -> SweepCell {
        SweepCell {
            placement: Placement {
                platform: platform.into(),
                profile: "default".into(),
                engine: engine.into(),
                device: Device::Cpu,
                threads: None,
                job: Some(format!("job-{platform}-{engine}")),
                worker: Some(format!("worker-{platform}")),
                host: None,
            },
            outcome,
        }
    }

    fn passed(engine: &str, arch: &str) -> CellOutcome {
        CellOutcome::Passed(Box::new(job_report(engine, arch)))
    }

    #[test]
    fn two_engines_on_two_platforms_are_four_cells_side_by_side() {
        let report = sweep_report(vec![
            cell("x86_64-linux", "lne", passed("lne", "x86_64")),
            cell(
                "x86_64-linux",
                "onnxruntime",
                passed("onnxruntime", "x86_64"),
            ),
            cell("raspberry-pi-4b", "lne", passed("lne", "aarch64")),
            cell(
                "raspberry-pi-4b",
                "onnxruntime",
                CellOutcome::Failed("failed (user_error): the engine crashed".into()),
            ),
        ])
        .unwrap();
        let labels: Vec<&str> = report.runs.iter().map(|r| r.engine.as_str()).collect();
        assert_eq!(
            labels,
            [
                "lne @ x86_64-linux",
                "onnxruntime @ x86_64-linux",
                "lne @ raspberry-pi-4b"
            ]
        );
        let pi = report.runs[2].placement.as_ref().unwrap();
        assert_eq!(pi.engine, "lne");
        assert_eq!(pi.worker.as_deref(), Some("worker-raspberry-pi-4b"));
        let host = pi.host.as_ref().unwrap();
        assert_eq!(
            (host.arch.as_str(), host.emulated_on.as_deref()),
            ("aarch64", Some("x86_64"))
        );
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].engine, "onnxruntime @ raspberry-pi-4b");
        assert!(report.errors[0].placement.as_ref().unwrap().host.is_none());
        // The text: the emulated cell named, every cell in the table, the
        // failed one beside them.
        let text = crate::text_report(&report, crate::Detail::Brief);
        assert!(
            text.contains("emulated: lne @ raspberry-pi-4b: aarch64 code ran"),
            "{text}"
        );
        assert!(!text.contains("emulated: lne @ x86_64"), "{text}");
        assert!(text.contains("on raspberry-pi-4b/default: "), "{text}");
        let table = crate::cross_engine_table(&report.runs);
        assert_eq!(table.matches(" @ ").count(), 3, "{table}");
        assert!(
            text.contains("error: engine onnxruntime @ raspberry-pi-4b: failed (user_error)"),
            "{text}"
        );
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
        // The page: one placement row per cell, the emulated one warned.
        let html = crate::html_report(&report);
        assert_eq!(html.matches("<td>job-").count(), 4, "{html}");
        assert!(html.contains("Cells that failed"));
        assert!(html.contains("<b>Emulated:</b> lne @ raspberry-pi-4b: aarch64 code"));
        // The report is still one of the schema's shape: it reads back.
        let json = serde_json::to_string(&report).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back.runs[2].placement, report.runs[2].placement);
    }

    #[test]
    fn labels_name_only_what_varies_and_no_passed_cell_is_an_error() {
        let mut one = cell("x86_64-linux", "lne", passed("lne", "x86_64"));
        let mut four = cell("x86_64-linux", "lne", passed("lne", "x86_64"));
        one.placement.threads = Some(1);
        four.placement.threads = Some(4);
        let report = sweep_report(vec![one, four]).unwrap();
        let labels: Vec<&str> = report.runs.iter().map(|r| r.engine.as_str()).collect();
        assert_eq!(labels, ["lne, 1 thread", "lne, 4 threads"]);
        assert_eq!(report.config.threads, None);
        let err = sweep_report(vec![
            cell(
                "x86_64-linux",
                "lne",
                CellOutcome::Failed("cancelled".into()),
            ),
            cell(
                "x86_64-linux",
                "ncnn",
                CellOutcome::Failed("refused at submission: no".into()),
            ),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            "no cell passed (lne: cancelled; ncnn: refused at submission: no)"
        );
    }
}
