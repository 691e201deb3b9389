//! Container images, built and run for real: `lpdnn-host image` writes
//! the front end's image and a worker's (from a deployment package); a
//! podman with an empty image store of its own loads them; `package verify`
//! passes inside the worker's image; the front end's container and the
//! worker's (unprivileged, read-only, no capabilities) run a job together,
//! and the job records its sandbox. The Raspberry Pi 4 image is verified
//! under qemu-user.
//!
//! They need podman, runc and mmdebstrap from Debian's packages (the test
//! command's set-up installs them).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::baas::curl;
use common::{face_package, host, root, text};

/// A podman of the test's own: its image store and state in `dir`, runc
/// as runtime, explicit rlimits (this machine kind has no
/// CAP_SYS_RESOURCE for podman's defaults). Containers are removed when it
/// is dropped.
struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    fn new() -> Podman {
        let found = Command::new("podman").arg("--version").output();
        assert!(
            found.is_ok_and(|o| o.status.success()),
            "podman is missing: apt-get install podman runc (scripts/setup.sh --all installs them)"
        );
        Podman {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(self.dir.path().join("store"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .args(["--runtime", "runc", "--events-backend", "file"]);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// `podman run` with the limits a worker runs under: an unprivileged
    /// user (the image's), a read-only root, no capabilities.
    fn contained(&self, args: &[&str]) -> Output {
        self.run(&[&["run", "--rm"], LOCKED, args].concat())
    }
}

/// What every container here runs under.
const LOCKED: &[&str] = &[
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=4096:4096",
    "--read-only",
    "--cap-drop",
    "all",
    "--security-opt",
    "no-new-privileges",
];

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "--force", "--all", "--time", "0"]);
        let _ = self.run(&["system", "reset", "--force"]);
    }
}

