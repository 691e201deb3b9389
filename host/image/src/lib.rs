//! Container images of the service's parts, written as OCI image archives
//! (`podman load -i`, `docker load -i`, `skopeo copy oci-archive:`):
//!
//! - a **worker** from a deployment package: the package under
//!   `/opt/lpdnn`, started as `lpdnn-host worker` for the package's platform
//!   and profile, labelled with the SHA-256 of its manifest;
//! - the **front end** from the `lpdnn-serve` binary.
//!
//! Each is two layers: a base of Debian's C and C++ runtimes for the
//! target's architecture ([`base`]), checked against what the binary and
//! libraries need, and the part itself. The archive is written from Rust
//! (no daemon, no registry, no emulation for another architecture), and the
//! same inputs give the same image, byte for byte.

pub mod base;
mod layer;
mod oci;
mod servers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lpdnn_package::{Needs, PackageError};
use lpdnn_platforms::Arch;
use sha2::{Digest, Sha256};

pub use base::{debian_base, debian_rootfs, BaseInfo};
pub use layer::Owner;
pub use oci::Written;
pub use servers::{nats_plan, postgres_plan, NATS_PORT, POSTGRES_PORT};

/// Why an image could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The package is not sound (`package verify`'s findings).
    #[error(transparent)]
    Package(#[from] PackageError),
    /// No base for this architecture.
    #[error("no Debian base for {0}: images are made for x86_64, aarch64 and armv7")]
    Arch(Arch),
    /// mmdebstrap is not installed.
    #[error(
        "mmdebstrap not found: install it (apt-get install mmdebstrap), or give --base ROOTFS.tar"
    )]
    NoMmdebstrap,
    /// mmdebstrap failed.
    #[error("mmdebstrap could not make the {arch} base:\n{log}")]
    Mmdebstrap {
        /// Debian's architecture name.
        arch: &'static str,
        /// The end of its output.
        log: String,
    },
    /// The base is not a root filesystem tar with a glibc.
    #[error("--base {path}: {why}")]
    Base {
        /// The base tar.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The base lacks what the binary or libraries need.
    #[error("the base {base} cannot run {what}: it lacks {}", lacks.join(", "))]
    Unmet {
        /// The base tar.
        base: PathBuf,
        /// The part (the package's name, the binary).
        what: String,
        /// What is missing.
        lacks: Vec<String>,
    },
    /// The OCI types refused a value.
    #[error("image metadata: {0}")]
    Spec(#[from] oci_spec::OciSpecError),
}

impl ImageError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ImageError + '_ {
        move |source| ImageError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// The unprivileged user the parts run as inside their images.
pub const USER: Owner = Owner {
    uid: 1000,
    gid: 1000,
};

/// Where a worker image keeps what it writes: its uploads and compiled
/// components (a volume; the rest of the image may be read-only).
pub const STATE: &str = "/var/lib/lpdnn";

/// Where a worker image holds the package.
pub const PACKAGE_ROOT: &str = "/opt/lpdnn";

/// The port the front end's image listens on.
pub const SERVER_PORT: u16 = 8080;

/// What an image is made of, before it is written.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Name and tag (`lpdnn-worker-raspberry-pi-4b:0.1.0`).
    pub reference: String,
    /// Architecture.
    pub arch: Arch,
    /// The base root filesystem tar.
    pub base: PathBuf,
    /// Files of the part: path inside the image → file here.
    pub files: BTreeMap<String, PathBuf>,
    /// Executable scripts of the part: path inside the image → text.
    pub scripts: BTreeMap<String, String>,
    /// Folders the part owns, made with [`USER`] as owner.
    pub owned_dirs: Vec<String>,
    /// The command.
    pub entrypoint: Vec<String>,
    /// Its default arguments.
    pub cmd: Vec<String>,
    /// Environment.
    pub env: Vec<String>,
    /// Volumes.
    pub volumes: Vec<String>,
    /// Ports it listens on (`8080/tcp`).
    pub ports: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Creation time (RFC 3339), also every file's time.
    pub created: String,
}

/// The base to use: `base` when given, else Debian's for `arch`, made once
/// into `cache`.
pub(crate) fn base_or_debian(
    base: Option<&Path>,
    arch: Arch,
    cache: &Path,
) -> Result<PathBuf, ImageError> {
    match base {
        Some(b) => Ok(b.to_owned()),
        None => debian_base(arch, cache),
    }
}

