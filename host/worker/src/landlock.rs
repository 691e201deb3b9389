//! Landlock for a job's benchmark: the child narrows its own filesystem
//! view at its very start, before it reads the model (the untrusted input),
//! and leaves what applied in its folder for the worker
//! ([`LANDLOCK_FILE`]).
//!
//! It may read the system's libraries and configuration of the dynamic
//! loader, `/proc` and `/sys` (the monitors), the `lpdnn-host` binary's
//! folder and the lpdnn cache (engine libraries, compiled components); it
//! may write only in its own folder and to devices. It may not open TCP
//! connections or bind ports (where the kernel's Landlock has network
//! rules), nor signal processes outside its sandbox.

use std::path::{Path, PathBuf};

use ::landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, Scope, ABI,
};
use serde::{Deserialize, Serialize};

/// The file the child writes its [`Narrowed`] to, in its folder.
pub const LANDLOCK_FILE: &str = "landlock.json";

/// How far Landlock narrowed the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Narrowed {
    /// Every rule asked for is enforced.
    Full,
    /// Some are (an older kernel's Landlock).
    Partial,
    /// None: the kernel has no Landlock.
    None,
}

/// The system folders a benchmark reads.
const SYSTEM: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/bin",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/os-release",
    "/proc",
    "/sys",
];

/// What a benchmark child in `folder` may read and write: `read` adds the
/// folders it needs beside the system's (the binary's, the caches).
pub fn child_rules(folder: &Path, read: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut r: Vec<PathBuf> = SYSTEM.iter().map(PathBuf::from).collect();
    r.extend(read.iter().cloned());
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_owned))
    {
        r.push(dir);
    }
    // A deployment package's engine libraries and apps (bin/..).
    r.extend(lpdnn_engine_api::package_root());
    (r, vec![folder.to_owned(), PathBuf::from("/dev")])
}

/// Restricts this process (and the threads and children it starts from
/// now on) to `read` and `write`; paths that do not exist are left out.
/// Call it before any thread is started.
pub fn narrow(read: &[PathBuf], write: &[PathBuf]) -> Result<Narrowed, String> {
    let abi = ABI::V6;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(read, AccessFs::from_read(abi))))
        .and_then(|r| r.add_rules(path_beneath_rules(write, AccessFs::from_all(abi))))
        .and_then(|r| r.restrict_self())
        .map_err(|e| e.to_string())?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => Narrowed::Full,
        RulesetStatus::PartiallyEnforced => Narrowed::Partial,
        RulesetStatus::NotEnforced => Narrowed::None,
    })
}
