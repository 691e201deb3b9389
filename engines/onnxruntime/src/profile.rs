//! ONNX Runtime's per-node profile (`SessionOptions::EnableProfiling`), read
//! back into layers of the source model.
//!
//! ONNX Runtime names a kernel after the node of the *optimised* graph it
//! runs: `<name>` (`Conv_0`), `<op>_<index>` for an unnamed node, and at
//! level `all` on x86 `<tensor or node>_nchwc` for its blocked-layout
//! convolutions, with `ReorderInput`/`ReorderOutput` layout nodes no source
//! node asked for. The optimised graph is saved beside the profile; each
//! kernel is found in it and traced back to the source node whose work it
//! does: the node of its name, else the producer of its name's or its
//! output's tensor, walking back through the activations (`Clip`, `Relu`,
//! `Add`, ...) fused into it to the convolution or matrix product it
//! started as.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;

use lpdnn_engine_api::{node_name, LayerProfile, LayerTimes, MAX_PROFILED_RUNS};
use serde::Deserialize;

/// The part of `onnx.ModelProto` read here (prost skips the rest).
#[derive(Clone, PartialEq, prost::Message)]
struct ModelProto {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "3")]
    name: String,
    #[prost(string, tag = "4")]
    op_type: String,
}

/// Element-wise nodes ONNX Runtime fuses into the convolution or matrix
/// product before them.
const FUSABLE: &[&str] = &[
    "Relu",
    "Clip",
    "Sigmoid",
    "HardSigmoid",
    "LeakyRelu",
    "Tanh",
    "HardSwish",
    "Add",
    "Sum",
    "Mul",
];

fn nodes(path: &Path) -> Result<Vec<NodeProto>, String> {
    let bytes = lpdnn_engine_api::read_file(path).map_err(|e| e.to_string())?;
    let model = <ModelProto as prost::Message>::decode(bytes.as_slice())
        .map_err(|e| format!("{}: not an ONNX model: {e}", path.display()))?;
    Ok(model.graph.unwrap_or_default().node)
}

/// The source graph: its nodes under `lpdnn-inspect`'s names, and who
/// produces each tensor.
struct Source {
    nodes: Vec<NodeProto>,
    names: Vec<String>,
    by_name: HashMap<String, usize>,
    producer: HashMap<String, usize>,
    readers: HashMap<String, Vec<usize>>,
}

/// What the optimised graph says about tensors.
#[derive(Default)]
struct Optimised<'a> {
    /// The nodes that read each tensor.
    readers: HashMap<&'a str, Vec<&'a NodeProto>>,
    /// The tensors a node other than a layout change writes.
    computed: HashSet<&'a str>,
}

impl<'a> Optimised<'a> {
    fn new(nodes: &'a [NodeProto]) -> Self {
        let mut this = Optimised::default();
        for n in nodes {
            for i in &n.input {
                this.readers.entry(i).or_default().push(n);
            }
            if !n.op_type.starts_with("Reorder") {
                this.computed.extend(n.output.iter().map(String::as_str));
            }
        }
        this
    }
}

