//! `lpdnn-host convert --to ncnn`: ONNX → NCNN through the `pnnx` binary of
//! the `pnnx` wheel, plus the side file that maps NCNN's blob names back to
//! the ONNX tensor names, so the converted model drops into an app.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use lpdnn_engine_api::{cache_dir, sniff_file, EngineError, LoadOptions, ModelFormat, TensorInfo};
use lpdnn_ncnn::{BlobMeta, Meta};

/// Where the pnnx binary is: `$LPDNN_PNNX`, else the set-up's copy.
fn pnnx() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("LPDNN_PNNX") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        bail!("$LPDNN_PNNX names {}, which does not exist", p.display());
    }
    let p = cache_dir().join("pnnx/pnnx");
    if p.is_file() {
        Ok(p)
    } else {
        bail!(
            "pnnx not found at {} (set LPDNN_PNNX); run scripts/setup.sh, which takes it from \
             the pnnx wheel on PyPI",
            p.display()
        )
    }
}

/// Reads the ONNX model's input and output names and shapes with an engine
/// that is always there (LNE), else ONNX Runtime.
fn onnx_io(model: &Path) -> Result<(Vec<TensorInfo>, Vec<TensorInfo>)> {
    let mut last = None;
    for name in ["lne", "onnxruntime"] {
        let Ok(engine) = lpdnn_engines::engine(name) else {
            continue;
        };
        match engine.load(model, &LoadOptions::default()) {
            Ok(m) => return Ok((m.inputs().to_vec(), m.outputs().to_vec())),
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) => Err(e).context("cannot read the model's inputs and outputs"),
        None => bail!("no engine can read the model's inputs and outputs"),
    }
}

/// A conversion written and checked.
pub struct Converted {
    /// The `.param` file (its `.bin` and `.json` beside it).
    pub param: PathBuf,
    /// How the converted model's outputs compared with the source's.
    pub check: String,
}

