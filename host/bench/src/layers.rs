//! `benchmark --layers`: per-layer times on a profiled copy of the model,
//! run alternately with the unprofiled one so that what profiling costs is
//! measured on the same machine state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use lpdnn_engine_api::{EngineError, LayerProfile, Model, ModelFormat, Tensor, TensorInfo};
use lpdnn_report::{LayerRow, Layers};

use crate::subject::Workload;
use crate::BenchError;

/// A model whose runs the host times, end to end.
struct Clocked {
    model: Box<dyn Model>,
    nanos: Arc<Mutex<Vec<u64>>>,
}

impl Model for Clocked {
    fn inputs(&self) -> &[TensorInfo] {
        self.model.inputs()
    }

    fn outputs(&self) -> &[TensorInfo] {
        self.model.outputs()
    }

    fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, EngineError> {
        let start = Instant::now();
        let outputs = self.model.run(inputs);
        let elapsed = start.elapsed().as_nanos() as u64;
        if let Ok(mut nanos) = self.nanos.lock() {
            nanos.push(elapsed);
        }
        outputs
    }

    fn layer_profile(&mut self) -> Result<Option<LayerProfile>, EngineError> {
        self.model.layer_profile()
    }
}

/// Loads a profiled copy of the workload's model, runs `runs` iterations
/// of it alternately with the model the benchmark timed (after a warm-up of
/// a tenth as many, at least 3, left out), and reads the layers back.
/// `Ok(None)`: the engine gives no per-layer times.
pub(crate) fn profile(
    work: &mut dyn Workload,
    runs: u64,
    statics: Option<&lpdnn_inspect::StaticMetrics>,
) -> Result<Option<Layers>, BenchError> {
    let engine = lpdnn_engines::engine(work.engine())?;
    let mut options = work.load_options();
    options.profile_layers = true;
    let profiled = engine.load(work.model_path(), &options)?;
    let (on, off) = (Arc::default(), Arc::default());
    let mut other: Box<dyn Model> = Box::new(Clocked {
        model: profiled,
        nanos: Arc::clone(&on),
    });
    work.swap_model(&mut other);
    // The workload runs the profiled model; `held` is the other one, the
    // benchmark's own (clocked too) until the end.
    let mut held: Box<dyn Model> = Box::new(Clocked {
        model: other,
        nanos: Arc::clone(&off),
    });
    let warmup = (runs / 10).max(3);
    let outcome = (0..warmup + runs).try_for_each(|i| {
        let ix = (i as usize) % work.inputs();
        // Alternate which goes first: each pair sees the same machine.
        let first = i % 2 == 1;
        if first {
            work.swap_model(&mut held);
        }
        work.step(ix)?;
        work.swap_model(&mut held);
        work.step(ix)?;
        if !first {
            work.swap_model(&mut held);
        }
        Ok::<_, BenchError>(())
    });
    // The benchmark's own model back in its place; `held` is the profiled.
    work.swap_model(&mut held);
    work.take_anchors();
    outcome?;
    let Some(profile) = held.layer_profile()? else {
        return Ok(None);
    };
    // A streaming app runs the model once per chunk: the warm-up's share of
    // the runs is left out.
    let warm = |n: usize| n * warmup as usize / (warmup + runs) as usize;
    let median = |nanos: &Mutex<Vec<u64>>| {
        let mut v: Vec<u64> = nanos.lock().map(|n| n.clone()).unwrap_or_default();
        let mut v = v.split_off(warm(v.len()));
        v.sort_unstable();
        v.get(v.len() / 2).map_or(f64::NAN, |&n| n as f64 / 1e6)
    };
    Ok(Some(rows(
        &profile,
        warm(profile.runs),
        median(&on),
        median(&off),
        statics,
    )))
}

/// Groups the engine's layers by the source node they worked for (added
/// work by operator), means them over the runs after `skip`, and joins the
/// static metrics' MACs by node name.
fn rows(
    profile: &LayerProfile,
    skip: usize,
    profiled_ms: f64,
    unprofiled_ms: f64,
    statics: Option<&lpdnn_inspect::StaticMetrics>,
) -> Layers {
    let by_name: HashMap<&str, &lpdnn_inspect::Layer> = statics
        .map(|s| s.layers.iter().map(|l| (l.name.as_str(), l)).collect())
        .unwrap_or_default();
    // A `.param` holds no shapes: its layers' MACs are not counted (0), not none.
    let counts_macs = statics.is_some_and(|s| s.format != ModelFormat::NcnnParam);
    let runs = profile.runs.saturating_sub(skip);
    let mut rows: Vec<LayerRow> = Vec::new();
    let mut index: HashMap<(Option<&str>, &str), usize> = HashMap::new();
    for layer in &profile.layers {
        let key = match &layer.node {
            Some(node) => (Some(node.as_str()), ""),
            None => (None, layer.op.as_str()),
        };
        let i = *index.entry(key).or_insert_with(|| {
            let source = layer.node.as_deref().and_then(|n| by_name.get(n));
            rows.push(LayerRow {
                node: layer.node.clone(),
                op: source.map_or_else(|| layer.op.clone(), |l| l.op_type.clone()),
                fused: Vec::new(),
                engine_layers: Vec::new(),
                ms: 0.0,
                share: 0.0,
                macs: None,
                gflops: None,
            });
            rows.len() - 1
        });
        let row = &mut rows[i];
        row.engine_layers.push(layer.name.clone());
        for f in &layer.fused {
            if !row.fused.contains(f) {
                row.fused.push(f.clone());
            }
        }
        let total: u64 = layer.nanos.iter().skip(skip).sum();
        row.ms += total as f64 / 1e6 / runs.max(1) as f64;
    }
    let layers_ms: f64 = rows.iter().map(|r| r.ms).sum();
    for row in &mut rows {
        row.share = row.ms / layers_ms;
        let members = row.node.iter().chain(&row.fused);
        let counted: Vec<u64> = members
            .filter_map(|n| by_name.get(n.as_str()).map(|l| l.macs))
            .collect();
        if counts_macs && row.node.is_some() && !counted.is_empty() {
            let macs = counted.iter().sum::<u64>();
            row.macs = Some(macs);
            row.gflops = (macs > 0 && row.ms > 0.0).then(|| 2.0 * macs as f64 / row.ms / 1e6);
        }
    }
    rows.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    Layers {
        runs: runs as u64,
        profiled_ms,
        unprofiled_ms,
        layers_ms,
        layers: rows,
    }
}
