//! Which descriptor describes this machine, and why.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::descriptor::{Arch, Descriptor, Kind};

/// What detection reads off a machine.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Facts {
    /// The architecture `lpdnn-host` runs as.
    pub arch: Option<Arch>,
    /// The kernel's architecture (`/proc/sys/kernel/arch`), which differs
    /// from `arch` under user-mode emulation (qemu-user).
    pub kernel_arch: Option<String>,
    /// `/proc/device-tree/model`.
    pub device_tree_model: Option<String>,
    /// `/sys/class/dmi/id/product_name`.
    pub dmi_product_name: Option<String>,
    /// The CPU model from `/proc/cpuinfo`.
    pub cpu_model: Option<String>,
    /// The rule files (`detect.files`) that exist here.
    pub files: BTreeSet<String>,
}

fn read_trimmed(path: &str) -> Option<String> {
    let s = std::fs::read(path).ok()?;
    // Device-tree strings end with a NUL.
    let s = String::from_utf8_lossy(&s)
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_owned();
    (!s.is_empty()).then_some(s)
}

impl Facts {
    /// Reads this machine's facts; `descriptors` tell which rule files to
    /// look for.
    pub fn read(descriptors: &[Descriptor]) -> Facts {
        let files = descriptors
            .iter()
            .flat_map(|d| d.detect.files.iter())
            .filter(|f| std::path::Path::new(f).exists())
            .cloned()
            .collect();
        Facts {
            arch: Arch::this(),
            kernel_arch: read_trimmed("/proc/sys/kernel/arch"),
            device_tree_model: read_trimmed("/proc/device-tree/model")
                .or_else(|| read_trimmed("/sys/firmware/devicetree/base/model")),
            dmi_product_name: read_trimmed("/sys/class/dmi/id/product_name"),
            cpu_model: std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|s| crate::cpu_model(&s)),
            files,
        }
    }

    /// Whether this process runs under user-mode emulation: the kernel is
    /// of another architecture than the binary (qemu-user on x86_64 says
    /// `x86_64` there for an aarch64 binary).
    pub fn emulated(&self) -> bool {
        match (&self.kernel_arch, self.arch) {
            (Some(k), Some(a)) => Arch::from_rust(k) != Some(a),
            _ => false,
        }
    }
}

/// The outcome of detection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detection {
    /// The descriptor that describes this machine, if any.
    pub descriptor: Option<String>,
    /// Why it, in words.
    pub reason: String,
    /// The boards of this architecture that did not match, each with the
    /// first rule that failed.
    pub rejected: Vec<(String, String)>,
}

/// Matches `facts` against `descriptors`: a board whose every rule holds
/// (the one with most rules when several do), else the generic descriptor
/// of the architecture.
pub fn detect(facts: &Facts, descriptors: &[Descriptor]) -> Detection {
    let mut best: Option<(&Descriptor, Vec<String>)> = None;
    let mut rejected = Vec::new();
    for d in descriptors {
        if d.kind == Kind::Generic || !d.hosts_lpdnn() || Some(d.arch) != facts.arch {
            continue;
        }
        match matches(d, facts) {
            Ok(why) => {
                if best.as_ref().is_none_or(|(_, w)| why.len() > w.len()) {
                    best = Some((d, why));
                }
            }
            Err(why_not) => rejected.push((d.name.clone(), why_not)),
        }
    }
    if let Some((d, why)) = best {
        return Detection {
            descriptor: Some(d.name.clone()),
            reason: why.join("; "),
            rejected,
        };
    }
    let arch = facts.arch.map_or("unknown".into(), |a| a.to_string());
    match descriptors
        .iter()
        .find(|d| d.kind == Kind::Generic && Some(d.arch) == facts.arch)
    {
        Some(d) => Detection {
            descriptor: Some(d.name.clone()),
            reason: format!("no board's rules matched; the generic {arch} descriptor"),
            rejected,
        },
        None => Detection {
            descriptor: None,
            reason: format!("no descriptor for architecture {arch}"),
            rejected,
        },
    }
}

