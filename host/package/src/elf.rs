//! What an ELF file asks of the system that loads it: its architecture, the
//! shared libraries it names, and the newest glibc and libstdc++ symbol
//! versions it needs. A binary linked against a newer glibc than the board's
//! fails at start-up with "version `GLIBC_2.34' not found"; a package checks
//! this before it travels.

use std::io::Read;
use std::path::Path;

use lpdnn_platforms::{AbiVersion, Arch};
use object::elf::{FileHeader32, FileHeader64, DT_NEEDED};
use object::read::elf::{Dyn, FileHeader};
use object::{Endianness, FileKind, ReadCache, ReadRef};
use serde::{Deserialize, Serialize};

use crate::{io, PackageError};

/// Reads the architecture from an ELF header's `e_machine` (its first 64
/// bytes only: a host binary is hundreds of MB); `None` when the file is
/// not ELF or of an architecture no descriptor has.
pub fn elf_arch(path: &Path) -> Result<Option<Arch>, PackageError> {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .map_err(io(path))?;
    if !head.starts_with(b"\x7fELF") || head.len() < 20 {
        return Ok(None);
    }
    // e_machine, in the file's byte order (EI_DATA: 1 little, 2 big).
    let m = if head[5] == 2 {
        u16::from_be_bytes([head[18], head[19]])
    } else {
        u16::from_le_bytes([head[18], head[19]])
    };
    Ok(match (m, head[4]) {
        (object::elf::EM_X86_64, _) => Some(Arch::X86_64),
        (object::elf::EM_AARCH64, _) => Some(Arch::Aarch64),
        (object::elf::EM_ARM, _) => Some(Arch::Armv7),
        (object::elf::EM_RISCV, 2) => Some(Arch::Riscv64),
        (object::elf::EM_RISCV, _) => Some(Arch::Riscv32),
        _ => None,
    })
}

/// What a dynamically linked ELF file needs where it loads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Needs {
    /// The newest `GLIBC_x.y` symbol version it asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glibc: Option<AbiVersion>,
    /// The newest `GLIBCXX_x.y.z` (libstdc++) symbol version it asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub libstdcxx: Option<AbiVersion>,
    /// The shared libraries it names (`DT_NEEDED`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libraries: Vec<String>,
}

impl Needs {
    /// The newer of two needs, version by version (libraries joined).
    pub fn max(mut self, other: &Needs) -> Needs {
        self.glibc = self.glibc.max(other.glibc.clone());
        self.libstdcxx = self.libstdcxx.max(other.libstdcxx.clone());
        for l in &other.libraries {
            if !self.libraries.contains(l) {
                self.libraries.push(l.clone());
            }
        }
        self
    }

    /// Keeps the libraries the board must have: not those among the
    /// package's `files` (paths inside it); sorted.
    pub fn keep_system_libraries(&mut self, files: &[String]) {
        let carried: Vec<&str> = files
            .iter()
            .map(|f| f.rsplit('/').next().unwrap_or(f))
            .collect();
        self.libraries.retain(|l| !carried.contains(&l.as_str()));
        self.libraries.sort();
    }

    /// What of this the OS lacks, in words (`GLIBC_2.34 (Ubuntu 20.04 has
    /// glibc 2.31)`); empty when it loads there.
    pub fn unmet(&self, os: &lpdnn_platforms::Os) -> Vec<String> {
        let mut lacks = Vec::new();
        if let Some(v) = self.glibc.as_ref().filter(|v| **v > os.glibc) {
            lacks.push(format!("GLIBC_{v} ({} has glibc {})", os.name, os.glibc));
        }
        if let Some(v) = self.libstdcxx.as_ref().filter(|v| **v > os.libstdcxx) {
            lacks.push(format!(
                "GLIBCXX_{v} ({} has libstdc++ up to GLIBCXX_{})",
                os.name, os.libstdcxx
            ));
        }
        lacks
    }
}

