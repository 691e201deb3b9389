//! The OCI image layout, written as one tar (`oci-layout`, `index.json`,
//! `blobs/sha256/…`): the form `podman load` and `docker load` take.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use oci_spec::image::{
    Arch as OciArch, ConfigBuilder, DescriptorBuilder, Digest as OciDigest, HistoryBuilder,
    ImageConfigurationBuilder, ImageIndexBuilder, ImageManifestBuilder, MediaType, Os,
    PlatformBuilder, RootFsBuilder, ANNOTATION_REF_NAME,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::layer::{Blob, LayerWriter, Owner};
use crate::{ImageError, Plan, USER};

/// A written image.
#[derive(Debug, Clone)]
pub struct Written {
    /// The archive.
    pub path: PathBuf,
    /// Its name and tag.
    pub reference: String,
    /// The manifest's digest (`sha256:…`): the image's identity.
    pub digest: String,
    /// The archive's size in bytes.
    pub bytes: u64,
    /// Each layer's compressed size, base first.
    pub layers: Vec<u64>,
}

/// Folders of the base that a container does not need: documentation,
/// manuals, translations. `/dev` is the runtime's.
const LEFT_OUT: &[&str] = &[
    "dev/",
    "usr/share/doc/",
    "usr/share/man/",
    "usr/share/info/",
    "usr/share/locale/",
    "usr/share/lintian/",
];

fn oci_arch(arch: lpdnn_platforms::Arch) -> Result<(OciArch, Option<&'static str>), ImageError> {
    use lpdnn_platforms::Arch as A;
    Ok(match arch {
        A::X86_64 => (OciArch::Amd64, None),
        A::Aarch64 => (OciArch::ARM64, Some("v8")),
        A::Armv7 => (OciArch::ARM, Some("v7")),
        other => return Err(ImageError::Arch(other)),
    })
}

