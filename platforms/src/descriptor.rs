//! Board descriptors: what a platform is, what runs there and where its
//! sensors are. Data files in `platforms/descriptors/`, checked against
//! `schemas/platform.schema.json` and by [`Descriptor::validate`].

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::PlatformError;

/// CPU architecture, as Rust's target triples spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// 64-bit x86.
    #[serde(rename = "x86_64")]
    X86_64,
    /// 64-bit Arm (ARMv8-A and later).
    Aarch64,
    /// 32-bit Arm application cores with hard float (ARMv7-A).
    Armv7,
    /// 64-bit RISC-V (RV64GC).
    Riscv64,
    /// Arm Cortex-M4/M7 microcontrollers (no MMU).
    Thumbv7em,
    /// 32-bit RISC-V microcontrollers (no MMU).
    Riscv32,
}

impl Arch {
    /// The architecture `lpdnn-host` was built for, if it is one of these.
    pub fn this() -> Option<Arch> {
        Arch::from_rust(std::env::consts::ARCH)
    }

    /// From `std::env::consts::ARCH` (`x86_64`, `aarch64`, `arm`, `riscv64`).
    pub fn from_rust(arch: &str) -> Option<Arch> {
        Some(match arch {
            "x86_64" => Arch::X86_64,
            "aarch64" => Arch::Aarch64,
            "arm" | "armv7" | "armv7l" | "armv8l" => Arch::Armv7,
            "riscv64" => Arch::Riscv64,
            _ => return None,
        })
    }

    /// The name in descriptors and target triples.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Armv7 => "armv7",
            Arch::Riscv64 => "riscv64",
            Arch::Thumbv7em => "thumbv7em",
            Arch::Riscv32 => "riscv32",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What sort of platform a descriptor describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Any Linux machine of an architecture (the fallback of detection).
    Generic,
    /// A development board or embedded computer.
    Board,
    /// A server.
    Server,
    /// A microcontroller: listed, but cannot host `lpdnn-host`.
    Microcontroller,
}

pub use lpdnn_types::Device;

/// An accelerator's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AcceleratorKind {
    /// Graphics processor.
    Gpu,
    /// Neural processing unit.
    Npu,
    /// Fixed-function deep-learning accelerator (NVDLA).
    Dla,
    /// Digital signal processor or vision processor.
    Dsp,
    /// A companion microcontroller core.
    Mcu,
}

impl AcceleratorKind {
    /// The name in descriptors.
    pub fn as_str(self) -> &'static str {
        match self {
            AcceleratorKind::Gpu => "gpu",
            AcceleratorKind::Npu => "npu",
            AcceleratorKind::Dla => "dla",
            AcceleratorKind::Dsp => "dsp",
            AcceleratorKind::Mcu => "mcu",
        }
    }
}

/// A cluster of identical CPU cores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Core name (`Cortex-A72`, `Kaby Lake`).
    pub core: String,
    /// How many.
    pub count: u32,
    /// Lowest clock the OS sets, MHz, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_mhz: Option<u32>,
    /// Highest clock (turbo included), MHz.
    pub max_mhz: u32,
}

/// The application processor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cpu {
    /// SoC or CPU model.
    pub model: String,
    /// Physical cores.
    pub cores: u32,
    /// Hardware threads, when more than the cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// The core clusters.
    pub clusters: Vec<Cluster>,
}

/// An accelerator on the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accelerator {
    /// Kind.
    pub kind: AcceleratorKind,
    /// Product name.
    pub name: String,
    /// What lpdnn-host can do with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An engine available on the platform and the devices it uses there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSupport {
    /// Engine name, as `--engine` takes it (`lne`, `onnxruntime`, ...).
    pub engine: String,
    /// Devices it runs models on there.
    pub devices: Vec<Device>,
    /// What it needs or lacks there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How the machine is recognised. A rule list matches when one of its
/// entries is a substring of the machine's value; every non-empty list must
/// match, and `files` must all exist.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detect {
    /// `/proc/device-tree/model` (Arm boards).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_tree_model: Vec<String>,
    /// `/sys/class/dmi/id/product_name` (PCs, servers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dmi_product_name: Vec<String>,
    /// `/proc/cpuinfo` model name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpu_model: Vec<String>,
    /// Files that exist only there (a driver's device node).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

impl Detect {
    /// Whether there is any rule.
    pub fn is_empty(&self) -> bool {
        self.device_tree_model.is_empty()
            && self.dmi_product_name.is_empty()
            && self.cpu_model.is_empty()
            && self.files.is_empty()
    }
}

