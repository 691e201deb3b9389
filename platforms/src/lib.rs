//! Platforms: descriptor files (one per board: target, CPU, accelerators,
//! engines, sensor paths, profiles, sources), detection of the board this
//! runs on, and a description of the machine.

#![warn(missing_docs)]

mod descriptor;
mod detect;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use descriptor::{
    AbiVersion, Accelerator, AcceleratorKind, Arch, Cluster, Cpu, Descriptor, Detect, Device,
    EngineSupport, Kind, LibrarySource, LoadFile, LoadFormat, Os, PowerRail, PowerUnit, Profile,
    ProfileEngine, RailSource, Sensors, Source,
};
pub use detect::{detect, Detection, Facts};

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
    /// The built-in descriptor that describes this machine (a detected
    /// board, else the generic one of its architecture), if any.
    pub descriptor: Option<String>,
    /// Why that descriptor (the rules that matched).
    #[serde(default)]
    pub detected_by: Option<String>,
    /// The kernel's architecture, when it differs from `arch`: the binary
    /// runs under user-mode emulation (qemu-user) and its timings are not
    /// the target's.
    #[serde(default)]
    pub emulated_on: Option<String>,
}

impl Host {
    /// Describes this machine.
    pub fn detect() -> Host {
        let descriptors = Descriptor::builtin();
        let facts = Facts::read(&descriptors);
        let detection = detect(&facts, &descriptors);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_owned());
        Host {
            arch: std::env::consts::ARCH.to_owned(),
            os: std::env::consts::OS.to_owned(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel,
            descriptor: detection.descriptor,
            detected_by: Some(detection.reason),
            emulated_on: facts
                .emulated()
                .then(|| facts.kernel_arch.clone())
                .flatten(),
            cpu_model: facts.cpu_model,
        }
    }

    /// Whether this runs under user-mode emulation.
    pub fn emulated(&self) -> bool {
        self.emulated_on.is_some()
    }
}

/// The CPU model from `/proc/cpuinfo` text (x86 `model name`, Arm `Model`
/// or `Hardware`).
pub(crate) fn cpu_model(cpuinfo: &str) -> Option<String> {
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
    fn builtin_descriptors_load_and_cover_every_seed_board() {
        let all = Descriptor::builtin();
        let names: Vec<&str> = all.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, Descriptor::builtin_names());
        for board in [
            "intel-nuc-i5-7260u",
            "raspberry-pi-3b-plus",
            "raspberry-pi-4b",
            "jetson-nano",
            "jetson-xavier",
            "imx8m-nano",
            "stm32mp1",
            "atlas-200-dk",
            "atlas-800-9010",
            "x86_64-linux",
            "aarch64-linux",
            "armv7-linux",
            "riscv64-linux",
        ] {
            let d = Descriptor::named(board).unwrap();
            assert!(d.hosts_lpdnn() && d.profile("default").is_some(), "{board}");
        }
        for mcu in ["stm32h7a3", "gap8"] {
            let d = Descriptor::named(mcu).unwrap();
            assert!(!d.hosts_lpdnn() && d.cannot_host.as_ref().unwrap().len() > 40);
        }
        // Every file in descriptors/ is built in.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("descriptors");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .replace(".json", "")
            })
            .collect();
        files.sort();
        let mut names = Descriptor::builtin_names();
        names.sort();
        assert_eq!(files, names);
    }

    #[test]
    fn validation_names_the_field() {
        let base = include_str!("../descriptors/jetson-nano.json");
        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v: serde_json::Value = serde_json::from_str(base).unwrap();
            f(&mut v);
            Descriptor::parse(&v.to_string()).unwrap_err()
        };
        let e = edit(&|v| v["target_triple"] = "x86_64-unknown-linux-gnu".into());
        assert!(e.starts_with("target_triple:"), "{e}");
        let e = edit(&|v| v["cpu"]["cores"] = 6.into());
        assert!(e.contains("cpu.clusters") && e.contains("6"), "{e}");
        let e = edit(&|v| v["profiles"][1]["engines"][2]["engine"] = "acl".into());
        assert!(e.starts_with("profiles[1].engines[2].engine: acl"), "{e}");
        let e = edit(&|v| v["sensors"]["power"][1]["unit"] = "W".into());
        assert!(e.starts_with("sensors.power[1].unit:"), "{e}");
        let e = edit(&|v| {
            v["sensors"]["power"][0]
                .as_object_mut()
                .unwrap()
                .remove("unit");
        });
        assert!(
            e.contains("sensors.power[0]") && e.contains("POM_5V_IN"),
            "{e}"
        );
        let e = edit(&|v| {
            v.as_object_mut().unwrap().remove("os");
        });
        assert!(e.starts_with("os: a board"), "{e}");
        let e = edit(&|v| v["os"]["glibc"] = "2.x".into());
        assert!(e.starts_with("os.glibc:") && e.contains("2.x"), "{e}");
        let e = edit(&|v| v["kind"] = "microcontroller".into());
        assert!(e.starts_with("cannot_host:"), "{e}");
        let e = edit(&|v| v["cannot_host"] = "too small".into());
        assert!(e.starts_with("cannot_host: only"), "{e}");
    }

    #[test]
    fn a_bad_descriptor_names_the_file_and_field() {
        let dir = std::env::temp_dir().join(format!("lpdnn-platform-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("board.json");
        let mut v: serde_json::Value =
            serde_json::from_str(include_str!("../descriptors/x86_64-linux.json")).unwrap();
        v["gpu"] = 1.into();
        std::fs::write(&path, v.to_string()).unwrap();
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
        assert!(h.descriptor.is_some() && h.detected_by.is_some(), "{h:?}");
        assert!(h.cores >= 1);
        if cfg!(target_os = "linux") {
            assert!(h.kernel.is_some());
        }
    }
}
