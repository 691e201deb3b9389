//! Per-layer times of one engine (`benchmark --layers`), and their text.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

/// Per-layer times of one engine's model, measured on a profiled copy of it
/// after the steady state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layers {
    /// Profiled runs the times are the mean of (the first ones, warm-up,
    /// are left out).
    pub runs: u64,
    /// Median inference of the profiled model, ms, as the host timed it.
    pub profiled_ms: f64,
    /// Median inference of the unprofiled model, ms, run alternately with
    /// the profiled one.
    pub unprofiled_ms: f64,
    /// Sum of the layers' mean times, ms: what the engine's profiler saw of
    /// `profiled_ms`.
    pub layers_ms: f64,
    /// Every layer, slowest first.
    pub layers: Vec<LayerRow>,
}

/// One layer: a node of the source model, with every engine layer that did
/// its work; or work the engine added (layout changes), by operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerRow {
    /// The source model's node, named as `lpdnn-host inspect` names layers;
    /// `null` for work no node asked for.
    pub node: Option<String>,
    /// Its operator in the source model; the engine's own for added work.
    pub op: String,
    /// Source nodes the engine fused into it.
    pub fused: Vec<String>,
    /// The engine's layers that did the work.
    pub engine_layers: Vec<String>,
    /// Mean time per run, ms.
    pub ms: f64,
    /// Share of the sum of the layers, 0–1.
    pub share: f64,
    /// Multiply-accumulates of the node and those fused into it, from the
    /// static metrics; `null` where not counted.
    pub macs: Option<u64>,
    /// Achieved GFLOP/s: 2 × MACs over the mean time.
    pub gflops: Option<f64>,
}

impl Layers {
    /// What profiling costs: profiled over unprofiled inference, minus 1.
    pub fn overhead(&self) -> f64 {
        self.profiled_ms / self.unprofiled_ms - 1.0
    }
}

/// Layers shown in the text report.
pub const SHOWN_LAYERS: usize = 10;

/// The slowest layers, one line each, within [`crate::WIDTH`] columns.
pub fn layers_text(out: &mut String, layers: &Layers) {
    let _ = writeln!(
        out,
        "layers: {} profiled runs; {} layers sum to {:.3} ms of {:.3} ms ({:.0} %); \
         profiling costs {:+.0} %",
        layers.runs,
        layers.layers.len(),
        layers.layers_ms,
        layers.profiled_ms,
        100.0 * layers.layers_ms / layers.profiled_ms,
        100.0 * layers.overhead(),
    );
    let _ = writeln!(out, "      ms  share  GFLOP/s    MMACs  layer (op)");
    for row in layers.layers.iter().take(SHOWN_LAYERS) {
        let gflops = row.gflops.map_or("-".into(), |g| format!("{g:.1}"));
        let macs = row
            .macs
            .map_or("-".into(), |m| format!("{:.2}", m as f64 / 1e6));
        let name = match &row.node {
            Some(n) => n.clone(),
            None => format!("[{}]", row.engine_layers.len()),
        };
        let op = match row.fused.len() {
            0 => row.op.clone(),
            n => format!("{} +{n} fused", row.op),
        };
        let head = format!(
            "{:>8.3} {:>5.1}% {:>8} {:>8}  ",
            row.ms,
            100.0 * row.share,
            gflops,
            macs
        );
        let room = crate::WIDTH.saturating_sub(head.chars().count() + op.chars().count() + 3);
        let _ = writeln!(out, "{head}{} ({op})", fit(&name, room));
    }
    if layers.layers.len() > SHOWN_LAYERS {
        let _ = writeln!(
            out,
            "  ({} more layers in the JSON and HTML reports)",
            layers.layers.len() - SHOWN_LAYERS
        );
    }
}

/// `text` cut to `room` characters, its middle elided.
pub(crate) fn fit(text: &str, room: usize) -> String {
    let n = text.chars().count();
    if n <= room || room < 8 {
        return text.to_owned();
    }
    let head: String = text.chars().take(room / 2 - 1).collect();
    let tail: String = text.chars().skip(n - (room - room / 2)).collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_layer_name_keeps_the_line_within_the_width() {
        let row = |node: &str, ms: f64| LayerRow {
            node: Some(node.into()),
            op: "Conv".into(),
            fused: vec!["relu".into()],
            engine_layers: vec![node.into()],
            ms,
            share: ms / 3.0,
            macs: Some(2_000_000),
            gflops: Some(4.0 / ms),
        };
        let layers = Layers {
            runs: 100,
            profiled_ms: 3.1,
            unprofiled_ms: 3.0,
            layers_ms: 3.0,
            layers: vec![
                row(&"/features/features.0/block/Conv".repeat(5), 2.0),
                row("conv2d", 1.0),
            ],
        };
        let mut out = String::new();
        layers_text(&mut out, &layers);
        assert!(
            out.lines().all(|l| l.chars().count() <= crate::WIDTH),
            "{out}"
        );
        assert!(out.contains("profiling costs +3 %"), "{out}");
        assert!(out.contains("conv2d (Conv +1 fused)"), "{out}");
    }
}