/// The unit of a power file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PowerUnit {
    /// Instant power in milliwatts (INA3221 through IIO, `in_power*_input`).
    #[serde(rename = "mW")]
    MilliWatt,
    /// Instant power in microwatts (hwmon `power*_input`).
    #[serde(rename = "uW")]
    MicroWatt,
    /// An energy counter in microjoules (RAPL `energy_uj`).
    #[serde(rename = "uJ")]
    MicroJoule,
}

impl PowerUnit {
    /// The name in descriptors.
    pub fn as_str(self) -> &'static str {
        match self {
            PowerUnit::MilliWatt => "mW",
            PowerUnit::MicroWatt => "uW",
            PowerUnit::MicroJoule => "uJ",
        }
    }
}

impl PowerUnit {
    /// The factor from the file's number to watts (joules for a counter).
    pub fn to_si(self) -> f64 {
        match self {
            PowerUnit::MilliWatt => 1e-3,
            PowerUnit::MicroWatt | PowerUnit::MicroJoule => 1e-6,
        }
    }
}

/// Where a rail's power is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RailSource<'a> {
    /// A power or energy file (glob allowed) and its unit.
    Power(&'a str, PowerUnit),
    /// Voltage (mV) and current (mA) files (globs allowed), multiplied:
    /// INA3221 hwmon `in*_input` and `curr*_input`, JetPack 5 and later.
    VoltageCurrent(&'a str, &'a str),
}

/// A power rail of the board: `path` and `unit`, or `voltage` and
/// `current`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerRail {
    /// Rail name as the board's documentation gives it (`VDD_IN`).
    pub name: String,
    /// The board's whole input: its reading is the board's power, and the
    /// other rails (parts of it) are not added to it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub total: bool,
    /// A power or energy file (glob allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The unit of `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<PowerUnit>,
    /// A bus voltage file in mV (glob allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voltage: Option<String>,
    /// A current file in mA (glob allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
}

impl PowerRail {
    /// Where it is read, if the rail gives exactly one of the two forms.
    pub fn source(&self) -> Option<RailSource<'_>> {
        match (&self.path, self.unit, &self.voltage, &self.current) {
            (Some(p), Some(u), None, None) => Some(RailSource::Power(p, u)),
            (None, None, Some(v), Some(c)) => Some(RailSource::VoltageCurrent(v, c)),
            _ => None,
        }
    }
}

/// How a load file reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadFormat {
    /// One number; multiplied by `scale` gives percent.
    #[default]
    Number,
    /// Rockchip RKNPU debugfs (`NPU load:  Core0: 12%, Core1:  0%,`).
    Rknpu,
}

/// A file giving an accelerator's load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadFile {
    /// The file (glob allowed); the first readable one of a list is used.
    pub path: String,
    /// How it reads.
    #[serde(default)]
    pub format: LoadFormat,
    /// Factor to percent for `number` (Jetson's `load` is in ‰: 0.1).
    #[serde(default = "one")]
    pub scale: f64,
}

fn one() -> f64 {
    1.0
}

impl Eq for LoadFile {}

/// Where a board's sensors are (sysfs paths, globs allowed). The monitors
/// read these on a detected board, besides what they find by themselves.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sensors {
    /// Temperature files (millidegrees Celsius).
    #[serde(default)]
    pub thermal: Vec<String>,
    /// Power rails.
    #[serde(default)]
    pub power: Vec<PowerRail>,
    /// GPU load candidates (devfreq), first readable wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpu_load: Vec<LoadFile>,
    /// NPU load candidates, first readable wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub npu_load: Vec<LoadFile>,
    /// What cannot be read there, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where an engine library of a profile comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LibrarySource {
    /// Carried in the deployment package's `lib/`.
    Bundled,
    /// Pure Rust, inside the `lpdnn-host` binary.
    Builtin,
    /// Installed on the board by its vendor's SDK (JetPack, CANN).
    System,
}

impl LibrarySource {
    /// The name in descriptors.
    pub fn as_str(self) -> &'static str {
        match self {
            LibrarySource::Bundled => "bundled",
            LibrarySource::Builtin => "builtin",
            LibrarySource::System => "system",
        }
    }
}

/// One engine library of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileEngine {
    /// Engine name.
    pub engine: String,
    /// Library version.
    pub version: String,
    /// Where it comes from.
    pub library: LibrarySource,
    /// Where it was built from or how to get it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A profile: the engine libraries one deployment package carries or
/// expects (BaaS jobs ask for a platform and a profile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Name (`default`).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Its engines.
    pub engines: Vec<ProfileEngine>,
}