fn image(args: &[&str]) -> Output {
    let o = host(&[&["image"], args].concat());
    assert!(o.status.success(), "{}", text(&o));
    o
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn the_server_and_a_worker_image_from_an_empty_store_run_a_job_in_containers() {
    let dir = tempfile::tempdir().unwrap();
    let package = dir.path().join("pkg");
    face_package("x86_64-linux", "lne,onnxruntime", &package);
    let worker_tar = dir.path().join("worker.tar");
    let server_tar = dir.path().join("serve.tar");
    let made = image(&["worker", path(&package), "-o", path(&worker_tar)]);
    assert!(
        text(&made).contains("lpdnn-worker-x86_64-linux:"),
        "{}",
        text(&made)
    );
    let serve_bin = PathBuf::from(env!("CARGO_BIN_EXE_lpdnn-host")).with_file_name("lpdnn-serve");
    image(&["server", "--bin", path(&serve_bin), "-o", path(&server_tar)]);

    let podman = Podman::new();
    let images = podman.run(&["images", "--quiet"]);
    assert!(images.stdout.is_empty(), "the store starts empty");
    for tar in [&worker_tar, &server_tar] {
        let o = podman.run(&["load", "--input", path(tar)]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let version = env!("CARGO_PKG_VERSION");
    let worker_image = format!("lpdnn-worker-x86_64-linux:{version}");
    let server_image = format!("lpdnn-serve:{version}");

    // The package inside the image is whole.
    let verify = podman.contained(&[
        "--network",
        "none",
        &worker_image,
        "package",
        "verify",
        "/opt/lpdnn",
    ]);
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(text(&verify).contains("hashes match"), "{}", text(&verify));

    // The front end, published on a loopback port; the worker beside it.
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:8080");
    let started = podman.run(
        &[
            &["run", "--detach", "--name", "front"][..],
            LOCKED,
            &[
                "--publish",
                &publish,
                &server_image,
                "--bind",
                "0.0.0.0:8080",
                "--data",
                "/var/lib/lpdnn/data",
                "--token",
                "tester=a-long-secret",
                "--worker-token",
                "worker-secret",
            ],
        ]
        .concat(),
    );
    assert!(started.status.success(), "{}", text(&started));
    let url = format!("http://127.0.0.1:{port}");
    let server_env = format!("LPDNN_SERVER_URL={url}");
    let started = podman.run(
        &[
            &["run", "--detach", "--name", "worker"][..],
            LOCKED,
            &[
                "--network",
                "host",
                "--env",
                &server_env,
                "--env",
                "LPDNN_WORKER_TOKEN=worker-secret",
                &worker_image,
            ],
        ]
        .concat(),
    );
    assert!(started.status.success(), "{}", text(&started));

    let auth = "Authorization: Bearer a-long-secret";
    let devices = format!("{url}/v1/devices");
    let start = std::time::Instant::now();
    loop {
        let (code, d) = curl(&["-H", auth, &devices]);
        if code == 200 && d["devices"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no worker registered: {d}\n{}",
            text(&podman.run(&["logs", "worker"]))
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    let model = root().join("assets/models/face_detection_short_range.onnx");
    let (code, done) = curl(&[
        "-H",
        auth,
        "--data-binary",
        &format!("@{}", model.display()),
        &format!("{url}/bonseyes_baas/x86_64-linux/default/onnxruntime?wait=300&duration=1"),
    ]);
    assert_eq!(
        code,
        200,
        "{done}\n{}",
        text(&podman.run(&["logs", "worker"]))
    );
    let job = &done["job"];
    assert_eq!(job["result"], "passed", "{job}");
    assert_eq!(job["attempts"], 1);
    // The sandbox inside the container: no network (a user namespace of
    // its own), Landlock, rlimits, its own folder.
    let sandbox = &job["sandbox"];
    assert_eq!(sandbox["rlimits"], true, "{sandbox}");
    assert_eq!(sandbox["own_folder"], true, "{sandbox}");
    assert_eq!(sandbox["landlock"], "full", "{sandbox}");
    assert_eq!(sandbox["network_namespace"], true, "{sandbox}");
    let run = &done["result"]["runs"][0];
    assert_eq!(run["engine"], "onnxruntime");
    assert_eq!(run["state"], "ok");
    assert_eq!(
        run["engine_library"], "/opt/lpdnn/lib/onnxruntime/libonnxruntime.so",
        "the engine from the image's package"
    );
    assert!(run["phases"]["steady"]["iterations"].as_u64().unwrap() > 0);
}

#[test]
fn the_raspberry_pi_image_holds_a_whole_package_under_emulation() {
    let target = lpdnn_engine_api::cache_dir().join("targets/aarch64-unknown-linux-gnu");
    if !target.join("bin/lpdnn-host").is_file() {
        assert!(
            std::env::var_os("LPDNN_REQUIRE_CROSS").is_none(),
            "the aarch64 build is missing (scripts/cross.sh aarch64)"
        );
        eprintln!("skipped: no aarch64 build (scripts/cross.sh aarch64)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let package = dir.path().join("pi4");
    face_package("raspberry-pi-4b", "lne", &package);
    let tar = dir.path().join("pi4.tar");
    image(&["worker", path(&package), "-o", path(&tar)]);
    let podman = Podman::new();
    let o = podman.run(&["load", "--input", path(&tar)]);
    assert!(o.status.success(), "{}", text(&o));
    let name = format!("lpdnn-worker-raspberry-pi-4b:{}", env!("CARGO_PKG_VERSION"));
    let inspect = podman.run(&["image", "inspect", "--format", "{{.Architecture}}", &name]);
    assert_eq!(String::from_utf8_lossy(&inspect.stdout).trim(), "arm64");
    let verify = podman.contained(&[
        "--network",
        "none",
        &name,
        "package",
        "verify",
        "/opt/lpdnn",
    ]);
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(
        text(&verify).contains("aarch64-unknown-linux-gnu")
            && text(&verify).contains("hashes match"),
        "{}",
        text(&verify)
    );
}
