//! The archive an image is written as, read back as a container engine
//! reads it: every digest matches its blob, the base keeps only what a
//! container needs, the part's files are the files given, and the same
//! inputs give the same bytes. (Loading and running images in podman is
//! tested in `host/cli/tests/images.rs`.)

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use lpdnn_image::ImageError;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// This machine's copy of a shared library, by file name.
fn system_library(name: &str) -> PathBuf {
    for dir in [
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib64",
        "/lib",
    ] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} not found on this machine");
}

/// A root filesystem tar holding the libraries this test's binary needs
/// (all but `leave_out`), a device node and documentation.
fn base_tar(dir: &Path, leave_out: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let needs = lpdnn_package::elf_needs(&exe).unwrap().unwrap();
    let path = dir.join(format!("base-without-{leave_out}.tar"));
    let mut tar = tar::Builder::new(std::fs::File::create(&path).unwrap());
    let mut libs: Vec<String> = needs.libraries.clone();
    libs.push("libc.so.6".into());
    libs.sort();
    libs.dedup();
    for l in libs.iter().filter(|l| *l != leave_out) {
        tar.append_path_with_name(system_library(l), format!("./lib/x86_64-linux-gnu/{l}"))
            .unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Char);
    h.set_mode(0o666);
    h.set_size(0);
    tar.append_data(&mut h, "./dev/null", std::io::empty())
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(5);
    tar.append_data(&mut h, "./usr/share/doc/libc6/README", &b"docs\n"[..])
        .unwrap();
    tar.into_inner().unwrap();
    path
}

/// The files of a tar, by path (without `./`), as bytes.
fn entries(data: impl Read) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in tar::Archive::new(data).entries().unwrap() {
        let mut e = e.unwrap();
        let path = e
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        out.insert(path, bytes);
    }
    out
}

fn blob<'a>(archive: &'a BTreeMap<String, Vec<u8>>, digest: &str) -> &'a [u8] {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let bytes = &archive[&format!("blobs/sha256/{hex}")];
    assert_eq!(hex::encode(Sha256::digest(bytes)), hex, "blob {digest}");
    bytes
}

#[test]
fn a_server_image_reads_back_digest_by_digest_and_is_the_same_each_time() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let base = base_tar(dir.path(), "none");
    let plan = lpdnn_image::server_plan(&exe, Some(&base), dir.path(), "1.2.3", "abc123").unwrap();
    let first = lpdnn_image::write(&plan, &dir.path().join("a.tar")).unwrap();
    let second = lpdnn_image::write(&plan, &dir.path().join("b.tar")).unwrap();
    assert_eq!(first.digest, second.digest);
    assert_eq!(
        std::fs::read(&first.path).unwrap(),
        std::fs::read(&second.path).unwrap(),
        "the same inputs give the same bytes"
    );

    let archive = entries(std::fs::File::open(&first.path).unwrap());
    assert_eq!(archive["oci-layout"], br#"{"imageLayoutVersion":"1.0.0"}"#);
    let index: Value = serde_json::from_slice(&archive["index.json"]).unwrap();
    let m = &index["manifests"][0];
    assert_eq!(
        m["annotations"]["org.opencontainers.image.ref.name"],
        "lpdnn-serve:1.2.3"
    );
    assert_eq!(m["platform"]["architecture"], "amd64");
    assert_eq!(m["digest"], first.digest);
    let manifest: Value = serde_json::from_slice(blob(&archive, &first.digest)).unwrap();
    let config: Value = serde_json::from_slice(blob(
        &archive,
        manifest["config"]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    assert_eq!(config["config"]["User"], "1000:1000");
    assert_eq!(config["config"]["Labels"]["ai.lpdnn.role"], "server");
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.revision"],
        "abc123"
    );
    assert_eq!(
        config["config"]["Entrypoint"][0],
        "/opt/lpdnn/bin/lpdnn-serve"
    );
    assert!(config["config"]["ExposedPorts"]["8080/tcp"].is_object());

    let layers: Vec<BTreeMap<String, Vec<u8>>> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(config["rootfs"]["diff_ids"].as_array().unwrap())
        .map(|(l, diff_id)| {
            let gz = blob(&archive, l["digest"].as_str().unwrap());
            let mut tar = Vec::new();
            flate2::read::GzDecoder::new(gz)
                .read_to_end(&mut tar)
                .unwrap();
            assert_eq!(
                format!("sha256:{}", hex::encode(Sha256::digest(&tar))),
                diff_id.as_str().unwrap()
            );
            entries(&tar[..])
        })
        .collect();
    assert_eq!(layers.len(), 2);
    let (base_layer, part) = (&layers[0], &layers[1]);
    assert!(base_layer.contains_key("lib/x86_64-linux-gnu/libc.so.6"));
    assert!(
        !base_layer.keys().any(|k| k.starts_with("dev/")),
        "{:?}",
        base_layer.keys()
    );
    assert!(!base_layer.keys().any(|k| k.starts_with("usr/share/doc/")));
    assert_eq!(
        part["opt/lpdnn/bin/lpdnn-serve"],
        std::fs::read(&exe).unwrap()
    );
    let passwd = String::from_utf8_lossy(&part["etc/passwd"]);
    assert!(passwd.contains("lpdnn:x:1000:1000:"), "{passwd}");
}

#[test]
fn a_base_that_lacks_a_library_the_binary_needs_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let base = base_tar(dir.path(), "libgcc_s.so.1");
    match lpdnn_image::server_plan(&exe, Some(&base), dir.path(), "1", "x") {
        Err(ImageError::Unmet { lacks, .. }) => {
            assert!(
                lacks.iter().any(|l| l.starts_with("libgcc_s.so.1")),
                "{lacks:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    let not_a_base = dir.path().join("empty.tar");
    tar::Builder::new(std::fs::File::create(&not_a_base).unwrap())
        .into_inner()
        .unwrap();
    let e = lpdnn_image::server_plan(&exe, Some(&not_a_base), dir.path(), "1", "x").unwrap_err();
    assert!(e.to_string().contains("no libc.so.6"), "{e}");
}