/// A dotted version of a shared library's ABI (`2.27` for glibc, `3.4.28`
/// for libstdc++'s `GLIBCXX_3.4.28`), ordered number by number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AbiVersion(pub Vec<u32>);

impl std::str::FromStr for AbiVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a dotted version such as 2.27");
        let parts = s
            .split('.')
            .map(|p| {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                p.parse::<u32>().map_err(|_| bad())
            })
            .collect::<Result<Vec<_>, _>>()?;
        if parts.len() < 2 {
            return Err(bad());
        }
        Ok(AbiVersion(parts))
    }
}

impl std::fmt::Display for AbiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u32::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

impl Serialize for AbiVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AbiVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The operating system a board's facts assume: what its C and C++
/// runtime libraries provide decides which binaries load there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Os {
    /// Distribution and release (`Ubuntu 20.04`).
    pub name: String,
    /// The glibc version it ships (`2.31`).
    pub glibc: AbiVersion,
    /// The newest `GLIBCXX_` version of its libstdc++ (`3.4.28`).
    pub libstdcxx: AbiVersion,
}

/// Where a fact comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Which facts.
    pub about: String,
    /// The document.
    pub url: String,
}

/// A platform descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Descriptor {
    /// Short name (`raspberry-pi-4b`), as `--platform` takes it.
    pub name: String,
    /// Product name.
    pub title: String,
    /// What sort of platform.
    pub kind: Kind,
    /// Free text.
    pub description: String,
    /// CPU architecture.
    pub arch: Arch,
    /// Rust target triple of `lpdnn-host` for it (the microcontrollers':
    /// their bare-metal target).
    pub target_triple: String,
    /// Why `lpdnn-host` cannot run there (microcontrollers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cannot_host: Option<String>,
    /// The application processor (absent for a generic descriptor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// The OS the facts assume (absent for generic descriptors and
    /// microcontrollers): packages for it must load on its glibc and
    /// libstdc++.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<Os>,
    /// Memory, KiB (the smallest variant a board is sold with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_kib: Option<u64>,
    /// Accelerators on the board, used or not.
    #[serde(default)]
    pub accelerators: Vec<Accelerator>,
    /// Engines that run there.
    #[serde(default)]
    pub engines: Vec<EngineSupport>,
    /// How detection recognises it.
    #[serde(default)]
    pub detect: Detect,
    /// Sensor paths.
    #[serde(default)]
    pub sensors: Sensors,
    /// Engine library sets a package carries.
    #[serde(default)]
    pub profiles: Vec<Profile>,
    /// Where the facts come from.
    #[serde(default)]
    pub sources: Vec<Source>,
}

/// The built-in descriptors' files, in listing order.
const BUILTIN: &[(&str, &str)] = &[
    (
        "x86_64-linux",
        include_str!("../descriptors/x86_64-linux.json"),
    ),
    (
        "aarch64-linux",
        include_str!("../descriptors/aarch64-linux.json"),
    ),
    (
        "armv7-linux",
        include_str!("../descriptors/armv7-linux.json"),
    ),
    (
        "riscv64-linux",
        include_str!("../descriptors/riscv64-linux.json"),
    ),
    (
        "intel-nuc-i5-7260u",
        include_str!("../descriptors/intel-nuc-i5-7260u.json"),
    ),
    (
        "raspberry-pi-3b-plus",
        include_str!("../descriptors/raspberry-pi-3b-plus.json"),
    ),
    (
        "raspberry-pi-4b",
        include_str!("../descriptors/raspberry-pi-4b.json"),
    ),
    (
        "jetson-nano",
        include_str!("../descriptors/jetson-nano.json"),
    ),
    (
        "jetson-xavier",
        include_str!("../descriptors/jetson-xavier.json"),
    ),
    ("imx8m-nano", include_str!("../descriptors/imx8m-nano.json")),
    ("stm32mp1", include_str!("../descriptors/stm32mp1.json")),
    (
        "atlas-200-dk",
        include_str!("../descriptors/atlas-200-dk.json"),
    ),
    (
        "atlas-800-9010",
        include_str!("../descriptors/atlas-800-9010.json"),
    ),
    ("stm32h7a3", include_str!("../descriptors/stm32h7a3.json")),
    ("gap8", include_str!("../descriptors/gap8.json")),
];