/// Every rule of `d` that holds, or the first that does not.
fn matches(d: &Descriptor, facts: &Facts) -> Result<Vec<String>, String> {
    if d.detect.is_empty() {
        return Err("it has no detection rules".into());
    }
    let mut why = Vec::new();
    let lists = [
        (
            "device-tree model",
            &d.detect.device_tree_model,
            &facts.device_tree_model,
        ),
        (
            "DMI product name",
            &d.detect.dmi_product_name,
            &facts.dmi_product_name,
        ),
        ("CPU model", &d.detect.cpu_model, &facts.cpu_model),
    ];
    for (what, wanted, have) in lists {
        if wanted.is_empty() {
            continue;
        }
        let Some(have) = have else {
            return Err(format!("this machine has no {what}"));
        };
        match wanted.iter().find(|w| have.contains(w.as_str())) {
            Some(w) => why.push(format!("{what} {have:?} contains {w:?}")),
            None => return Err(format!("{what} {have:?} contains none of {wanted:?}")),
        }
    }
    for f in &d.detect.files {
        if !facts.files.contains(f) {
            return Err(format!("{f} does not exist"));
        }
        why.push(format!("{f} exists"));
    }
    Ok(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(arch: Arch) -> Facts {
        Facts {
            arch: Some(arch),
            ..Facts::default()
        }
    }

    #[test]
    fn a_raspberry_pi_4_is_told_from_a_3_by_its_device_tree() {
        let all = Descriptor::builtin();
        let mut f = facts(Arch::Aarch64);
        f.device_tree_model = Some("Raspberry Pi 4 Model B Rev 1.4".into());
        let d = detect(&f, &all);
        assert_eq!(d.descriptor.as_deref(), Some("raspberry-pi-4b"));
        assert!(
            d.reason.contains("Raspberry Pi 4 Model B Rev 1.4"),
            "{}",
            d.reason
        );
        let (_, why) = d
            .rejected
            .iter()
            .find(|(n, _)| n == "raspberry-pi-3b-plus")
            .unwrap();
        assert!(why.contains("contains none of"), "{why}");
    }

    #[test]
    fn jetsons_nuc_atlas_and_stm32mp1_are_recognised() {
        let all = Descriptor::builtin();
        let mut f = facts(Arch::Aarch64);
        f.device_tree_model = Some("NVIDIA Jetson Nano Developer Kit".into());
        assert_eq!(detect(&f, &all).descriptor.as_deref(), Some("jetson-nano"));
        f.device_tree_model = Some("Jetson-AGX".into());
        assert_eq!(
            detect(&f, &all).descriptor.as_deref(),
            Some("jetson-xavier")
        );
        // The Ascend driver's node on an Arm board, then on an x86 server.
        let mut f = facts(Arch::Aarch64);
        f.files.insert("/dev/davinci_manager".into());
        assert_eq!(detect(&f, &all).descriptor.as_deref(), Some("atlas-200-dk"));
        f.arch = Some(Arch::X86_64);
        assert_eq!(
            detect(&f, &all).descriptor.as_deref(),
            Some("atlas-800-9010")
        );
        let mut f = facts(Arch::X86_64);
        f.cpu_model = Some("Intel(R) Core(TM) i5-7260U CPU @ 2.20GHz".into());
        let d = detect(&f, &all);
        assert_eq!(d.descriptor.as_deref(), Some("intel-nuc-i5-7260u"), "{d:?}");
        let mut f = facts(Arch::Armv7);
        f.device_tree_model = Some("STMicroelectronics STM32MP157C-DK2 Discovery Board".into());
        assert_eq!(detect(&f, &all).descriptor.as_deref(), Some("stm32mp1"));
    }

    #[test]
    fn an_unknown_machine_gets_its_architecture_and_a_reason() {
        let all = Descriptor::builtin();
        let mut f = facts(Arch::Aarch64);
        f.device_tree_model = Some("Pine64 RockPro64".into());
        let d = detect(&f, &all);
        assert_eq!(d.descriptor.as_deref(), Some("aarch64-linux"));
        assert!(d.reason.contains("generic aarch64"), "{}", d.reason);
        assert!(d.rejected.len() >= 5);
        let f = facts(Arch::Riscv64);
        assert_eq!(
            detect(&f, &all).descriptor.as_deref(),
            Some("riscv64-linux")
        );
        assert_eq!(detect(&Facts::default(), &all).descriptor, None);
    }

    #[test]
    fn emulation_is_a_kernel_of_another_architecture() {
        let mut f = facts(Arch::Aarch64);
        f.kernel_arch = Some("x86_64".into());
        assert!(f.emulated());
        f.kernel_arch = Some("aarch64".into());
        assert!(!f.emulated());
        let mut f = facts(Arch::Armv7);
        f.kernel_arch = Some("armv7l".into());
        assert!(!f.emulated(), "armv7l is the kernel's name for 32-bit Arm");
    }
}
