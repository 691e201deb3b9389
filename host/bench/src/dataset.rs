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
    let files = if meta.is_dir() {
        let (images, others) = lpdnn_app::image_files(dir).map_err(|e| err(dir, e.to_string()))?;
        if images.is_empty() {
            return Err(err(
                dir,
                if others == 0 {
                    "the folder is empty".into()
                } else {
                    format!(
                        "no image file (.{}) among its {others} file(s)",
                        lpdnn_app::IMAGE_EXTENSIONS.join(", .")
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