impl Descriptor {
    /// Reads and checks a descriptor file.
    pub fn load(path: &Path) -> Result<Self, PlatformError> {
        let text = std::fs::read_to_string(path).map_err(|source| PlatformError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| PlatformError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses and checks descriptor text; the error names the field.
    pub fn parse(text: &str) -> Result<Self, String> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let d: Descriptor = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            if path == "." {
                e.into_inner().to_string()
            } else {
                format!("{path}: {}", e.into_inner())
            }
        })?;
        d.validate()?;
        Ok(d)
    }

    /// The descriptors shipped with lpdnn-host (generic ones first).
    pub fn builtin() -> Vec<Descriptor> {
        BUILTIN
            .iter()
            .map(|(name, t)| {
                Descriptor::parse(t)
                    .unwrap_or_else(|e| panic!("built-in descriptor {name} is invalid: {e}"))
            })
            .collect()
    }

    /// The built-in descriptor called `name`.
    pub fn named(name: &str) -> Option<Descriptor> {
        Self::builtin().into_iter().find(|d| d.name == name)
    }

    /// The built-in descriptors' names.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    /// Whether `lpdnn-host` can run there.
    pub fn hosts_lpdnn(&self) -> bool {
        self.kind != Kind::Microcontroller
    }

    /// The profile called `name`.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// Checks what the types cannot: the triple fits the architecture,
    /// microcontrollers say why they cannot host, names are unique, every
    /// profile's engine is one the platform lists.
    pub fn validate(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(format!(
                "name: {:?} must be lowercase letters, digits, '-' or '_'",
                self.name
            ));
        }
        let arch = match self.arch {
            Arch::Armv7 => "armv7",
            a => a.as_str(),
        };
        if !self.target_triple.starts_with(arch) {
            return Err(format!(
                "target_triple: {} is not a {} triple",
                self.target_triple, self.arch
            ));
        }
        match (self.kind, &self.cannot_host) {
            (Kind::Microcontroller, None) => {
                return Err(
                    "cannot_host: a microcontroller must say why it cannot host lpdnn-host".into(),
                )
            }
            (Kind::Microcontroller, Some(_)) => {
                if !self.engines.is_empty() || !self.profiles.is_empty() {
                    return Err("engines: a microcontroller runs no lpdnn-host engine".into());
                }
            }
            (_, Some(_)) => return Err("cannot_host: only for kind microcontroller".into()),
            (_, None) => {
                if self.engines.is_empty() {
                    return Err("engines: at least one engine".into());
                }
            }
        }
        if self.kind != Kind::Generic && self.cpu.is_none() {
            return Err("cpu: required for a board or server".into());
        }
        if let Some(cpu) = &self.cpu {
            let counted: u32 = cpu.clusters.iter().map(|c| c.count).sum();
            if counted != cpu.cores {
                return Err(format!(
                    "cpu.clusters: {counted} core(s) in clusters, cpu.cores says {}",
                    cpu.cores
                ));
            }
        }
        match (self.kind, &self.os) {
            (Kind::Board | Kind::Server, None) => {
                return Err("os: a board or server names the OS its facts assume".into())
            }
            (Kind::Generic | Kind::Microcontroller, Some(_)) => {
                return Err("os: only a board or server names its OS".into())
            }
            _ => {}
        }
        if self.kind == Kind::Generic && !self.detect.is_empty() {
            return Err("detect: a generic descriptor matches by architecture only".into());
        }
        if self.kind != Kind::Generic && self.sources.is_empty() {
            return Err("sources: say where the facts come from".into());
        }
        let engines: BTreeSet<&str> = self.engines.iter().map(|e| e.engine.as_str()).collect();
        if engines.len() != self.engines.len() {
            return Err("engines: an engine is listed twice".into());
        }
        let mut profiles = BTreeSet::new();
        for (i, p) in self.profiles.iter().enumerate() {
            if !profiles.insert(p.name.as_str()) {
                return Err(format!("profiles[{i}].name: {} is listed twice", p.name));
            }
            for (j, e) in p.engines.iter().enumerate() {
                if !engines.contains(e.engine.as_str()) {
                    return Err(format!(
                        "profiles[{i}].engines[{j}].engine: {} is not in the platform's engines",
                        e.engine
                    ));
                }
            }
        }
        if self.hosts_lpdnn() && self.profile("default").is_none() {
            return Err(
                "profiles: a platform that hosts lpdnn-host needs a \"default\" profile".into(),
            );
        }
        for (i, r) in self.sensors.power.iter().enumerate() {
            if r.source().is_none() {
                return Err(format!(
                    "sensors.power[{i}]: rail {} needs path and unit, or voltage and current",
                    r.name
                ));
            }
        }
        if self.sensors.power.iter().filter(|r| r.total).count() > 1 {
            return Err("sensors.power: at most one rail is the total".into());
        }
        Ok(())
    }
}
