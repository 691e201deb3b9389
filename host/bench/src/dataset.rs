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