/// Converts `model` (ONNX) to NCNN in `out_dir`, with the model's own fixed
/// input shapes for the inputs `input_shapes` does not name. The NCNN model
/// is loaded and run on a seeded input before anything is written: its
/// outputs must match the source model's.
pub fn to_ncnn(
    model: &Path,
    input_shapes: &[ShapeArg],
    out_dir: Option<&Path>,
) -> Result<Converted> {
    let format = sniff_file(model).with_context(|| format!("cannot read {}", model.display()))?;
    if format != ModelFormat::Onnx {
        bail!(
            "{} is {format}; convert --to ncnn takes an ONNX model",
            model.display()
        );
    }
    let (inputs, outputs) = onnx_io(model)?;
    let input_shapes = &resolve_shapes(input_shapes, &inputs)?[..];
    let stem = model
        .file_stem()
        .context("the model path has no file name")?
        .to_string_lossy()
        .into_owned();
    let out_dir = match out_dir {
        Some(d) => d.to_owned(),
        None => model.parent().unwrap_or(Path::new(".")).to_owned(),
    };
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    // pnnx writes its files beside its input: work in a private folder and
    // move only the results, so nothing half-written is left on failure.
    let work = tempfile::Builder::new()
        .prefix(".pnnx-")
        .tempdir_in(&out_dir)
        .with_context(|| format!("cannot create a work folder in {}", out_dir.display()))?;
    let input = work.path().join(format!("{stem}.onnx"));
    std::fs::copy(model, &input).with_context(|| format!("cannot copy {}", model.display()))?;
    let shapes = input_shapes
        .iter()
        .map(|s| {
            format!(
                "[{}]",
                s.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    let pnnx = pnnx()?;
    // fp16=0 keeps the weights in f32: the runtime fp16 switches are the
    // user's choice (engine.options), not baked into the file.
    let output = Command::new(&pnnx)
        .arg(&input)
        .arg(format!("inputshape={shapes}"))
        .arg("fp16=0")
        .current_dir(work.path())
        .output()
        .with_context(|| format!("cannot run {}", pnnx.display()))?;
    let param = work.path().join(format!("{stem}.ncnn.param"));
    let bin = work.path().join(format!("{stem}.ncnn.bin"));
    if !output.status.success() || !param.is_file() || !bin.is_file() {
        let log = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        bail!(
            "pnnx failed on {} ({}):\n{}",
            model.display(),
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    // The set-up writes the wheel's version beside the binary.
    let version = std::fs::read_to_string(pnnx.with_file_name("version.txt"))
        .map_or_else(|_| "pnnx".to_owned(), |v| format!("pnnx {}", v.trim()));
    // pnnx numbers blobs in the model's input and output order.
    let meta = Meta {
        source: model
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
        converter: version,
        inputs: inputs
            .iter()
            .zip(input_shapes)
            .enumerate()
            .map(|(i, (info, shape))| BlobMeta {
                blob: format!("in{i}"),
                name: info.name.clone(),
                shape: Some(shape.clone()),
            })
            .collect(),
        outputs: outputs
            .iter()
            .enumerate()
            .map(|(i, info)| BlobMeta {
                blob: format!("out{i}"),
                name: info.name.clone(),
                shape: info.shape.iter().copied().collect::<Option<Vec<usize>>>(),
            })
            .collect(),
    };
    let meta_tmp = work.path().join(format!("{stem}.ncnn.json"));
    std::fs::write(&meta_tmp, serde_json::to_vec_pretty(&meta)?)?;
    let check = self_check(model, &param, &inputs, input_shapes).with_context(|| {
        format!(
            "pnnx converted {} but the result is not right, so nothing was written",
            model.display()
        )
    })?;
    let dest = |f: &str| out_dir.join(f);
    let final_param = dest(&format!("{stem}.ncnn.param"));
    // The param goes last: a reader that sees it sees the bin and json too.
    for (from, to) in [
        (bin, dest(&format!("{stem}.ncnn.bin"))),
        (meta_tmp, dest(&format!("{stem}.ncnn.json"))),
        (param, final_param.clone()),
    ] {
        std::fs::rename(&from, &to).with_context(|| format!("cannot write {}", to.display()))?;
    }
    Ok(Converted {
        param: final_param,
        check,
    })
}

/// Runs the source model (ONNX Runtime, else LNE) and the converted one on
/// the same seeded input; every output must agree within 1 % of the
/// output's largest magnitude (NCNN may compute in fp16 or bf16).
fn self_check(
    model: &Path,
    param: &Path,
    inputs: &[TensorInfo],
    shapes: &[Vec<usize>],
) -> Result<String> {
    let feed = lpdnn_engine_api::synthetic(inputs, shapes, 0)?;
    let mut reference = None;
    for name in ["onnxruntime", "lne"] {
        let Ok(engine) = lpdnn_engines::engine(name) else {
            continue;
        };
        if let Ok(mut m) = engine.load(model, &LoadOptions::default()) {
            reference = Some((
                name,
                m.run(feed.clone()).context("running the source model")?,
            ));
            break;
        }
    }
    let (by, want) =
        reference.context("no engine here can run the source model to check against")?;
    // Errors say what failed, not the private folder it happened in.
    let mut ncnn = match lpdnn_engines::engine("ncnn")?.load(param, &LoadOptions::default()) {
        Ok(m) => m,
        Err(EngineError::Load { message, .. }) => {
            bail!("NCNN cannot load the converted model: {message}")
        }
        Err(e) => return Err(e).context("NCNN cannot load the converted model"),
    };
    let got = ncnn
        .run(feed)
        .context("NCNN cannot run the converted model")?;
    let mut worst = 0f32;
    for w in &want {
        let g = got
            .iter()
            .find(|g| g.name() == w.name())
            .with_context(|| format!("the converted model has no output '{}'", w.name()))?;
        if g.shape().iter().product::<usize>() != w.shape().iter().product::<usize>() {
            bail!(
                "output '{}' has shape {:?}, the source's is {:?}",
                w.name(),
                g.shape(),
                w.shape()
            );
        }
        let (Some(gv), Some(wv)) = (g.to_f32(), w.to_f32()) else {
            continue;
        };
        let scale = wv.iter().fold(1f32, |m, v| m.max(v.abs()));
        let diff = gv
            .iter()
            .zip(&wv)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        let nan = gv.iter().zip(&wv).any(|(a, b)| a.is_nan() != b.is_nan());
        if nan || diff > 0.01 * scale {
            bail!(
                "output '{}' differs from {by}'s by up to {diff:.3e} (largest value {scale:.3e})",
                w.name()
            );
        }
        worst = worst.max(diff / scale);
    }
    Ok(format!(
        "its outputs match {by}'s on a seeded input within {worst:.1e} of their scale"
    ))
}

/// An `--input-shape` as given: `NAME=DIMS` (as `benchmark` takes it), or
/// bare `DIMS` for a model of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeArg {
    /// The input it is for; `None` for bare dimensions.
    pub name: Option<String>,
    /// The dimensions.
    pub dims: Vec<usize>,
}

impl std::fmt::Display for ShapeArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(n) = &self.name {
            write!(f, "{n}=")?;
        }
        f.write_str(&dims_text(&self.dims))
    }
}

fn dims_text(dims: &[usize]) -> String {
    dims.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses `NAME=1,3,128,128` (also `NAME:1x3x128x128`, as `benchmark`
/// does), or bare `1,3,128,128`.
pub fn parse_shape(s: &str) -> Result<ShapeArg, String> {
    if s.contains(['=', ':']) {
        let (name, dims) = lpdnn_engine_api::parse_input_shape(s)?;
        return Ok(ShapeArg {
            name: Some(name),
            dims,
        });
    }
    s.split([',', 'x'])
        .map(|d| d.trim().parse::<usize>().ok().filter(|&d| d > 0))
        .collect::<Option<Vec<usize>>>()
        .map(|dims| ShapeArg { name: None, dims })
        .ok_or_else(|| {
            format!(
                "'{s}' is not a shape: give NAME=DIMS with positive integers, e.g. \
                 input=1,3,224,224"
            )
        })
}

/// The shape of every input, in model order: the one `given` names, else
/// the model's own when it has no open dimension (as `benchmark` resolves
/// them). Bare dimensions are taken for a model of one input only.
fn resolve_shapes(given: &[ShapeArg], inputs: &[TensorInfo]) -> Result<Vec<Vec<usize>>> {
    let mut named = BTreeMap::new();
    for g in given {
        let name = match (&g.name, inputs) {
            (Some(name), _) => name.clone(),
            (None, [one]) => one.name.clone(),
            (None, _) => bail!(
                "--input-shape {g}: the model has {} inputs ({}): name the input, NAME=DIMS \
                 (e.g. {})",
                inputs.len(),
                lpdnn_engine_api::describe_inputs(inputs),
                inputs
                    .first()
                    .map_or_else(String::new, TensorInfo::shape_example)
            ),
        };
        if named.insert(name.clone(), g.dims.clone()).is_some() {
            bail!("--input-shape {g}: input '{name}' is given twice");
        }
    }
    lpdnn_engine_api::resolve_input_shapes(inputs, &named).map_err(|e| match e {
        lpdnn_engine_api::ShapeError::Open { ref example, .. } => {
            anyhow::anyhow!("{e}: give --input-shape {example}")
        }
        e => anyhow::anyhow!("--input-shape: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpdnn_engine_api::DType;

    fn info(name: &str, shape: &[Option<usize>]) -> TensorInfo {
        TensorInfo {
            name: name.into(),
            dtype: DType::F32,
            shape: shape.to_vec(),
        }
    }

    fn shapes(args: &[&str], inputs: &[TensorInfo]) -> Result<Vec<Vec<usize>>> {
        let given: Vec<ShapeArg> = args.iter().map(|a| parse_shape(a).unwrap()).collect();
        resolve_shapes(&given, inputs)
    }

    #[test]
    fn shapes_are_named_as_benchmark_takes_them_bare_only_for_one_input() {
        let one = [info("x", &[Some(1), Some(3), None, None])];
        assert_eq!(
            shapes(&["x=1,3,64,64"], &one).unwrap(),
            [vec![1, 3, 64, 64]]
        );
        assert_eq!(
            shapes(&["x:1x3x64x64"], &one).unwrap(),
            [vec![1, 3, 64, 64]]
        );
        assert_eq!(shapes(&["1,3,64,64"], &one).unwrap(), [vec![1, 3, 64, 64]]);
        let e = shapes(&[], &one).unwrap_err().to_string();
        assert!(e.contains("give --input-shape x=1,3,N,N"), "{e}");
        let e = shapes(&["y=1,3,64,64"], &one).unwrap_err().to_string();
        assert!(
            e.contains("no input 'y'; its inputs: x f32 [1,3,?,?]"),
            "{e}"
        );
        let two = [info("a", &[Some(1), None]), info("b", &[Some(4)])];
        // Named in any order; a fixed input may be left out.
        assert_eq!(shapes(&["a=1,7"], &two).unwrap(), [vec![1, 7], vec![4]]);
        let e = shapes(&["1,7"], &two).unwrap_err().to_string();
        assert!(
            e.contains("the model has 2 inputs (a f32 [1,?], b f32 [4]): name the input"),
            "{e}"
        );
        let e = shapes(&["a=1,7", "a=1,8"], &two).unwrap_err().to_string();
        assert!(e.contains("input 'a' is given twice"), "{e}");
        let e = shapes(&["a=1,7", "b=5"], &two).unwrap_err().to_string();
        assert!(
            e.contains("input 'b' is f32 [4]; [5] does not fit it"),
            "{e}"
        );
        assert!(parse_shape("1,x,3").unwrap_err().contains("is not a shape"));
        assert!(parse_shape("x=1,0").is_err());
    }
}
