//! `benchmark --target-config` against a real OpenSSH server started on a
//! loopback port, with a key made for the test: the package and dataset go
//! over SSH, the benchmark runs there, and the same three result files as a
//! local run come back. The aarch64 package goes too, run by the kernel's
//! binfmt_misc through qemu, where that is registered.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use common::{face_benchmark, host, read_json, text};
use serde_json::Value;

/// A real sshd on 127.0.0.1, killed when dropped.
struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(cmd: &mut Command) {
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{cmd:?}: {}", text(&o));
}

fn sshd() -> Option<Sshd> {
    let bin = Path::new("/usr/sbin/sshd");
    if !bin.is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "/usr/sbin/sshd is missing (scripts/setup.sh --all installs openssh-server)"
        );
        eprintln!("skipped: /usr/sbin/sshd is missing (Debian openssh-server)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for key in ["host_key", "user_key"] {
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(d.join(key)));
    }
    std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).unwrap();
    // sshd's privilege separation folder.
    let _ = std::fs::create_dir_all("/run/sshd");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {0}/host_key\n\
         AuthorizedKeysFile {0}/authorized_keys\nPidFile {0}/sshd.pid\nStrictModes no\n\
         UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\nLogLevel ERROR\n",
        d.display()
    );
    std::fs::write(d.join("sshd_config"), config).unwrap();
    let host_pub = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
    std::fs::write(
        d.join("known_hosts"),
        format!("[127.0.0.1]:{port} {host_pub}"),
    )
    .unwrap();
    let child = Command::new(bin)
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "sshd did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Sshd { child, port, dir })
}

impl Sshd {
    /// A target config for this server, as `platform`, with `extra` fields.
    fn target(&self, platform: &str, extra: Value) -> PathBuf {
        let user =
            String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
        let mut c = serde_json::json!({
            "host": "127.0.0.1",
            "port": self.port,
            "user": user.trim(),
            "key": "user_key",
            "known_hosts": "known_hosts",
            "platform": platform,
            "workdir": self.dir.path().join("board").display().to_string(),
        });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        let p = self.dir.path().join(format!("{platform}.json"));
        std::fs::write(&p, c.to_string()).unwrap();
        p
    }
}

