//! Per-layer times of a model loaded with [`crate::LoadOptions::profile_layers`].

use std::collections::HashSet;

/// One layer as the engine ran it, with its time in each profiled run.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerTimes {
    /// The engine's name for the layer, after its optimiser
    /// (`conv2d_1_nchwc` on ONNX Runtime, `conv2d_1.matmatmul` on LNE).
    pub name: String,
    /// The engine's operator (`Conv`, `FusedConv`, `ReorderInput`, `OptMatMul`).
    pub op: String,
    /// The source model's node whose work this layer does, named as
    /// `lpdnn-inspect` names layers ([`node_name`]); `None` for work the
    /// engine added that no node asked for (layout changes, packing).
    pub node: Option<String>,
    /// Other source nodes the engine fused into this layer, where it says.
    pub fused: Vec<String>,
    /// Nanoseconds of this layer in each profiled run, in run order.
    pub nanos: Vec<u64>,
}

/// The layers of every run since the model was loaded with
/// [`crate::LoadOptions::profile_layers`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerProfile {
    /// Profiled runs.
    pub runs: usize,
    /// The layers, in the order the engine first ran them.
    pub layers: Vec<LayerTimes>,
}

/// Most profiled runs an engine keeps; later runs are not recorded.
pub const MAX_PROFILED_RUNS: usize = 10_000;

/// The name `lpdnn-inspect` (and tract) give an ONNX node: its own name when
/// it has one no other node shares, else its first output's.
pub fn node_name<'a>(name: &'a str, outputs: &'a [String], shared: &HashSet<&str>) -> &'a str {
    match outputs.first() {
        Some(out) if name.is_empty() || shared.contains(name) => out,
        _ => name,
    }
}
