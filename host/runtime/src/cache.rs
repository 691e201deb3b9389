//! On-disk cache of compiled components.
//!
//! A component is compiled once and stored as `<key>.cwasm`, where the key is
//! the SHA-256 of the component's bytes and the engine's compatibility hash
//! (target, tunables, features). wasmtime also checks its own version when
//! deserialising; an entry it refuses is recompiled and replaced. Only files this
//! host compiled are ever deserialised: the key is derived from the source
//! bytes, so a user cannot hand the host a precompiled artifact.

use std::hash::{Hash, Hasher};
use std::path::Path;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

use crate::RuntimeError;

/// Feeds `Hash` output into SHA-256 so the key is stable across runs.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The cache key of `bytes` under `engine`.
pub(crate) fn key(engine: &Engine, bytes: &[u8]) -> String {
    let mut h = ShaHasher(Sha256::new());
    h.0.update(Sha256::digest(bytes));
    engine.precompile_compatibility_hash().hash(&mut h);
    hex::encode(h.0.finalize())
}

/// The cache file `bytes` compile to under `engine` in `dir`.
pub(crate) fn file(engine: &Engine, dir: &Path, bytes: &[u8]) -> std::path::PathBuf {
    dir.join(format!("{}.cwasm", key(engine, bytes)))
}

/// Compiles `bytes` (read from `path`), going through `dir` when given.
pub(crate) fn load(
    engine: &Engine,
    dir: Option<&Path>,
    path: &Path,
    bytes: &[u8],
) -> Result<Component, RuntimeError> {
    let compile_err = |e: wasmtime::Error| RuntimeError::Compile {
        path: path.to_owned(),
        message: format!("{e:#}"),
    };
    let Some(dir) = dir else {
        return Component::new(engine, bytes).map_err(compile_err);
    };
    let file = file(engine, dir, bytes);
    if file.is_file() {
        // SAFETY: `file` is named by the hash of the source bytes and only
        // ever written by `store` below from wasmtime's own compiler output.
        match unsafe { Component::deserialize_file(engine, &file) } {
            Ok(c) => return Ok(c),
            Err(e) => tracing::warn!("ignoring unusable cache entry {}: {e:#}", file.display()),
        }
    }
    let cwasm = engine.precompile_component(bytes).map_err(compile_err)?;
    if let Err(e) = store(dir, &file, &cwasm) {
        tracing::warn!("cannot write component cache {}: {e}", file.display());
    }
    // SAFETY: `cwasm` was produced just now by this engine.
    unsafe { Component::deserialize(engine, &cwasm) }.map_err(compile_err)
}

/// Writes atomically: a temporary file in the same folder, then a rename.
fn store(dir: &Path, file: &Path, cwasm: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = file.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&tmp, cwasm)?;
    std::fs::rename(&tmp, file)
}
