//! The three manifests of a package (seed 4.1.2): `package.yml` names the
//! package and lists every file with its size and SHA-256; `runtime.yml`
//! says how to start it; `engines.yml` lists its engines.

use serde::{Deserialize, Serialize};

/// `package.yml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageYml {
    /// `lpdnn-host-PLATFORM-PROFILE`.
    pub name: String,
    /// The platform descriptor's name.
    pub platform: String,
    /// The profile.
    pub profile: String,
    /// Rust target triple of the binary and libraries.
    pub target: String,
    /// The lpdnn-host build inside.
    pub lpdnn_host: Build,
    /// When it was made (RFC 3339, UTC).
    pub created: String,
    /// What its binary and libraries need of the board: the newest glibc
    /// and libstdc++ symbol versions, the system libraries they name.
    #[serde(default)]
    pub requires: crate::Needs,
    /// Every file but this one.
    pub files: Vec<FileEntry>,
}

/// The lpdnn-host build a package carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// Crate version.
    pub version: String,
    /// Git commit (with `-dirty` when the tree had changes).
    pub commit: String,
}

/// One file of a package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path inside the package, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// `runtime.yml`: how to start the package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeYml {
    /// Same as `package.yml`'s.
    pub name: String,
    /// The platform.
    pub platform: String,
    /// Rust target triple.
    pub target: String,
    /// The binary.
    pub binary: String,
    /// Where engine libraries are (the binary looks there first).
    pub libraries: String,
    /// The apps.
    pub apps: Vec<AppEntry>,
    /// The start scripts.
    pub solutions: Solutions,
}

/// One app of a package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppEntry {
    /// The app's name (its folder under `apps/`).
    pub name: String,
    /// Its app file.
    pub app: String,
    /// Its engine.
    pub engine: String,
    /// Model formats it carries.
    pub formats: Vec<String>,
}

/// The start scripts of `solutions/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Solutions {
    /// `run-app.sh APP --input FILE`.
    pub run: String,
    /// `benchmark-app.sh APP DATASET [options]`.
    pub benchmark: String,
    /// `start-worker.sh SERVER_URL [options]`.
    pub worker: String,
}

/// `engines.yml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnginesYml {
    /// The engines.
    pub engines: Vec<EngineEntry>,
}

/// One engine of a package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineEntry {
    /// Engine name (`--engine`).
    pub name: String,
    /// Library version.
    pub version: String,
    /// `bundled` (in `lib/`), `builtin` (in the binary) or `system`.
    pub library: lpdnn_platforms::LibrarySource,
    /// Its files in the package.
    #[serde(default)]
    pub files: Vec<String>,
    /// Devices it runs on there.
    pub devices: Vec<lpdnn_platforms::Device>,
    /// Where it was built from, or what the board must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
