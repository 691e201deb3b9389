//! `lpdnn-host component`: what a component author needs to test a
//! processor in isolation: inspect it, check it against our WIT and the
//! sandbox, precompile it, run it alone and keep its tensors as `.npy`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use lpdnn_app::{Runtime, RuntimeConfig};
use lpdnn_engine_api::{DType, Tensor};
use lpdnn_runtime::{ComponentReport, InputMeta, Kind};
use npyz::WriterBuilder;

/// The `component` subcommands.
#[derive(Debug, Subcommand)]
pub enum ComponentCommand {
    /// Start a processor in Rust, Python, JavaScript or C.
    ///
    /// Writes its source (a processor of the world that runs as it is), our
    /// WIT, a build script that installs its pinned tools, a test input and
    /// a README.
    New {
        /// The language.
        #[arg(long, value_enum)]
        lang: lpdnn_scaffold::Lang,
        /// The world it implements: image-preprocessor, audio-preprocessor,
        /// signal-preprocessor or postprocessor.
        #[arg(long, value_parser = world, hide_possible_values = true)]
        world: Kind,
        /// The new folder (its name names the component).
        dir: PathBuf,
    },
    /// Which world a component implements, its WIT version, imports, exports and size.
    Inspect {
        /// The component (.wasm).
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate a component against our WIT and the sandbox's rules (exit 1 on any problem).
    Check {
        /// The component (.wasm).
        file: PathBuf,
    },
    /// Precompile a component into the cache, so its first load is fast.
    Compile {
        /// The component (.wasm).
        file: PathBuf,
    },
    /// Run one processor alone on one input and write what it returns.
    Run {
        /// The component (.wasm).
        file: PathBuf,
        /// Pre-processor: the input file (image, WAV, CSV...). Post-processor:
        /// the model outputs as .npy files, one per output (repeat the flag),
        /// named by their file stems.
        #[arg(long = "input", short, required = true)]
        inputs: Vec<PathBuf>,
        /// Parameters as JSON text, or @FILE to read them from a file.
        #[arg(long, default_value = "{}")]
        params: String,
        /// Label file (one label per line) handed to configure.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Post-processor: what the pre-processor learned about the input
        /// (image geometry, audio or signal rate and hop), as JSON text or
        /// @FILE: the meta.json `run --dump-outputs` writes, or its `meta`
        /// alone (e.g. {"image": {"width": 512, ...}}). Its `chunks` splits
        /// each .npy along its first axis, one chunk per row.
        #[arg(long)]
        meta: Option<String>,
        /// Pre-processor: the tensor to write, when a chunk holds several (default: the first).
        #[arg(long)]
        tensor: Option<String>,
        /// Pre-processor: the .npy file to write (chunks stacked on a new first axis when
        /// there are several). Post-processor: the prediction as JSON.
        #[arg(long, short)]
        output: PathBuf,
    },
}

/// Runs a `component` subcommand.
pub fn run(command: ComponentCommand, config: RuntimeConfig) -> Result<ExitCode> {
    if let ComponentCommand::New { lang, world, dir } = &command {
        let written = lpdnn_scaffold::write(dir, *lang, *world)?;
        println!(
            "{}: a processor of world {} in {lang} ({} files); then:",
            dir.display(),
            world.world(),
            written.files.len()
        );
        if dir != Path::new(".") {
            println!("  cd {}", shell_quoted(dir));
        }
        for step in lpdnn_scaffold::next_steps(*lang, *world, &written.name) {
            println!("  {step}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = Runtime::new(config)?;
    match command {
        ComponentCommand::Inspect { file, json } => {
            let report = runtime.inspect_component(&file)?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
            } else {
                print_report(&mut out, &report)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        ComponentCommand::New { .. } => unreachable!("answered above"),
        ComponentCommand::Check { file } => {
            let report = runtime.inspect_component(&file)?;
            let mut out = std::io::stdout().lock();
            if report.problems.is_empty() {
                writeln!(
                    out,
                    "{}: ok: implements world {} of lpdnn:processing@{}, imports only WASI 0.2",
                    file.display(),
                    report.worlds[0],
                    report.host_wit_version
                )?;
                Ok(ExitCode::SUCCESS)
            } else {
                for p in &report.problems {
                    writeln!(out, "{}: {p}", file.display())?;
                }
                Ok(ExitCode::FAILURE)
            }
        }
        ComponentCommand::Compile { file } => {
            let report = runtime.inspect_component(&file)?;
            match report.cache_file {
                Some(c) => println!("{} -> {}", file.display(), c.display()),
                None => bail!("no component cache folder (set LPDNN_CACHE_DIR or --cache-dir)"),
            }
            Ok(ExitCode::SUCCESS)
        }
        ComponentCommand::Run {
            file,
            inputs,
            params,
            labels,
            meta,
            tensor,
            output,
        } => run_one(
            &runtime,
            &file,
            &inputs,
            &params,
            labels.as_deref(),
            meta.as_deref(),
            tensor.as_deref(),
            &output,
        ),
    }
}

fn print_report(out: &mut impl Write, r: &ComponentReport) -> std::io::Result<()> {
    writeln!(out, "component  {}", r.path.display())?;
    writeln!(out, "size       {} bytes", r.size_bytes)?;
    writeln!(out, "sha256     {}", r.sha256)?;
    let worlds: Vec<String> = r.worlds.iter().map(ToString::to_string).collect();
    writeln!(
        out,
        "world      {}",
        if worlds.is_empty() {
            "(none of ours)".into()
        } else {
            worlds.join(", ")
        }
    )?;
    writeln!(
        out,
        "wit        lpdnn:processing@{} (host speaks {})",
        r.wit_versions.join(", "),
        r.host_wit_version
    )?;
    writeln!(out, "exports")?;
    for e in &r.surface.exports {
        writeln!(out, "  {e}")?;
    }
    writeln!(out, "imports")?;
    for i in &r.surface.imports {
        writeln!(out, "  {i}")?;
    }
    if let Some(c) = &r.cache_file {
        writeln!(out, "compiled   {}", c.display())?;
    }
    for p in &r.problems {
        writeln!(out, "problem    {p}")?;
    }
    Ok(())
}

/// JSON text, or the text of the file `@FILE` names.
fn json_arg(flag: &str, value: &str) -> Result<String> {
    match value.strip_prefix('@') {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("{flag} {p}")),
        None => Ok(value.to_owned()),
    }
}

/// What `run --dump-outputs` writes beside the tensors of one input.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DumpMeta {
    /// The input file.
    input: String,
    /// Engine calls (chunks); with more than one, each .npy holds one row
    /// per chunk.
    chunks: usize,
    /// The engine outputs, in model order, each in OUTPUT.npy.
    outputs: Vec<String>,
    /// What the pre-processor learned about the input.
    meta: InputMeta,
}

/// Reads `--meta`: a dump's meta.json, or an input meta alone.
fn read_meta(text: &str) -> Result<(InputMeta, usize)> {
    let value: serde_json::Value = serde_json::from_str(text).context("--meta is not JSON")?;
    if value.get("meta").is_some() {
        let d: DumpMeta = serde_path_to_error::deserialize(value)
            .map_err(|e| anyhow::anyhow!("--meta: field `{}`: {}", e.path(), e.inner()))?;
        return Ok((d.meta, d.chunks.max(1)));
    }
    let meta: InputMeta = serde_path_to_error::deserialize(value).map_err(|e| {
        anyhow::anyhow!(
            "--meta: field `{}`: {} (give \"none\", {{\"image\": {{...}}}}, {{\"audio\": {{...}}}} or {{\"signal\": {{...}}}})",
            e.path(),
            e.inner()
        )
    })?;
    Ok((meta, 1))
}

/// Writes one input's trace under `dir`: `INPUT/OUTPUT.npy` per engine
/// output (chunks stacked on a new first axis when there are several) and
/// `INPUT/meta.json`; returns the folder. `used` keeps folder names unique.
pub fn dump_trace(
    dir: &Path,
    input: &Path,
    trace: &lpdnn_app::Trace,
    used: &mut std::collections::HashSet<String>,
) -> Result<PathBuf> {
    let safe = |s: &str| -> String {
        let s: String = s
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if s.is_empty() || s.starts_with('.') {
            format!("_{s}")
        } else {
            s
        }
    };
    let stem = safe(
        &input
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
    );
    let mut name = stem.clone();
    let mut n = 1;
    while !used.insert(name.clone()) {
        n += 1;
        name = format!("{stem}-{n}");
    }
    let folder = dir.join(&name);
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let Some(first) = trace.outputs.first() else {
        bail!("{}: the engine was not called", input.display());
    };
    let mut names = Vec::new();
    for (i, t) in first.iter().enumerate() {
        let rows: Vec<&Tensor> = trace
            .outputs
            .iter()
            .filter_map(|chunk| chunk.get(i))
            .collect();
        let mut shape = t.shape().to_vec();
        if rows.len() > 1 {
            if rows
                .iter()
                .any(|r| r.shape() != t.shape() || r.dtype() != t.dtype())
            {
                bail!(
                    "output '{}' changes shape between chunks; it cannot be stacked",
                    t.name()
                );
            }
            shape.insert(0, rows.len());
        }
        let data: Vec<u8> = rows.iter().flat_map(|r| r.data().iter().copied()).collect();
        let file = if t.name().is_empty() {
            format!("output{i}")
        } else {
            safe(t.name())
        };
        crate::write_atomically(
            &folder.join(format!("{file}.npy")),
            &npy_bytes(t.dtype(), &shape, &data)?,
        )?;
        names.push(file);
    }
    let meta = DumpMeta {
        input: input.display().to_string(),
        chunks: trace.outputs.len(),
        outputs: names,
        meta: trace.meta,
    };
    crate::write_atomically(
        &folder.join("meta.json"),
        &serde_json::to_vec_pretty(&meta)?,
    )?;
    Ok(folder)
}

#[allow(clippy::too_many_arguments)]
fn run_one(
    runtime: &Runtime,
    file: &Path,
    inputs: &[PathBuf],
    params: &str,
    labels: Option<&Path>,
    meta: Option<&str>,
    tensor: Option<&str>,
    output: &Path,
) -> Result<ExitCode> {
    let params = json_arg("--params", params)?;
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&params)
        .context("--params must be a JSON object")?;
    let labels: Vec<String> = match labels {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("--labels {}", p.display()))?
            .lines()
            .map(|l| l.trim().to_owned())
            .collect(),
        None => Vec::new(),
    };
    let report = runtime.inspect_component(file)?;
    let kind = report.worlds.first().copied();
    if kind == Some(Kind::Postprocessor) {
        let (meta, chunks) = match meta {
            Some(m) => read_meta(&json_arg("--meta", m)?)?,
            None => (InputMeta::none(), 1),
        };
        let outputs = inputs
            .iter()
            .map(|p| read_npy(p))
            .collect::<Result<Vec<_>>>()?;
        let outputs = split_chunks(outputs, chunks)?;
        let mut post = runtime.postprocessor(file, &params, &labels)?;
        let prediction = post.process(&outputs, &meta)?;
        let text = serde_json::to_string_pretty(&prediction)? + "\n";
        crate::write_atomically(output, text.as_bytes())?;
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    let [input] = inputs else {
        bail!("a pre-processor takes one --input file");
    };
    let bytes = lpdnn_engine_api::read_file(input)
        .with_context(|| format!("--input {}", input.display()))?;
    let mut pre = runtime.preprocessor(file, &params, &labels)?;
    let out = pre.process(&bytes)?;
    let picked = out
        .chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let t = match tensor {
                Some(name) => chunk.iter().find(|t| t.name() == name),
                None => chunk.first(),
            };
            t.with_context(|| {
                let names: Vec<&str> = chunk.iter().map(|t| t.name()).collect();
                format!("chunk {i} has no tensor {tensor:?} (it has {names:?})")
            })
        })
        .collect::<Result<Vec<&Tensor>>>()?;
    let first = picked[0];
    if picked
        .iter()
        .any(|t| t.shape() != first.shape() || t.dtype() != first.dtype())
    {
        bail!("the chunks' tensors differ in shape or type; pick one with --tensor");
    }
    let mut shape = first.shape().to_vec();
    if picked.len() > 1 {
        shape.insert(0, picked.len());
    }
    let data: Vec<u8> = picked
        .iter()
        .flat_map(|t| t.data().iter().copied())
        .collect();
    crate::write_atomically(output, &npy_bytes(first.dtype(), &shape, &data)?)?;
    println!(
        "{}: {} chunk(s), tensor '{}' {} {:?} -> {}",
        input.display(),
        picked.len(),
        first.name(),
        first.dtype(),
        shape,
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A `.npy` file of `data` (packed little-endian elements of `dtype`).
pub fn npy_bytes(dtype: DType, shape: &[usize], data: &[u8]) -> Result<Vec<u8>> {
    fn write<T: npyz::Serialize + npyz::AutoSerialize>(
        shape: &[usize],
        values: impl Iterator<Item = T>,
    ) -> Result<Vec<u8>> {
        let mut buf = std::io::Cursor::new(Vec::new());
        let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        let mut w = npyz::WriteOptions::<T>::new()
            .default_dtype()
            .shape(&shape)
            .writer(&mut buf)
            .begin_nd()?;
        w.extend(values)?;
        w.finish()?;
        Ok(buf.into_inner())
    }
    macro_rules! le {
        ($t:ty, $n:literal) => {
            write::<$t>(
                shape,
                data.chunks_exact($n)
                    .map(|b| <$t>::from_le_bytes(b.try_into().expect("chunk size"))),
            )
        };
    }
    match dtype {
        DType::F32 => le!(f32, 4),
        DType::I32 => le!(i32, 4),
        DType::I64 => le!(i64, 8),
        DType::U8 => write::<u8>(shape, data.iter().copied()),
        DType::I8 => write::<i8>(shape, data.iter().map(|&b| b as i8)),
        DType::F16 => bail!("f16 tensors cannot be written as .npy here"),
    }
}

/// Splits each tensor along its first axis into `chunks` engine calls.
fn split_chunks(outputs: Vec<Tensor>, chunks: usize) -> Result<Vec<Vec<Tensor>>> {
    if chunks <= 1 {
        return Ok(vec![outputs]);
    }
    let mut calls: Vec<Vec<Tensor>> = vec![Vec::new(); chunks];
    for t in outputs {
        if t.shape().first() != Some(&chunks) {
            bail!(
                "--meta says {chunks} chunks, but '{}' has shape {:?} (one row per chunk expected)",
                t.name(),
                t.shape()
            );
        }
        let row = t.data().len() / chunks;
        for (i, bytes) in t.data().chunks_exact(row.max(1)).enumerate().take(chunks) {
            calls[i].push(Tensor::new(
                t.name().to_owned(),
                t.dtype(),
                t.shape()[1..].to_vec(),
                bytes.to_vec(),
            )?);
        }
    }
    Ok(calls)
}

/// Reads a `.npy` file as a model-output tensor named by the file stem.
fn read_npy(path: &Path) -> Result<Tensor> {
    let bytes =
        lpdnn_engine_api::read_file(path).with_context(|| format!("--input {}", path.display()))?;
    let f = npyz::NpyFile::new(&bytes[..])
        .with_context(|| format!("{} is not a .npy file", path.display()))?;
    let shape: Vec<usize> = f.shape().iter().map(|&d| d as usize).collect();
    let values: Vec<f32> = f
        .into_vec::<f32>()
        .with_context(|| format!("{}: only float32 .npy arrays are accepted", path.display()))?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Tensor::from_f32(&name, shape, &values)?)
}

/// A world's name as `--world` takes it.
fn world(name: &str) -> Result<Kind, String> {
    Kind::ALL
        .into_iter()
        .find(|k| k.world() == name)
        .ok_or_else(|| {
            let worlds: Vec<&str> = Kind::ALL.iter().map(|k| k.world()).collect();
            format!("worlds: {}", worlds.join(", "))
        })
}

/// `path` as a shell reads it back: quoted when it holds anything but
/// letters, digits and `/._-`.
fn shell_quoted(path: &Path) -> String {
    let s = path.display().to_string();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