/// The image of a worker for the package in `package` (checked first as
/// `package verify` does), on the base `base` (a root filesystem tar;
/// default: [`debian_base`] kept in `cache`).
pub fn worker_plan(package: &Path, base: Option<&Path>, cache: &Path) -> Result<Plan, ImageError> {
    let verified = lpdnn_package::verify(package)?;
    let p = &verified.package;
    let arch = lpdnn_platforms::Descriptor::named(&p.platform)
        .map(|d| d.arch)
        .or_else(|| Arch::from_rust(p.target.split('-').next().unwrap_or_default()))
        .ok_or_else(|| ImageError::Base {
            path: package.to_owned(),
            why: format!("no architecture known for target {}", p.target),
        })?;
    let base = &base_or_debian(base, arch, cache)?;
    check_base(base, &verified.requires, &p.name)?;
    let mut files = BTreeMap::new();
    for f in &p.files {
        files.insert(format!("{PACKAGE_ROOT}/{}", f.path), package.join(&f.path));
    }
    files.insert(
        format!("{PACKAGE_ROOT}/package.yml"),
        package.join("package.yml"),
    );
    let manifest = std::fs::read(package.join("package.yml")).map_err(ImageError::io(package))?;
    let description = format!(
        "lpdnn-host worker for {} (profile {}): benchmarks the jobs of that platform",
        p.platform, p.profile
    );
    let mut labels = oci_labels(
        &p.name,
        &description,
        &p.lpdnn_host.version,
        &p.created,
        "worker",
    );
    labels.extend([
        (
            "org.opencontainers.image.revision".into(),
            p.lpdnn_host.commit.clone(),
        ),
        ("ai.lpdnn.platform".into(), p.platform.clone()),
        ("ai.lpdnn.profile".into(), p.profile.clone()),
        ("ai.lpdnn.target".into(), p.target.clone()),
        (
            "ai.lpdnn.package.sha256".into(),
            hex::encode(Sha256::digest(&manifest)),
        ),
        (
            "ai.lpdnn.engines".into(),
            verified
                .engines
                .engines
                .iter()
                .map(|e| format!("{} {}", e.name, e.version))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ]);
    Ok(Plan {
        reference: format!("lpdnn-worker-{}:{}", p.platform, p.lpdnn_host.version),
        arch,
        base: base.to_owned(),
        files,
        scripts: BTreeMap::new(),
        owned_dirs: vec![STATE.into()],
        entrypoint: vec![format!("{PACKAGE_ROOT}/bin/lpdnn-host")],
        cmd: vec![
            "worker".into(),
            "--platform".into(),
            p.platform.clone(),
            "--profile".into(),
            p.profile.clone(),
        ],
        env: vec![
            format!("PATH={PACKAGE_ROOT}/bin:/usr/bin:/bin"),
            format!("HOME={STATE}"),
            format!("LPDNN_CACHE={STATE}/cache"),
            format!("LPDNN_WORKER_CACHE={STATE}/uploads"),
        ],
        volumes: vec![STATE.into()],
        ports: Vec::new(),
        labels,
        created: p.created.clone(),
    })
}

/// The image of the front end: the `lpdnn-serve` binary at `binary`, on
/// the base `base` (default: [`debian_base`] for the binary's architecture,
/// kept in `cache`). `version` and `revision` label it.
pub fn server_plan(
    binary: &Path,
    base: Option<&Path>,
    cache: &Path,
    version: &str,
    revision: &str,
) -> Result<Plan, ImageError> {
    let arch = lpdnn_package::elf_arch(binary)?.ok_or_else(|| ImageError::Base {
        path: binary.to_owned(),
        why: "not an ELF binary (build lpdnn-serve: cargo build --release -p lpdnn-serve)".into(),
    })?;
    let created = &created_from(binary)?;
    let base = &base_or_debian(base, arch, cache)?;
    let needs = lpdnn_package::elf_needs(binary)?.unwrap_or_default();
    check_base(base, &needs, "lpdnn-serve")?;
    let mut labels = oci_labels(
        "lpdnn-serve",
        "The Benchmark-as-a-Service front end (HTTP API); jobs run on workers",
        version,
        created,
        "server",
    );
    labels.insert("org.opencontainers.image.revision".into(), revision.into());
    Ok(Plan {
        reference: format!("lpdnn-serve:{version}"),
        arch,
        base: base.to_owned(),
        files: BTreeMap::from([(format!("{PACKAGE_ROOT}/bin/lpdnn-serve"), binary.to_owned())]),
        scripts: BTreeMap::new(),
        owned_dirs: vec![STATE.into()],
        entrypoint: vec![format!("{PACKAGE_ROOT}/bin/lpdnn-serve")],
        cmd: vec![
            "--bind".into(),
            format!("0.0.0.0:{SERVER_PORT}"),
            "--data".into(),
            format!("{STATE}/data"),
        ],
        env: vec![
            format!("PATH={PACKAGE_ROOT}/bin:/usr/bin:/bin"),
            format!("HOME={STATE}"),
        ],
        volumes: vec![STATE.into()],
        ports: vec![format!("{SERVER_PORT}/tcp")],
        labels,
        created: created.clone(),
    })
}

/// The OCI labels every image carries, and its role among the service's
/// parts.
pub(crate) fn oci_labels(
    title: &str,
    description: &str,
    version: &str,
    created: &str,
    role: &str,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("org.opencontainers.image.title".into(), title.into()),
        (
            "org.opencontainers.image.description".into(),
            description.into(),
        ),
        ("org.opencontainers.image.version".into(), version.into()),
        ("org.opencontainers.image.created".into(), created.into()),
        ("ai.lpdnn.role".into(), role.into()),
    ])
}

fn check_base(base: &Path, needs: &Needs, what: &str) -> Result<(), ImageError> {
    let info = base::inspect(base)?;
    let lacks = info.unmet(needs);
    if lacks.is_empty() {
        Ok(())
    } else {
        Err(ImageError::Unmet {
            base: base.to_owned(),
            what: what.into(),
            lacks,
        })
    }
}

/// The creation time of an image made from `path`: `SOURCE_DATE_EPOCH`
/// when set (reproducible builds), else the file's modification time; RFC
/// 3339.
pub fn created_from(path: &Path) -> Result<String, ImageError> {
    let time = match std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        Some(secs) => std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
        None => std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map_err(ImageError::io(path))?,
    };
    Ok(humantime::format_rfc3339_seconds(time).to_string())
}

/// Writes `plan` as an OCI image archive at `out` (atomically: a reader
/// never sees half an archive).
pub fn write(plan: &Plan, out: &Path) -> Result<Written, ImageError> {
    oci::write(plan, out)
}
