//! Container images, built and run for real: `lpdnn-host image` writes
//! the front end's image and a worker's (from a deployment package); a
//! podman with an empty image store of its own loads them; `package verify`
//! passes inside the worker's image; the front end's container and the
//! worker's (unprivileged, read-only, no capabilities) run a job together,
//! and the job records its sandbox; hostile apps whose component tries to
//! connect, read an environment or write outside the job fail their jobs
//! saying so, and nothing is written. The Raspberry Pi 4 image is verified
//! under qemu-user.
//!
//! `scripts/baas-cluster.sh` starts the whole service from these images
//! (NATS, PostgreSQL, two front ends, two x86_64 workers, the Pi's): jobs
//! for both platforms complete through the seed's URL on either front end; a
//! worker container killed mid-job loses its job to the other; a front end
//! stopped loses nothing.
//!
//! They need podman, runc and mmdebstrap from Debian's packages (the test
//! command's set-up installs them). One runs at a time: podman's lock
//! numbers are shared by every image store on the machine.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::baas::curl;
use common::{face_package, host, root, text};
use serde_json::Value;

/// One container test at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

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
    let _one = serial();
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
    assert_eq!(sandbox["user"], 1000, "the image's user, not root");
    let run = &done["result"]["runs"][0];
    assert_eq!(run["engine"], "onnxruntime");
    // A finished run; "noisy" when the tests beside this one load the
    // cores meanwhile (the verdict itself is tests/noise.rs's business).
    assert!(
        run["state"] == "ok" || run["state"] == "noisy",
        "{}",
        run["state"]
    );
    assert_eq!(
        run["engine_library"], "/opt/lpdnn/lib/onnxruntime/libonnxruntime.so",
        "the engine from the image's package"
    );
    assert!(run["phases"]["steady"]["iterations"].as_u64().unwrap() > 0);

    // Hostile apps, run by the worker in its container: their component
    // may not connect, see an environment, or write outside the job.
    for (mode, said) in [
        ("network", "no network"),
        ("secrets", "no environment"),
        ("escape", "no file written"),
    ] {
        let bundle = hostile_bundle(dir.path(), mode);
        let (code, done) = curl(&[
            "-H",
            auth,
            "--data-binary",
            &format!("@{}", bundle.display()),
            &format!("{url}/bonseyes_baas/x86_64-linux/default/onnxruntime?wait=300&duration=1"),
        ]);
        assert_eq!(code, 200, "{done}");
        let job = &done["job"];
        assert_eq!(job["result"], "failed", "{mode}: {job}");
        assert!(
            job["message"].as_str().unwrap_or_default().contains(said),
            "{mode}: {job}"
        );
    }
    let state = podman.run(&["exec", "worker", "ls", "-A", "/var/lib/lpdnn"]);
    assert!(!text(&state).contains("escaped"), "{}", text(&state));
}

/// An app bundle whose pre-processor is the hostile test component, told
/// to misbehave as `mode` when it is configured.
fn hostile_bundle(dir: &Path, mode: &str) -> PathBuf {
    let assets = root().join("assets");
    let folder = dir.join(format!("hostile-{mode}"));
    std::fs::create_dir_all(folder.join("inputs")).unwrap();
    let app = std::fs::read_to_string(root().join("examples/face-detection/app.json")).unwrap();
    let mut app: Value = serde_json::from_str(&app).unwrap();
    app["preprocessor"] =
        serde_json::json!({ "component": "pre.wasm", "params": { "configure": mode } });
    app["postprocessor"]["component"] = "post.wasm".into();
    app["model"] = serde_json::json!({ "onnx": "face.onnx" });
    app["labels"] = "face.txt".into();
    std::fs::write(folder.join("app.json"), app.to_string()).unwrap();
    for (from, to) in [
        ("components/testing/hostile.wasm", "pre.wasm"),
        ("components/detection.wasm", "post.wasm"),
        ("models/face_detection_short_range.onnx", "face.onnx"),
        ("labels/face.txt", "face.txt"),
        ("images/astronaut.png", "inputs/astronaut.png"),
    ] {
        std::fs::copy(assets.join(from), folder.join(to)).unwrap();
    }
    let tar = dir.join(format!("hostile-{mode}.tar"));
    let ok = Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&folder)
        .arg(".")
        .status()
        .unwrap();
    assert!(ok.success());
    tar
}