impl Source {
    fn new(nodes: Vec<NodeProto>) -> Source {
        let mut seen = HashSet::new();
        let shared: HashSet<&str> = nodes
            .iter()
            .filter(|n| !n.name.is_empty() && !seen.insert(n.name.as_str()))
            .map(|n| n.name.as_str())
            .collect();
        let names: Vec<String> = nodes
            .iter()
            .map(|n| node_name(&n.name, &n.output, &shared).to_owned())
            .collect();
        let by_name = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let producer = nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.output.iter().map(move |o| (o.clone(), i)))
            .collect();
        let mut readers: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, n) in nodes.iter().enumerate() {
            for input in &n.input {
                readers.entry(input.clone()).or_default().push(i);
            }
        }
        Source {
            nodes,
            names,
            by_name,
            producer,
            readers,
        }
    }

    /// The source node an optimised node does the work of, and the nodes
    /// fused into it (in graph order).
    fn attribute(&self, opt: &NodeProto, graph: &Optimised) -> (Option<String>, Vec<String>) {
        if opt.op_type.starts_with("Reorder") {
            return (None, Vec::new());
        }
        let stem = opt.name.strip_suffix("_nchwc").unwrap_or(&opt.name);
        let start = self
            .by_name
            .get(stem)
            .or_else(|| self.producer.get(stem))
            .or_else(|| opt.output.iter().find_map(|o| self.producer.get(o)))
            .copied();
        let Some(start) = start else {
            return (None, Vec::new());
        };
        let base = opt.op_type.strip_prefix("Fused").unwrap_or(&opt.op_type);
        let Some((anchor, mut fused)) = self.walk(start, base) else {
            return (Some(self.names[start].clone()), Vec::new());
        };
        // Where the layer's work ends: its output, or the tensor a layout
        // node turns it back into; from there back to the anchor are the
        // nodes fused into it (a named Conv + Add + Relu keeps the Conv's name).
        let end = opt.output.iter().find_map(|o| {
            self.producer.get(o.as_str()).copied().or_else(|| {
                graph.readers.get(o.as_str())?.iter().find_map(|n| {
                    let reorder = n.op_type.starts_with("Reorder");
                    reorder.then(|| self.producer.get(n.output.first()?).copied())?
                })
            })
        });
        if let Some((a, f)) = end.and_then(|e| self.walk(e, base)) {
            if a == anchor && f.len() > fused.len() {
                fused = f;
            }
        }
        // Else the nodes after the anchor that no kernel computes: a sum
        // fused into a convolution whose output stays in the blocked layout.
        if fused.is_empty() {
            let mut at = anchor;
            while fused.len() < 4 {
                let readers = self.nodes[at]
                    .output
                    .first()
                    .and_then(|o| self.readers.get(o));
                let &[next] = readers.map_or(&[][..], Vec::as_slice) else {
                    break;
                };
                let node = &self.nodes[next];
                let computed = node
                    .output
                    .iter()
                    .any(|o| graph.computed.contains(o.as_str()));
                if computed || !FUSABLE.contains(&node.op_type.as_str()) {
                    break;
                }
                fused.push(next);
                at = next;
            }
        }
        let names = fused.iter().map(|&i| self.names[i].clone()).collect();
        (Some(self.names[anchor].clone()), names)
    }

    /// From node `at` back through fusable element-wise nodes to the first
    /// node of operator `base`: that node and the ones walked (in graph
    /// order); `None` where the walk meets anything else.
    fn walk(&self, mut at: usize, base: &str) -> Option<(usize, Vec<usize>)> {
        let mut fused = Vec::new();
        while self.nodes[at].op_type != base {
            let node = &self.nodes[at];
            if !FUSABLE.contains(&node.op_type.as_str()) || fused.len() >= 4 {
                return None;
            }
            let before = node
                .input
                .iter()
                .filter_map(|i| self.producer.get(i).copied())
                .max_by_key(|&p| self.nodes[p].op_type == base)?;
            fused.push(at);
            at = before;
        }
        fused.reverse();
        Some((at, fused))
    }
}

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    cat: String,
    name: String,
    #[serde(default)]
    ts: u64,
    #[serde(default)]
    dur: u64,
    #[serde(default)]
    args: Args,
}

#[derive(Deserialize, Default)]
struct Args {
    #[serde(default)]
    op_name: String,
}

