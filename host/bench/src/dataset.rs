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

const IMAGE: &[&str] = &["png", "jpg", "jpeg", "ppm", "pgm", "pnm"];

/// Reads every image of `dir` (or the single file `dir`) in name order.
///
/// An empty folder, a folder with no image, an unreadable file, or a file
/// that is not an image (by its first bytes) is an error naming it.
pub fn load_dataset(dir: &Path) -> Result<Vec<Input>, BenchError> {
    let err = |path: &Path, message: String| BenchError::Dataset {
        path: path.to_owned(),
        message,
    };
    let meta = std::fs::metadata(dir).map_err(|e| err(dir, e.to_string()))?;
    let mut files = Vec::new();
    if meta.is_dir() {
        let entries = std::fs::read_dir(dir).map_err(|e| err(dir, e.to_string()))?;
        let mut skipped = 0;
        for entry in entries {
            let path = entry.map_err(|e| err(dir, e.to_string()))?.path();
            if !path.is_file() {
                continue;
            }
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            if ext.as_deref().is_some_and(|e| IMAGE.contains(&e)) {
                files.push(path);
            } else {
                skipped += 1;
            }
        }
        if files.is_empty() {
            return Err(err(
                dir,
                if skipped == 0 {
                    "the folder is empty".into()
                } else {
                    format!(
                        "no image file (.{}) among its {skipped} file(s)",
                        IMAGE.join(", .")
                    )
                },
            ));
        }
        files.sort();
    } else {
        files.push(dir.to_owned());
    }
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).map_err(|e| err(&path, e.to_string()))?;
            if !looks_like_image(&bytes) {
                return Err(err(
                    &path,
                    "not an image: expected PNG, JPEG or PNM content".into(),
                ));
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

fn looks_like_image(b: &[u8]) -> bool {
    b.starts_with(b"\x89PNG\r\n\x1a\n")
        || b.starts_with(&[0xff, 0xd8, 0xff])
        || (b.len() > 2 && b[0] == b'P' && (b'1'..=b'6').contains(&b[1]))
}
