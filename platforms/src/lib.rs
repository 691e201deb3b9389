//! Platforms: descriptor files (one per board: target, devices, engines,
//! sensor paths) and a description of the machine the host runs on.

#![warn(missing_docs)]

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Errors of reading a descriptor.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The file cannot be read.
    #[error("cannot read platform descriptor {path}: {source}")]
    Read {
        /// The descriptor.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid descriptor.
    #[error("platform descriptor {path}: {message}")]
    Invalid {
        /// The descriptor.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// Where a board's sensors are, as sysfs paths (globs allowed).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sensors {
    /// Temperature files (millidegrees Celsius).
    #[serde(default)]
    pub thermal: Vec<String>,
    /// Power or energy files.
    #[serde(default)]
    pub power: Vec<String>,
}

/// A board descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Descriptor {
    /// Short name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Rust target triple of the host binary for this board.
    pub target_triple: String,
    /// CPU architecture (`x86_64`, `aarch64`, ...).
    pub arch: String,
    /// Devices inference can run on (`cpu`, `gpu`, `npu`).
    pub devices: Vec<String>,
    /// Engines supported on the board.
    pub engines: Vec<String>,
    /// Sensor paths.
    #[serde(default)]
    pub sensors: Sensors,
}

impl Descriptor {
    /// Reads a descriptor file.
    pub fn load(path: &Path) -> Result<Self, PlatformError> {
        let text = std::fs::read_to_string(path).map_err(|source| PlatformError::Read {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| PlatformError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// The descriptors shipped with lpdnn-host.
    pub fn builtin() -> Vec<Descriptor> {
        [
            include_str!("../descriptors/x86_64-linux.json"),
            include_str!("../descriptors/aarch64-linux.json"),
        ]
        .iter()
        .map(|t| serde_json::from_str(t).expect("built-in descriptors are valid"))
        .collect()
    }
}

/// The machine the host runs on, as read from the OS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// CPU architecture of this build.
    pub arch: String,
    /// Operating system of this build.
    pub os: String,
    /// CPU model name, when the OS tells it.
    pub cpu_model: Option<String>,
    /// Logical CPUs available to this process.
    pub cores: usize,
    /// Kernel release, when the OS tells it.
    pub kernel: Option<String>,
    /// The built-in descriptor for this architecture, if any.
    pub descriptor: Option<String>,
}

impl Host {
    /// Describes this machine.
    pub fn detect() -> Host {
        let arch = std::env::consts::ARCH.to_owned();
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| cpu_model(&s));
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_owned());
        let descriptor = Descriptor::builtin()
            .into_iter()
            .find(|d| d.arch == arch && std::env::consts::OS == "linux")
            .map(|d| d.name);
        Host {
            os: std::env::consts::OS.to_owned(),
            cpu_model,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel,
            descriptor,
            arch,
        }
    }
}

/// The CPU model from `/proc/cpuinfo` text (x86 `model name`, Arm `Model`
/// or `Hardware`).
fn cpu_model(cpuinfo: &str) -> Option<String> {
    ["model name", "Model", "Hardware"].iter().find_map(|key| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == *key && !v.trim().is_empty()).then(|| v.trim().to_owned())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_descriptors_load_and_cover_both_arches() {
        let all = Descriptor::builtin();
        let arches: Vec<&str> = all.iter().map(|d| d.arch.as_str()).collect();
        assert_eq!(arches, ["x86_64", "aarch64"]);
        assert!(all.iter().all(|d| d.target_triple.starts_with(&d.arch)));
    }

    #[test]
    fn a_bad_descriptor_names_the_file_and_field() {
        let dir = std::env::temp_dir().join(format!("lpdnn-platform-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("board.json");
        std::fs::write(&path, r#"{"name": "b", "description": "", "target_triple": "t", "arch": "a", "devices": [], "engines": [], "gpu": 1}"#).unwrap();
        let err = Descriptor::load(&path).unwrap_err().to_string();
        assert!(err.contains("board.json") && err.contains("gpu"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn cpu_model_reads_x86_and_arm_cpuinfo() {
        assert_eq!(
            cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n").as_deref(),
            Some("AMD EPYC 7B13")
        );
        assert_eq!(
            cpu_model("processor : 0\nBogoMIPS : 108.00\nModel : Raspberry Pi 4 Model B Rev 1.4\n")
                .as_deref(),
            Some("Raspberry Pi 4 Model B Rev 1.4")
        );
        assert_eq!(cpu_model("processor : 0\n"), None);
    }

    #[test]
    fn this_host_is_described() {
        let h = Host::detect();
        assert_eq!(h.arch, std::env::consts::ARCH);
        assert!(h.cores >= 1);
        if cfg!(target_os = "linux") {
            assert!(h.kernel.is_some());
        }
    }
}
