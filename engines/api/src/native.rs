//! Finding and opening engines' native libraries at run time, so that a
//! machine without them still builds and runs the rest.

use std::path::{Path, PathBuf};

/// The host's cache folder: `$LPDNN_CACHE`, else `~/.cache/lpdnn`. The
/// set-up script installs native engine libraries under it.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LPDNN_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/lpdnn")
}

/// Finds a native library: the file named by the first set variable of
/// `env_vars`, else `default` under [`cache_dir`]. The error says where it
/// looked and how to install it (`install`).
pub fn locate_library(env_vars: &[&str], default: &str, install: &str) -> Result<PathBuf, String> {
    for var in env_vars {
        if let Some(p) = std::env::var_os(var) {
            let p = PathBuf::from(p);
            return if p.is_file() {
                Ok(p)
            } else {
                Err(format!(
                    "${var} names {}, which does not exist",
                    p.display()
                ))
            };
        }
    }
    let p = cache_dir().join(default);
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "{} not found (set {} to the library); {install}",
            p.display(),
            env_vars.join(" or ")
        ))
    }
}

/// An opened native library that stays loaded for the life of the process
/// (engines hand out raw pointers into it).
#[derive(Debug)]
pub struct NativeLibrary {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// The library.
    pub library: &'static libloading::Library,
}

impl NativeLibrary {
    /// Opens `path` and leaks the handle: unloading a C++ runtime with live
    /// threads or static destructors is a crash waiting to happen.
    pub fn open(path: &Path) -> Result<NativeLibrary, String> {
        // SAFETY: loading a library runs its initialisers. The libraries
        // opened here are the engines' own, found by `locate_library`.
        let library = unsafe { libloading::Library::new(path) }
            .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
        Ok(NativeLibrary {
            path: path.to_owned(),
            library: Box::leak(Box::new(library)),
        })
    }

    /// Looks up a function pointer of type `T` by name.
    ///
    /// # Safety
    /// `T` must be the function's true C signature.
    pub unsafe fn get<T: Copy>(&self, name: &str) -> Result<T, String> {
        // SAFETY: forwarded to the caller.
        unsafe { self.library.get::<T>(name.as_bytes()) }
            .map(|s| *s)
            .map_err(|e| format!("{}: missing symbol {name}: {e}", self.path.display()))
    }
}