/// Reads the profile ONNX Runtime wrote (`events`, a Chrome trace) into
/// layers: each run is one `model_run` event, each kernel of it one
/// `<node>_kernel_time` event inside its span.
pub(crate) fn read(events: &Path, source: &Path, optimized: &Path) -> Result<LayerProfile, String> {
    let text = std::fs::read_to_string(events)
        .map_err(|e| format!("cannot read the profile {}: {e}", events.display()))?;
    let events: Vec<Event> = serde_json::from_str(&text)
        .map_err(|e| format!("the profile {} is not a trace: {e}", events.display()))?;
    let mut runs: Vec<(u64, u64)> = events
        .iter()
        .filter(|e| e.cat == "Session" && e.name == "model_run")
        .map(|e| (e.ts, e.ts + e.dur))
        .collect();
    runs.sort_unstable();
    runs.truncate(MAX_PROFILED_RUNS);

    let source = Source::new(nodes(source)?);
    let optimized = nodes(optimized)?;
    let by_name: HashMap<&str, &NodeProto> = optimized
        .iter()
        .filter(|n| !n.name.is_empty())
        .map(|n| (n.name.as_str(), n))
        .collect();
    // Unnamed nodes are profiled as `<op>_<index>`, an index the saved
    // graph does not keep: they are matched in order, per operator.
    let mut unnamed: HashMap<&str, VecDeque<&NodeProto>> = HashMap::new();
    for n in optimized.iter().filter(|n| n.name.is_empty()) {
        unnamed.entry(&n.op_type).or_default().push_back(n);
    }
    let graph = Optimised::new(&optimized);

    let mut layers: Vec<LayerTimes> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for e in events.iter().filter(|e| e.cat == "Node") {
        let Some(name) = e.name.strip_suffix("_kernel_time") else {
            continue;
        };
        let Some(run) = runs.iter().position(|&(a, b)| (a..=b).contains(&e.ts)) else {
            continue;
        };
        let i = *index.entry(name).or_insert_with(|| {
            let node = by_name.get(name).copied().or_else(|| {
                unnamed
                    .get_mut(e.args.op_name.as_str())
                    .and_then(VecDeque::pop_front)
            });
            let (node, fused) = node.map_or((None, Vec::new()), |n| source.attribute(n, &graph));
            layers.push(LayerTimes {
                name: name.to_owned(),
                op: e.args.op_name.clone(),
                node,
                fused,
                nanos: vec![0; runs.len()],
            });
            layers.len() - 1
        });
        layers[i].nanos[run] += e.dur * 1000;
    }
    Ok(LayerProfile {
        runs: runs.len(),
        layers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, op: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
        NodeProto {
            name: name.into(),
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// EfficientNet-Lite0's shape: unnamed nodes, Conv + Clip fused and
    /// named after the Clip's output; BlazeFace's: a Conv + Add + Relu named
    /// after the Conv; layout nodes.
    #[test]
    fn kernels_are_traced_back_to_the_node_they_started_as() {
        let source = Source::new(vec![
            node("", "Conv", &["x", "w"], &["conv2d"]),
            node("", "Clip", &["conv2d"], &["relu6_4"]),
            node("conv2d_1", "Conv", &["relu6_4", "w1"], &["c1"]),
            node("add_1", "Add", &["c1", "relu6_4"], &["a1"]),
            node("activation_1", "Relu", &["a1"], &["r1"]),
        ]);
        let reorder = node("ReorderOutput_token_3", "ReorderOutput", &["t3"], &["r1"]);
        let fused = Optimised::new(std::slice::from_ref(&reorder));
        let got = |n: NodeProto| source.attribute(&n, &fused);
        let conv_add_relu = (
            Some("conv2d_1".to_owned()),
            vec!["add_1".to_owned(), "activation_1".to_owned()],
        );
        assert_eq!(
            got(node("relu6_4_nchwc", "Conv", &["t0"], &["t1"])),
            (Some("conv2d".into()), vec!["relu6_4".into()])
        );
        // Its output turned back into the Relu's by a layout node.
        assert_eq!(
            got(node("conv2d_1_nchwc", "Conv", &["t1"], &["t3"])),
            conv_add_relu
        );
        // Its output kept in the blocked layout: what follows it is fused
        // when no kernel computes it.
        assert_eq!(
            got(node("conv2d_1_nchwc", "Conv", &["t1"], &["t2"])),
            conv_add_relu
        );
        assert_eq!(got(node("", "FusedConv", &["x"], &["r1"])), conv_add_relu);
        assert_eq!(
            got(node(
                "ReorderOutput_token_4",
                "ReorderOutput",
                &["t2"],
                &["c1"]
            )),
            (None, vec![])
        );
        // Nodes kept as they were: nothing fused.
        let kept = [
            node("conv2d_1", "Conv", &["relu6_4", "w1"], &["c1"]),
            node("add_1", "Add", &["c1", "relu6_4"], &["a1"]),
            node("activation_1", "Relu", &["a1"], &["r1"]),
        ];
        let graph = Optimised::new(&kept);
        for n in kept.iter().cloned() {
            let name = n.name.clone();
            assert_eq!(source.attribute(&n, &graph), (Some(name), vec![]));
        }
    }
}
