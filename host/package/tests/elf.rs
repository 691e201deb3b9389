//! `elf_needs` agrees with binutils' `readelf` on real binaries: this test
//! program and every engine library the set-up put in the cache, for
//! this machine's target and the aarch64 cross build.

use std::path::{Path, PathBuf};
use std::process::Command;

use lpdnn_package::elf_needs;
use lpdnn_platforms::AbiVersion;

/// The newest `PREFIX_x.y` version `readelf -V` lists, and the `NEEDED`
/// libraries of `readelf -d`.
fn readelf(path: &Path, prefix: &str) -> (Option<AbiVersion>, Vec<String>) {
    let run = |flag: &str| {
        let o = Command::new("readelf")
            .args([flag, "--wide"])
            .arg(path)
            .output()
            .expect("readelf (binutils) runs");
        assert!(o.status.success(), "readelf {flag} {}", path.display());
        String::from_utf8(o.stdout).unwrap()
    };
    let newest = run("-V")
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|w| match w {
            // glibc 2.36's packed relocations, a version without a number.
            "GLIBC_ABI_DT_RELR" if prefix == "GLIBC_" => Some("2.36"),
            w => w.strip_prefix(prefix),
        })
        .filter_map(|v| v.parse::<AbiVersion>().ok())
        .max();
    let needed = run("-d")
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next().map(str::to_owned))
        .collect();
    (newest, needed)
}

fn libraries(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(libraries(&p));
        } else if p.extension().is_some_and(|x| x == "so") {
            found.push(p);
        }
    }
    found
}

#[test]
fn needs_agree_with_readelf() {
    let cache = lpdnn_engine_api::cache_dir();
    let mut files = vec![std::env::current_exe().unwrap()];
    files.extend(libraries(&cache.join("lib")));
    files.extend(libraries(&cache.join("ncnn/lib")));
    files.extend(libraries(
        &cache.join("targets/aarch64-unknown-linux-gnu/lib"),
    ));
    let mut with_cxx = 0;
    for f in &files {
        let needs = elf_needs(f).unwrap().expect("an ELF file");
        let (glibc, needed) = readelf(f, "GLIBC_");
        let (cxx, _) = readelf(f, "GLIBCXX_");
        assert_eq!(needs.glibc, glibc, "{}", f.display());
        assert_eq!(needs.libstdcxx, cxx, "{}", f.display());
        assert_eq!(needs.libraries, needed, "{}", f.display());
        with_cxx += usize::from(cxx.is_some());
    }
    // This test program needs glibc; the engines' C++ libraries, libstdc++.
    assert!(files.len() > 1 && with_cxx > 0, "{files:?}");
    assert!(elf_needs(Path::new("Cargo.toml")).unwrap().is_none());
}

#[test]
fn an_os_lacks_what_is_newer_than_it_has() {
    let os = lpdnn_platforms::Os {
        name: "Ubuntu 18.04".into(),
        glibc: "2.27".parse().unwrap(),
        libstdcxx: "3.4.25".parse().unwrap(),
    };
    let needs = |g: &str, c: Option<&str>| lpdnn_package::Needs {
        glibc: Some(g.parse().unwrap()),
        libstdcxx: c.map(|c| c.parse().unwrap()),
        libraries: Vec::new(),
    };
    assert!(needs("2.27", Some("3.4.25")).unmet(&os).is_empty());
    assert!(needs("2.17", None).unmet(&os).is_empty());
    assert_eq!(
        needs("2.28", Some("3.4.30")).unmet(&os),
        [
            "GLIBC_2.28 (Ubuntu 18.04 has glibc 2.27)",
            "GLIBCXX_3.4.30 (Ubuntu 18.04 has libstdc++ up to GLIBCXX_3.4.25)"
        ]
    );
    // Number by number, not as text: 2.9 is older than 2.27.
    assert!(needs("2.9", None).unmet(&os).is_empty());
    for bad in ["2", "+2.27", "2..27", "2.27a", ""] {
        assert!(bad.parse::<AbiVersion>().is_err(), "{bad:?}");
    }
}