fn remote_benchmark(target: &Path, pkg: &Path, data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "benchmark",
        "face-detection-blazeface",
        "--target-config",
        target.to_str().unwrap(),
        "--deployment-package",
        pkg.to_str().unwrap(),
        "--dataset",
        data.to_str().unwrap(),
        "--filename",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    host(&args)
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[test]
fn a_remote_benchmark_brings_back_what_a_local_one_writes() {
    let Some(sshd) = sshd() else { return };
    let work = tempfile::tempdir().unwrap();
    let pkg = work.path().join("pkg");
    common::face_package("x86_64-linux", "lne,onnxruntime", &pkg);
    let target = sshd.target("x86_64-linux", serde_json::json!({}));
    let data = common::dataset();
    let out = work.path().join("results/face.json");
    let opts = [
        "--number",
        "2",
        "--warmup",
        "1",
        "--engine",
        "lne,onnxruntime",
    ];
    let o = remote_benchmark(&target, &pkg, data.path(), &out, &opts);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    // The report the target printed, here.
    assert!(
        t.contains("Steady state per stage") && t.contains("preprocess"),
        "{t}"
    );
    let remote = read_json(&out);
    common::validate(&remote);
    for f in ["results/face.html", "results/face.results.txt"] {
        assert!(work.path().join(f).is_file(), "{f}");
    }
    let txt = std::fs::read_to_string(work.path().join("results/face.results.txt")).unwrap();
    assert!(
        txt.contains("astronaut.png") && txt.contains("\"label\":\"face\""),
        "{txt}"
    );
    // Ran there: the package's binary in the target's work folder.
    let command = remote["provenance"]["command"].to_string();
    assert!(
        command.contains("/board/packages/") && command.contains("/bin/lpdnn-host"),
        "{command}"
    );

    // The same form as a local run of the same app.
    let local_out = work.path().join("local.json");
    let o = face_benchmark(
        data.path(),
        &[&opts[..], &["--filename", local_out.to_str().unwrap()]].concat(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let local = read_json(&local_out);
    assert_eq!(keys(&remote), keys(&local));
    assert_eq!(keys(&remote["runs"][0]), keys(&local["runs"][0]));
    assert_eq!(
        keys(&remote["provenance"]["host"]),
        keys(&local["provenance"]["host"])
    );
    assert_eq!(remote["runs"].as_array().unwrap().len(), 2);
    assert_eq!(
        remote["runs"][0]["predictions"],
        local["runs"][0]["predictions"]
    );

    // A second run finds the package there and copies only the dataset.
    let packages = sshd.dir.path().join("board/packages");
    let before: Vec<_> = std::fs::read_dir(&packages)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(before.len(), 1, "{before:?}");
    let stamp = std::fs::metadata(&before[0]).unwrap().modified().unwrap();
    let o = remote_benchmark(
        &target,
        &pkg,
        data.path(),
        &out,
        &["--number", "1", "--engine", "lne"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::metadata(&before[0]).unwrap().modified().unwrap(),
        stamp
    );
    let runs: Vec<_> = std::fs::read_dir(sshd.dir.path().join("board/runs"))
        .unwrap()
        .collect();
    assert!(runs.is_empty(), "run folders are removed: {runs:?}");

    // The benchmark's own mistake comes back as it is, with its exit code.
    let o = remote_benchmark(
        &target,
        &pkg,
        data.path(),
        &out,
        &["--engine", "tensorflow"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("tensorflow"), "{}", text(&o));
}

#[test]
fn remote_mistakes_get_one_clear_line() {
    let Some(sshd) = sshd() else { return };
    let work = tempfile::tempdir().unwrap();
    let pkg = work.path().join("pkg");
    common::face_package("x86_64-linux", "lne", &pkg);
    let data = common::dataset();
    let out = work.path().join("r.json");
    // A key the server does not know.
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(sshd.dir.path().join("stranger")));
    let stranger = sshd.target("x86_64-linux", serde_json::json!({"key": "stranger"}));
    let o = remote_benchmark(&stranger, &pkg, data.path(), &out, &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("exit 255: ssh could not connect or log in") && t.contains("Permission denied"),
        "{t}"
    );
    // A package for another platform than the target's.
    let pi = sshd.target("raspberry-pi-4b", serde_json::json!({}));
    let t = text(&remote_benchmark(&pi, &pkg, data.path(), &out, &[]));
    assert!(t.contains("is built for x86_64-unknown-linux-gnu, the target's platform raspberry-pi-4b needs aarch64-unknown-linux-gnu"), "{t}");
    // An app the package does not carry.
    let ok = sshd.target("x86_64-linux", serde_json::json!({}));
    let o = host(&[
        "benchmark",
        "voice-activity",
        "--target-config",
        ok.to_str().unwrap(),
        "--deployment-package",
        pkg.to_str().unwrap(),
        "--dataset",
        data.path().to_str().unwrap(),
    ]);
    let t = text(&o);
    assert!(
        t.contains("the package has no app \"voice-activity\" (it has face-detection-blazeface)"),
        "{t}"
    );
    // A config mistake names the file and field.
    let bad = sshd.target("x86_64-linux", serde_json::json!({"hostname": "b"}));
    let t = text(&remote_benchmark(&bad, &pkg, data.path(), &out, &[]));
    assert!(
        t.contains("x86_64-linux.json") && t.contains("hostname"),
        "{t}"
    );
    assert!(!out.exists(), "no result file from a failed run");
}

#[test]
fn the_aarch64_package_benchmarks_over_ssh_under_binfmt_qemu() {
    let Some(sshd) = sshd() else { return };
    let cache = lpdnn_engine_api::cache_dir();
    let cross = cache.join("targets/aarch64-unknown-linux-gnu/bin/lpdnn-host");
    let binfmt = Path::new("/proc/sys/fs/binfmt_misc/qemu-aarch64").is_file();
    if !cross.is_file() || !binfmt {
        let why = format!(
            "needs {} (scripts/cross.sh aarch64) and binfmt_misc's qemu-aarch64 entry",
            cross.display()
        );
        assert!(std::env::var_os("LPDNN_REQUIRE_CROSS").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let pkg = work.path().join("pi4");
    common::face_package("raspberry-pi-4b", "lne", &pkg);
    // The emulated board's C library is the cross sysroot.
    let target = sshd.target(
        "raspberry-pi-4b",
        serde_json::json!({"env": {"QEMU_LD_PREFIX": "/usr/aarch64-linux-gnu"}}),
    );
    let data = common::dataset();
    let out = work.path().join("pi4.json");
    let o = remote_benchmark(
        &target,
        &pkg,
        data.path(),
        &out,
        &["--number", "1", "--warmup", "1"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let r = read_json(&out);
    common::validate(&r);
    assert_eq!(r["provenance"]["host"]["arch"], "aarch64");
    assert_eq!(r["provenance"]["host"]["emulated_on"], "x86_64");
    assert_eq!(
        r["provenance"]["lpdnn_host"]["target"],
        "aarch64-unknown-linux-gnu"
    );
}
