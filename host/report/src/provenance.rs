//! Provenance: what produced a result, on what, with which settings.

use lpdnn_platforms::Host;
use serde::{Deserialize, Serialize};

/// The lpdnn-host build, as the binary knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Build {
    /// Crate version.
    pub version: String,
    /// Git commit it was built from (`unknown` outside a checkout), with
    /// `-dirty` when the tree had changes.
    pub commit: String,
    /// Rust target triple.
    pub target: String,
    /// `release` or `debug`.
    pub profile: String,
}

/// Everything a reader needs to reproduce or trust a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The lpdnn-host build.
    pub lpdnn_host: Build,
    /// The machine: CPU model, cores, OS, kernel, platform descriptor.
    pub host: Host,
    /// cpufreq governor of each policy (`null` without cpufreq).
    pub governor: Option<String>,
    /// CPUs this process may run on (sched_getaffinity).
    pub affinity: Vec<usize>,
    /// Start of the benchmark, RFC 3339 UTC.
    pub started_at: String,
    /// The command line.
    pub command: Vec<String>,
}
