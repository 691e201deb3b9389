//! The benchmark's inputs: a folder of images, read into memory once so
//! disk reads never show in the timings.

use std::path::Path;

use crate::BenchError;

/// One input, read into memory.
#[derive(Debug, Clone)]
pub struct Input {
    /// File name within the dataset.
    pub name: String,
    /// Encoded bytes (PNG, JPEG, PNM).
    pub bytes: Vec<u8>,
}

/// Reads every input file of `dir` (or the single file `dir`) in name
/// order: images, WAV files or sensor recordings, as the app's class takes.
///
/// An empty folder, a folder with no input file, an unreadable file, or a
/// file that is not what it claims (by its first bytes) is an error naming it.
pub fn load_dataset(dir: &Path, class: lpdnn_app::AppClass) -> Result<Vec<Input>, BenchError> {
    let extensions = class.input_extensions();
    let err = |path: &Path, message: String| BenchError::Dataset {
        path: path.to_owned(),
        message,
    };
    let meta = std::fs::metadata(dir).map_err(|e| err(dir, e.to_string()))?;
    let files = if meta.is_dir() {
        let (images, others) =
            lpdnn_app::input_files(dir, extensions).map_err(|e| err(dir, e.to_string()))?;
        if images.is_empty() {
            return Err(err(
                dir,
                if others == 0 {
                    "the folder is empty".into()
                } else {
                    format!(
                        "no input file (.{}) among its {others} file(s)",
                        extensions.join(", .")
                    )
                },
            ));
        }
        images
    } else {
        vec![dir.to_owned()]
    };
    files
        .into_iter()
        .map(|path| {
            let bytes =
                lpdnn_engine_api::read_file(&path).map_err(|e| err(&path, e.to_string()))?;
            if let Some(expected) = content_mismatch(class, &bytes) {
                return Err(err(&path, format!("not {expected}")));
            }
            Ok(Input {
                name: path
                    .strip_prefix(dir)
                    .ok()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
                bytes,
            })
        })
        .collect()
}

/// What the file should have been, when its first bytes say otherwise.
fn content_mismatch(class: lpdnn_app::AppClass, b: &[u8]) -> Option<&'static str> {
    let extensions = class.input_extensions();
    if extensions == lpdnn_app::IMAGE_EXTENSIONS && !looks_like_image(b) {
        Some("an image: expected PNG, JPEG or PNM content")
    } else if extensions == lpdnn_app::AUDIO_EXTENSIONS
        && !(b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WAVE")
    {
        Some("a WAV file: expected RIFF/WAVE content")
    } else {
        None
    }
}

fn looks_like_image(b: &[u8]) -> bool {
    b.starts_with(b"\x89PNG\r\n\x1a\n")
        || b.starts_with(&[0xff, 0xd8, 0xff])
        || (b.len() > 2 && b[0] == b'P' && (b'1'..=b'6').contains(&b[1]))
}

/// Reads the tensor sets a bare model is fed from `dir`: either `.npy`
/// files directly in it (one set, each file named after the model input it
/// feeds: `input.npy`), or sub-folders of such files (one set each, in name
/// order). Element types: float32, float16, uint8, int8, int32, int64,
/// little-endian, C order.
pub fn load_tensor_sets(
    dir: &Path,
) -> Result<Vec<(String, Vec<lpdnn_engine_api::Tensor>)>, BenchError> {
    let err = |path: &Path, message: String| BenchError::Dataset {
        path: path.to_owned(),
        message,
    };
    fn io(path: &Path) -> impl Fn(std::io::Error) -> BenchError + '_ {
        move |e| BenchError::Dataset {
            path: path.to_owned(),
            message: e.to_string(),
        }
    }
    if !dir.is_dir() {
        return Err(err(dir, "is not a folder of .npy files".into()));
    }
    let (files, _) = lpdnn_app::input_files(dir, &["npy"]).map_err(io(dir))?;
    if !files.is_empty() {
        let name = dir
            .file_name()
            .map_or_else(|| "inputs".into(), |f| f.to_string_lossy().into_owned());
        return Ok(vec![(name, read_set(&files)?)]);
    }
    let mut folders: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    let mut sets = Vec::new();
    for folder in folders {
        let (files, _) = lpdnn_app::input_files(&folder, &["npy"]).map_err(io(&folder))?;
        if !files.is_empty() {
            let name = folder
                .file_name()
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
            sets.push((name, read_set(&files)?));
        }
    }
    if sets.is_empty() {
        return Err(err(
            dir,
            "holds no .npy files (give INPUT.npy per model input, or one folder of them per set)"
                .into(),
        ));
    }
    Ok(sets)
}

/// One tensor per file, named after the file's stem.
fn read_set(files: &[std::path::PathBuf]) -> Result<Vec<lpdnn_engine_api::Tensor>, BenchError> {
    files.iter().map(|f| read_npy(f)).collect()
}

/// Reads one `.npy` file as a tensor named after its stem.
pub fn read_npy(path: &Path) -> Result<lpdnn_engine_api::Tensor, BenchError> {
    use lpdnn_engine_api::{DType, Tensor};
    use npyz::{TypeChar, TypeStr};
    let err = |message: String| BenchError::Dataset {
        path: path.to_owned(),
        message,
    };
    let bytes = lpdnn_engine_api::read_file(path).map_err(|e| err(e.to_string()))?;
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| err(format!("not a .npy file: {e}")))?;
    if npy.order() != npyz::Order::C {
        return Err(err("is in Fortran order; save it in C order".into()));
    }
    let shape = npy
        .shape()
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| err(format!("dimension {d} is too large"))))
        .collect::<Result<Vec<_>, _>>()?;
    let npyz::DType::Plain(ts) = npy.dtype() else {
        return Err(err(
            "holds a structured array; give a plain numeric array".into()
        ));
    };
    let ts: TypeStr = ts;
    let name = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let bad = |e: std::io::Error| err(e.to_string());
    let (dtype, data) = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Float, 4) => (
            DType::F32,
            le_bytes(npy.into_vec::<f32>().map_err(bad)?, f32::to_le_bytes),
        ),
        (TypeChar::Float, 2) => (
            DType::F16,
            le_bytes(
                npy.into_vec::<half::f16>().map_err(bad)?,
                half::f16::to_le_bytes,
            ),
        ),
        (TypeChar::Uint, 1) => (DType::U8, npy.into_vec::<u8>().map_err(bad)?),
        (TypeChar::Int, 1) => (
            DType::I8,
            npy.into_vec::<i8>()
                .map_err(bad)?
                .iter()
                .map(|v| *v as u8)
                .collect(),
        ),
        (TypeChar::Int, 4) => (
            DType::I32,
            le_bytes(npy.into_vec::<i32>().map_err(bad)?, i32::to_le_bytes),
        ),
        (TypeChar::Int, 8) => (
            DType::I64,
            le_bytes(npy.into_vec::<i64>().map_err(bad)?, i64::to_le_bytes),
        ),
        _ => {
            return Err(err(format!(
                "holds {ts}; models take float32, float16, uint8, int8, int32 or int64"
            )))
        }
    };
    Tensor::new(name, dtype, shape, data).map_err(|e| err(e.to_string()))
}

/// The values' bytes, little-endian (the tensor layout on every target).
fn le_bytes<T, const N: usize>(values: Vec<T>, f: fn(T) -> [u8; N]) -> Vec<u8> {
    values.into_iter().flat_map(f).collect()
}
