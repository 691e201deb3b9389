//! The base layer: the runtime libraries a binary needs, from Debian's own
//! packages for the target's architecture. `mmdebstrap --variant=extract`
//! unpacks the packages (and what they depend on) without running any of
//! their scripts, so an aarch64 base is made on x86_64 without emulation.
//! Nothing is pulled from an image registry.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use lpdnn_package::Needs;
use lpdnn_platforms::{AbiVersion, Arch, Os};

use crate::ImageError;

/// The Debian release the bases come from (glibc 2.36).
pub const SUITE: &str = "bookworm";

/// Debian's name of an architecture.
pub fn debian_arch(arch: Arch) -> Result<&'static str, ImageError> {
    Ok(match arch {
        Arch::X86_64 => "amd64",
        Arch::Aarch64 => "arm64",
        Arch::Armv7 => "armhf",
        other => return Err(ImageError::Arch(other)),
    })
}

/// The Debian packages a base holds: the C and C++ runtimes and OpenMP
/// (NCNN's threads on x86_64).
pub const PACKAGES: &[&str] = &["libc6", "libgcc-s1", "libstdc++6", "libgomp1"];

/// The base root filesystem for `arch` (a tar): [`PACKAGES`], made once
/// with mmdebstrap into `cache` and kept there.
pub fn debian_base(arch: Arch, cache: &Path) -> Result<PathBuf, ImageError> {
    debian_rootfs(arch, PACKAGES, cache)
}

/// A root filesystem tar of Debian's `packages` for `arch` (and what they
/// depend on), unpacked without running their scripts; made once into
/// `cache` and kept there.
pub fn debian_rootfs(arch: Arch, packages: &[&str], cache: &Path) -> Result<PathBuf, ImageError> {
    let debian = debian_arch(arch)?;
    let dir = cache.join("images");
    let out = dir.join(format!(
        "debian-{SUITE}-{debian}-{}.tar",
        packages.join("+")
    ));
    if out.is_file() {
        return Ok(out);
    }
    std::fs::create_dir_all(&dir).map_err(ImageError::io(&dir))?;
    let part = tempfile::Builder::new()
        .prefix(".base-")
        .suffix(".tar")
        .tempfile_in(&dir)
        .map_err(ImageError::io(&dir))?;
    let run = Command::new("mmdebstrap")
        .args([
            "--variant=extract",
            "--quiet",
            &format!("--include={}", packages.join(",")),
            &format!("--architectures={debian}"),
            SUITE,
        ])
        .arg(part.path())
        .output();
    let run = match run {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ImageError::NoMmdebstrap),
        Err(e) => return Err(ImageError::io(Path::new("mmdebstrap"))(e)),
    };
    if !run.status.success() {
        let log = String::from_utf8_lossy(&run.stderr);
        let tail: Vec<&str> = log.lines().rev().take(6).collect();
        return Err(ImageError::Mmdebstrap {
            arch: debian,
            log: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    part.persist(&out)
        .map_err(|e| ImageError::io(&out)(e.error))?;
    Ok(out)
}

/// What a base offers a binary: its glibc and libstdc++ symbol versions
/// and the file names of its shared libraries.
#[derive(Debug, Clone)]
pub struct BaseInfo {
    /// As an OS ([`Needs::unmet`] reads it).
    pub os: Os,
    /// The file names (last component) of every file and link in it.
    pub names: BTreeSet<String>,
}

impl BaseInfo {
    /// What `needs` asks of the base that it lacks, in words.
    pub fn unmet(&self, needs: &Needs) -> Vec<String> {
        let mut lacks = needs.unmet(&self.os);
        for l in &needs.libraries {
            if !self.names.contains(l) {
                lacks.push(format!("{l} (no such library in the base)"));
            }
        }
        lacks
    }
}

/// Reads a base tar: its file names, and the symbol versions its
/// `libc.so.6` and `libstdc++.so.6` define (read from the files).
pub fn inspect(base: &Path) -> Result<BaseInfo, ImageError> {
    let bad = |why: String| ImageError::Base {
        path: base.to_owned(),
        why,
    };
    let file = File::open(base).map_err(ImageError::io(base))?;
    let mut archive = tar::Archive::new(file);
    let scratch = tempfile::tempdir().map_err(ImageError::io(Path::new("a temporary folder")))?;
    let mut names = BTreeSet::new();
    let (mut glibc, mut libstdcxx) = (None, None);
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("not a tar: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let path = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        names.insert(name.clone());
        let kind = entry.header().entry_type();
        let wanted = name == "libc.so.6" || name.starts_with("libstdc++.so.6.");
        if !wanted || kind != tar::EntryType::Regular {
            continue;
        }
        let copy = scratch.path().join(&name);
        entry
            .unpack(&copy)
            .map_err(|e| bad(format!("{}: {e}", path.display())))?;
        let v = lpdnn_package::elf_provides(&copy)?;
        if name == "libc.so.6" {
            glibc = glibc.max(v);
        } else {
            libstdcxx = libstdcxx.max(v);
        }
    }
    let glibc = glibc.ok_or_else(|| bad("it has no libc.so.6 (glibc)".into()))?;
    Ok(BaseInfo {
        os: Os {
            name: "the base".into(),
            glibc,
            libstdcxx: libstdcxx.unwrap_or(AbiVersion(vec![0])),
        },
        names,
    })
}