#[test]
fn the_raspberry_pi_image_holds_a_whole_package_under_emulation() {
    let _one = serial();
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

/// `scripts/baas-cluster.sh` with its own image store and free ports;
/// `down` when dropped.
struct ClusterScript {
    store: tempfile::TempDir,
    port: u16,
    nats_port: u16,
    pg_port: u16,
}

impl ClusterScript {
    fn new() -> ClusterScript {
        // Two front ends take `port` and the next one.
        let port = loop {
            let p = free_port();
            if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
                break p;
            }
        };
        ClusterScript {
            store: tempfile::tempdir().unwrap(),
            port,
            nats_port: free_port(),
            pg_port: free_port(),
        }
    }

    fn run(&self, verb: &str) -> Output {
        Command::new(root().join("scripts/baas-cluster.sh"))
            .arg(verb)
            .env("LPDNN_PODMAN_ROOT", self.store.path())
            .env("LPDNN_HOST", env!("CARGO_BIN_EXE_lpdnn-host"))
            .env("LPDNN_CLUSTER_PORT", self.port.to_string())
            .env("LPDNN_CLUSTER_NATS_PORT", self.nats_port.to_string())
            .env("LPDNN_CLUSTER_PG_PORT", self.pg_port.to_string())
            .env("LPDNN_CLUSTER_LEASE", "8")
            .output()
            .unwrap()
    }

    fn podman(&self, args: &[&str]) -> Output {
        Command::new("podman")
            .arg("--root")
            .arg(self.store.path().join("store"))
            .arg("--runroot")
            .arg(self.store.path().join("run"))
            .args(["--runtime", "runc", "--events-backend", "file"])
            .args(args)
            .output()
            .unwrap()
    }

    fn url(&self, front: u16) -> String {
        format!("http://127.0.0.1:{}", self.port + front - 1)
    }
}

impl Drop for ClusterScript {
    fn drop(&mut self) {
        let _ = self.run("down");
        let _ = self.podman(&["system", "reset", "--force"]);
    }
}

/// Submits the face model through the seed's URL on `url`; the job's id.
fn submit(url: &str, platform: &str, query: &str) -> String {
    let model = root().join("assets/models/face_detection_short_range.onnx");
    let (code, accepted) = curl(&[
        "--data-binary",
        &format!("@{}", model.display()),
        &format!("{url}/bonseyes_baas/{platform}/default/onnxruntime?{query}"),
    ]);
    assert!(code == 202 || code == 200, "{code} {accepted}");
    accepted["id"]
        .as_str()
        .or(accepted["job"]["id"].as_str())
        .unwrap_or_else(|| panic!("{accepted}"))
        .to_owned()
}

/// Polls the job on `url` until `done` holds for it.
fn until(url: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = std::time::Instant::now();
    loop {
        let (code, job) = curl(&[&format!("{url}/v1/jobs/{id}")]);
        if code == 200 && done(&job) {
            return job;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "job {id}: {job}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn ended(job: &Value) -> bool {
    job["status"] == "completed" || job["status"] == "cancelled"
}

#[test]
fn a_cluster_of_our_images_serves_both_platforms_and_loses_nothing() {
    let _one = serial();
    let cluster = ClusterScript::new();
    let started = std::time::Instant::now();
    let up = cluster.run("up");
    assert!(up.status.success(), "{}", text(&up));
    let pi = text(&up).contains("Raspberry Pi 4 worker (aarch64");
    if !pi {
        assert!(
            std::env::var_os("LPDNN_REQUIRE_CROSS").is_none(),
            "no Pi worker: {}",
            text(&up)
        );
    }
    let (one, two) = (cluster.url(1), cluster.url(2));

    // Both platforms, each through the other front end.
    let x86 = submit(&one, "x86_64-linux", "duration=1");
    let arm = pi.then(|| submit(&two, "raspberry-pi-4b", "duration=1"));
    let done = until(&two, &x86, ended);
    assert_eq!(done["result"], "passed", "{done}");
    eprintln!(
        "figure: cluster up to the first completed job: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if let Some(arm) = arm {
        let done = until(&one, &arm, ended);
        assert_eq!(done["result"], "passed", "{done}");
        let (_, report) = curl(&[&format!("{one}/v1/jobs/{arm}/result")]);
        assert_eq!(
            report["provenance"]["host"]["emulated_on"], "x86_64",
            "the Pi's figures say they were emulated"
        );
    }

    // A worker container killed mid-job: the other x86_64 worker runs it.
    let id = submit(&one, "x86_64-linux", "duration=8");
    let running = until(&one, &id, |j| {
        j["status"] == "running" && j["progress"]["phase"] == "steady"
    });
    let worker = running["worker"].as_str().unwrap().to_owned();
    let (victim, other) = if worker.starts_with("x86_64-1-") {
        ("x86_64-1", "x86_64-2-")
    } else {
        ("x86_64-2", "x86_64-1-")
    };
    let killed = cluster.podman(&["kill", &format!("lpdnn-worker-{victim}-{}", cluster.port)]);
    assert!(killed.status.success(), "{}", text(&killed));
    let done = until(&two, &id, ended);
    assert_eq!(done["result"], "passed", "{done}");
    assert_eq!(done["attempts"], 2, "{done}");
    assert!(
        done["worker"].as_str().unwrap().starts_with(other),
        "{done}"
    );

    // A front end stopped with jobs in flight: the other answers for all.
    let ids: Vec<String> = (0..3)
        .map(|_| submit(&one, "x86_64-linux", "duration=1"))
        .collect();
    let stopped = cluster.podman(&[
        "stop",
        "--time",
        "5",
        &format!("lpdnn-serve-1-{}", cluster.port),
    ]);
    assert!(stopped.status.success(), "{}", text(&stopped));
    for id in &ids {
        let done = until(&two, id, ended);
        assert_eq!(done["result"], "passed", "{done}");
        assert_eq!(done["attempts"], 1, "{done}");
    }
}