/// Reads what an ELF file needs from the system: `None` when it is not an
/// ELF file. Reads only the headers and the dynamic sections.
pub fn elf_needs(path: &Path) -> Result<Option<Needs>, PackageError> {
    read_elf(
        path,
        |c| needs_of::<FileHeader64<Endianness>, _>(c),
        |c| needs_of::<FileHeader32<Endianness>, _>(c),
    )
}

type Cache = ReadCache<std::fs::File>;

/// Opens `path` and reads it with `elf64` or `elf32` by its class; `None`
/// when it is not ELF.
fn read_elf<T>(
    path: &Path,
    elf64: impl FnOnce(&Cache) -> object::read::Result<T>,
    elf32: impl FnOnce(&Cache) -> object::read::Result<T>,
) -> Result<Option<T>, PackageError> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    let cache = ReadCache::new(file);
    let read = match FileKind::parse(&cache) {
        Ok(FileKind::Elf64) => elf64(&cache),
        Ok(FileKind::Elf32) => elf32(&cache),
        _ => return Ok(None),
    };
    read.map(Some).map_err(|source| PackageError::Elf {
        path: path.to_owned(),
        source,
    })
}

fn needs_of<'d, Elf, R>(data: R) -> object::read::Result<Needs>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'d>,
{
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let sections = header.sections(endian, data)?;
    let mut needs = Needs::default();
    if let Some((mut files, link)) = sections.gnu_verneed(endian, data)? {
        let strings = sections.strings(endian, data, link)?;
        while let Some((_, mut versions)) = files.next()? {
            while let Some(v) = versions.next()? {
                let name = String::from_utf8_lossy(v.name(endian, strings)?);
                if name == "GLIBC_ABI_DT_RELR" {
                    // Packed relative relocations: glibc 2.36 and later.
                    needs.glibc = needs.glibc.max(Some(AbiVersion(vec![2, 36])));
                } else if let Some(n) = name.strip_prefix("GLIBCXX_") {
                    needs.libstdcxx = needs.libstdcxx.max(n.parse().ok());
                } else if let Some(n) = name.strip_prefix("GLIBC_") {
                    needs.glibc = needs.glibc.max(n.parse().ok());
                }
            }
        }
    }
    if let Some((entries, link)) = sections.dynamic(endian, data)? {
        let strings = sections.strings(endian, data, link)?;
        for d in entries {
            if d.tag(endian) == DT_NEEDED {
                let name = d.string(endian, strings)?;
                needs
                    .libraries
                    .push(String::from_utf8_lossy(name).into_owned());
            }
        }
    }
    Ok(needs)
}

/// The newest `GLIBC_` or `GLIBCXX_` symbol version a shared library
/// defines (`libc.so.6`, `libstdc++.so.6`): what it provides to the files
/// that need it. `None` when it is not ELF or defines none of them.
pub fn elf_provides(path: &Path) -> Result<Option<AbiVersion>, PackageError> {
    Ok(read_elf(
        path,
        |c| provides_of::<FileHeader64<Endianness>, _>(c),
        |c| provides_of::<FileHeader32<Endianness>, _>(c),
    )?
    .flatten())
}

fn provides_of<'d, Elf, R>(data: R) -> object::read::Result<Option<AbiVersion>>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'d>,
{
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let sections = header.sections(endian, data)?;
    let mut newest: Option<AbiVersion> = None;
    if let Some((mut defs, link)) = sections.gnu_verdef(endian, data)? {
        let strings = sections.strings(endian, data, link)?;
        while let Some((_, mut names)) = defs.next()? {
            // A definition's first name is its own; the rest are parents.
            if let Some(aux) = names.next()? {
                let name = String::from_utf8_lossy(aux.name(endian, strings)?);
                let v = name
                    .strip_prefix("GLIBCXX_")
                    .or_else(|| name.strip_prefix("GLIBC_"))
                    .and_then(|n| n.parse().ok());
                newest = newest.max(v);
            }
        }
    }
    Ok(newest)
}

/// The glibc this process runs on (`gnu_get_libc_version`); `None` off
/// glibc.
pub fn running_glibc() -> Option<AbiVersion> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: returns a pointer to a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
        v.to_str().ok()?.parse().ok()
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}