/// The time of an RFC 3339 text, in seconds since the epoch.
fn epoch(created: &str) -> u64 {
    humantime::parse_rfc3339_weak(created)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// JSON with its object keys sorted (the OCI types keep labels in hash
/// maps): the same image gets the same digest.
fn canonical(value: &impl Serialize) -> Vec<u8> {
    let value = serde_json::to_value(value).expect("OCI types serialize");
    serde_json::to_vec(&sorted(value)).expect("JSON serializes")
}

fn sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn digest_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn oci_digest(hex: &str) -> Result<OciDigest, ImageError> {
    Ok(OciDigest::from_str(&format!("sha256:{hex}"))?)
}

/// Every folder above `path` (`opt`, `opt/lpdnn` for `opt/lpdnn/bin/x`).
fn parents(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

fn base_layer(plan: &Plan, dir: &Path, mtime: u64) -> Result<Blob, ImageError> {
    let file = File::open(&plan.base).map_err(ImageError::io(&plan.base))?;
    let path = dir.join("base.layer");
    let mut layer = LayerWriter::create(&path, mtime).map_err(ImageError::io(&path))?;
    layer
        .copy_tar(std::io::BufReader::new(file), |p| {
            !LEFT_OUT.iter().any(|l| p.starts_with(l))
        })
        .map_err(|e| ImageError::Base {
            path: plan.base.clone(),
            why: e.to_string(),
        })?;
    layer.finish().map_err(ImageError::io(&path))
}

fn part_layer(plan: &Plan, dir: &Path, mtime: u64) -> Result<Blob, ImageError> {
    let path = dir.join("part.layer");
    let io = ImageError::io(&path);
    let write = || -> std::io::Result<Blob> {
        let mut layer = LayerWriter::create(&path, mtime)?;
        let owned: BTreeSet<&str> = plan
            .owned_dirs
            .iter()
            .map(|d| d.trim_matches('/'))
            .collect();
        let mut dirs = BTreeSet::new();
        for p in plan
            .files
            .keys()
            .chain(plan.scripts.keys())
            .map(|k| k.trim_start_matches('/'))
        {
            dirs.extend(parents(p));
        }
        for o in &owned {
            dirs.extend(parents(o));
        }
        dirs.insert("etc");
        for d in &dirs {
            if !owned.contains(d) {
                layer.dir(d, 0o755, Owner::ROOT)?;
            }
        }
        for o in &owned {
            layer.dir(o, 0o750, USER)?;
        }
        layer.dir("tmp", 0o1777, Owner::ROOT)?;
        // The accounts: root, the part's own user, nobody.
        let (uid, gid) = (USER.uid, USER.gid);
        let state = plan.owned_dirs.first().map_or("/", String::as_str);
        let passwd = format!(
            "root:x:0:0:root:/root:/usr/sbin/nologin\n\
             lpdnn:x:{uid}:{gid}:lpdnn:{state}:/usr/sbin/nologin\n\
             nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        );
        let group = format!("root:x:0:\nlpdnn:x:{gid}:\nnogroup:x:65534:\n");
        layer.file("etc/passwd", 0o644, Owner::ROOT, passwd.as_bytes())?;
        layer.file("etc/group", 0o644, Owner::ROOT, group.as_bytes())?;
        for (inside, source) in &plan.files {
            layer.copy(inside.trim_start_matches('/'), source, Owner::ROOT)?;
        }
        for (inside, text) in &plan.scripts {
            layer.file(
                inside.trim_start_matches('/'),
                0o755,
                Owner::ROOT,
                text.as_bytes(),
            )?;
        }
        layer.finish()
    };
    write().map_err(io)
}

/// Writes `plan` as an OCI archive at `out`.
pub fn write(plan: &Plan, out: &Path) -> Result<Written, ImageError> {
    for (inside, source) in &plan.files {
        if !source.is_file() {
            return Err(ImageError::Io {
                path: source.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("not a file (wanted at {inside} in the image)"),
                ),
            });
        }
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let scratch = tempfile::Builder::new()
        .prefix(".image-")
        .tempdir_in(parent)
        .map_err(ImageError::io(parent))?;
    let mtime = epoch(&plan.created);
    let layers = [
        base_layer(plan, scratch.path(), mtime)?,
        part_layer(plan, scratch.path(), mtime)?,
    ];
    let (arch, variant) = oci_arch(plan.arch)?;

    let labels: HashMap<String, String> = plan.labels.clone().into_iter().collect();
    let config = ConfigBuilder::default()
        .user(format!("{}:{}", USER.uid, USER.gid))
        .env(plan.env.clone())
        .entrypoint(plan.entrypoint.clone())
        .cmd(plan.cmd.clone())
        .working_dir(
            plan.owned_dirs
                .first()
                .cloned()
                .unwrap_or_else(|| "/".into()),
        )
        .volumes(plan.volumes.clone())
        .exposed_ports(plan.ports.clone())
        .labels(labels)
        .stop_signal("SIGTERM")
        .build()?;
    let history = [
        "Debian's C and C++ runtimes (mmdebstrap --variant=extract)",
        "the lpdnn part",
    ]
    .iter()
    .map(|h| {
        HistoryBuilder::default()
            .created(plan.created.clone())
            .created_by(*h)
            .build()
    })
    .collect::<Result<Vec<_>, _>>()?;
    let mut image = ImageConfigurationBuilder::default()
        .created(plan.created.clone())
        .architecture(arch.clone())
        .os(Os::Linux)
        .config(config)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(
                    layers
                        .iter()
                        .map(|l| format!("sha256:{}", l.diff_id))
                        .collect::<Vec<_>>(),
                )
                .build()?,
        )
        .history(history)
        .build()?;
    if let Some(v) = variant {
        image.set_variant(Some(v.into()));
    }
    let config_json = canonical(&image);
    let config_digest = digest_of(&config_json);

    let mut layer_descriptors = Vec::new();
    for l in &layers {
        layer_descriptors.push(
            DescriptorBuilder::default()
                .media_type(MediaType::ImageLayerGzip)
                .digest(oci_digest(&l.digest)?)
                .size(l.bytes)
                .build()?,
        );
    }
    let manifest = ImageManifestBuilder::default()
        .schema_version(oci_spec::image::SCHEMA_VERSION)
        .media_type(MediaType::ImageManifest)
        .config(
            DescriptorBuilder::default()
                .media_type(MediaType::ImageConfig)
                .digest(oci_digest(&config_digest)?)
                .size(config_json.len() as u64)
                .build()?,
        )
        .layers(layer_descriptors)
        .build()?;
    let manifest_json = canonical(&manifest);
    let manifest_digest = digest_of(&manifest_json);
    let mut platform = PlatformBuilder::default().architecture(arch).os(Os::Linux);
    if let Some(v) = variant {
        platform = platform.variant(v);
    }
    let index = ImageIndexBuilder::default()
        .schema_version(oci_spec::image::SCHEMA_VERSION)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![DescriptorBuilder::default()
            .media_type(MediaType::ImageManifest)
            .digest(oci_digest(&manifest_digest)?)
            .size(manifest_json.len() as u64)
            .platform(platform.build()?)
            .annotations(HashMap::from([(
                ANNOTATION_REF_NAME.to_owned(),
                plan.reference.clone(),
            )]))
            .build()?])
        .build()?;
    let index_json = canonical(&index);

    // The archive, beside `out` until it is whole.
    let part = tempfile::Builder::new()
        .prefix(".image-")
        .suffix(".tar")
        .tempfile_in(parent)
        .map_err(ImageError::io(parent))?;
    let io = ImageError::io(out);
    let archive = || -> std::io::Result<()> {
        let mut tar = tar::Builder::new(std::io::BufWriter::new(part.as_file()));
        tar.mode(tar::HeaderMode::Deterministic);
        let mut add = |name: &str, data: &[u8]| -> std::io::Result<()> {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_mtime(mtime);
            h.set_size(data.len() as u64);
            tar.append_data(&mut h, name, data)
        };
        add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        add("index.json", &index_json)?;
        add(&format!("blobs/sha256/{config_digest}"), &config_json)?;
        add(&format!("blobs/sha256/{manifest_digest}"), &manifest_json)?;
        for l in &layers {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_mtime(mtime);
            h.set_size(l.bytes);
            tar.append_data(
                &mut h,
                format!("blobs/sha256/{}", l.digest),
                File::open(&l.path)?,
            )?;
        }
        tar.into_inner()?.into_inner().map_err(|e| e.into_error())?;
        part.as_file().sync_all()
    };
    archive().map_err(ImageError::io(out))?;
    let bytes = part
        .as_file()
        .metadata()
        .map_err(ImageError::io(out))?
        .len();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(part.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(ImageError::io(out))?;
    }
    part.persist(out).map_err(|e| io(e.error))?;
    Ok(Written {
        path: out.to_owned(),
        reference: plan.reference.clone(),
        digest: format!("sha256:{manifest_digest}"),
        bytes,
        layers: layers.iter().map(|l| l.bytes).collect(),
    })
}
