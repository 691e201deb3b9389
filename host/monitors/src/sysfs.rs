//! Reading sysfs and descriptor paths: numbers, globs, names.

use std::path::{Path, PathBuf};

pub(crate) fn read_f64(path: &Path) -> Option<f64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The entries of `dir` whose names start with `prefix`, sorted.
pub(crate) fn glob(dir: &str, prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The files a descriptor's pattern names (a path, or a glob), sorted.
pub(crate) fn expand(pattern: &str) -> Vec<PathBuf> {
    match glob::glob(pattern) {
        Ok(paths) => {
            let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
            found.sort();
            found
        }
        Err(_) => vec![PathBuf::from(pattern)],
    }
}

/// The trimmed content of `dir/file`, or the folder's name.
pub(crate) fn name_of(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| dir.file_name().unwrap_or_default().to_string_lossy().into())
}
