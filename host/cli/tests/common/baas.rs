//! A real `serve` (and remote workers) on loopback ports, and curl.
//!
//! With `LPDNN_TEST_BAAS=cluster` every `serve` runs on a real nats-server
//! and a real PostgreSQL started for it (`--nats URL --postgres URL`), its
//! own worker a NATS worker: the same tests on the distributed back end.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::root;

/// A running `serve` or `worker`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    /// Its data (taken to start another server on it).
    pub data: Option<Data>,
}

/// What a service keeps: its folder and, on the distributed back end, its
/// NATS and PostgreSQL servers.
pub struct Data {
    pub dir: tempfile::TempDir,
    pub cluster: Option<std::sync::Arc<Cluster>>,
}

/// The servers of the distributed back end.
pub struct Cluster {
    pub nats: std::sync::Mutex<lpdnn_test_servers::Nats>,
    pub pg: lpdnn_test_servers::Postgres,
    nats_url: String,
}

impl Cluster {
    pub fn start() -> Cluster {
        let nats = lpdnn_test_servers::Nats::start().unwrap();
        Cluster {
            nats_url: nats.url(),
            nats: std::sync::Mutex::new(nats),
            pg: lpdnn_test_servers::Postgres::start().unwrap(),
        }
    }

    pub fn nats_url(&self) -> &str {
        &self.nats_url
    }
}

impl Data {
    /// A new folder; on the distributed back end, new servers too.
    pub fn new() -> Data {
        let cluster = (std::env::var("LPDNN_TEST_BAAS").as_deref() == Ok("cluster"))
            .then(|| std::sync::Arc::new(Cluster::start()));
        Data {
            dir: tempfile::tempdir().unwrap(),
            cluster,
        }
    }

    /// A new folder on `cluster`'s servers (another front end of one
    /// service).
    pub fn on(cluster: &std::sync::Arc<Cluster>) -> Data {
        Data {
            dir: tempfile::tempdir().unwrap(),
            cluster: Some(cluster.clone()),
        }
    }

    /// The back end's arguments.
    fn args(&self) -> Vec<String> {
        let mut args = vec!["--data".to_owned(), self.dir.path().display().to_string()];
        if let Some(c) = &self.cluster {
            args.extend([
                "--nats".into(),
                c.nats_url.clone(),
                "--postgres".into(),
                c.pg.url(),
            ]);
        }
        args
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(extra: &[&str]) -> Server {
    serve_in(Data::new(), extra)
}

/// The first line the child prints.
fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line
}

pub fn serve_in(data: Data, extra: &[&str]) -> Server {
    serve_with(data, extra, |_| {})
}

/// `serve_in` with the command adjusted by `adjust` before it starts
/// (its environment, its limits).
pub fn serve_with(data: Data, extra: &[&str], adjust: impl FnOnce(&mut Command)) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lpdnn-host"));
    command.arg("serve");
    adjust(&mut command);
    start(command, data, extra)
}

/// The front end alone, `lpdnn-serve` (built beside `lpdnn-host` by
/// `cargo test --workspace`), with `extra` arguments.
pub fn serve_front(extra: &[&str]) -> Server {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_lpdnn-host")).with_file_name("lpdnn-serve");
    assert!(
        bin.is_file(),
        "{} is missing: build it (cargo build -p lpdnn-serve, or test the workspace)",
        bin.display()
    );
    start(Command::new(bin), Data::new(), extra)
}

/// Starts a server command on a loopback port over `data`; its first line
/// gives its address.
fn start(mut command: Command, data: Data, extra: &[&str]) -> Server {
    command
        .args(["--bind", "127.0.0.1:0"])
        .args(data.args())
        .args(extra)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command.spawn().unwrap();
    let line = first_line(&mut child);
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_owned();
    Server {
        child,
        url,
        data: Some(data),
    }
}

/// `lpdnn-host worker --server URL` with `extra` arguments; its `url` is
/// its id.
pub fn worker(server: &str, extra: &[&str]) -> Server {
    worker_of(&["--server", server], extra)
}

/// `lpdnn-host worker --nats URL` with `extra` arguments; its `url` is its
/// id.
pub fn nats_worker(nats: &str, extra: &[&str]) -> Server {
    worker_of(&["--nats", nats], extra)
}

fn worker_of(service: &[&str], extra: &[&str]) -> Server {
    let cache = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lpdnn-host"))
        .arg("worker")
        .args(service)
        .arg("--cache")
        .arg(cache.path())
        .args(extra)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let line = first_line(&mut child);
    let id = line
        .trim()
        .strip_prefix("worker ")
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_owned();
    Server {
        child,
        url: id,
        data: Some(Data {
            dir: cache,
            cluster: None,
        }),
    }
}

/// curl: gives the status code and the JSON body (a string when it is
/// not JSON).
pub fn curl(args: &[&str]) -> (u16, Value) {
    let out = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}"])
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    let json = serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()));
    (code.parse().unwrap(), json)
}

/// Polls the job until it is completed or cancelled.
pub fn wait_for(base: &str, id: &str, headers: &[&str], limit: Duration) -> Value {
    let start = Instant::now();
    let url = format!("{base}/v1/jobs/{id}");
    loop {
        let mut args: Vec<&str> = headers.iter().flat_map(|h| ["-H", *h]).collect();
        args.push(&url);
        let (code, job) = curl(&args);
        assert_eq!(code, 200, "{job}");
        if job["status"] == "completed" || job["status"] == "cancelled" {
            return job;
        }
        assert!(start.elapsed() < limit, "job {id} still {job}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub const FACE: &str = "@assets/models/face_detection_short_range.onnx";

/// The platform this machine registers as.
pub fn platform() -> String {
    format!("{}-linux", std::env::consts::ARCH)
}

/// Waits until the catalog lists `platform` as up.
pub fn until_up(url: &str, platform: &str, headers: &[&str]) {
    let start = Instant::now();
    loop {
        let mut args: Vec<&str> = headers.iter().flat_map(|h| ["-H", *h]).collect();
        let devices = format!("{url}/v1/devices");
        args.push(&devices);
        let (_, d) = curl(&args);
        let up = d["devices"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|w| w["platform"] == platform && w["available"] == true);
        if up {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{d}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The profiling dataset's rows (`/v1/export?format=jsonl`).
pub fn export_rows(url: &str, headers: &[&str]) -> Vec<Value> {
    let mut args: Vec<&str> = headers.iter().flat_map(|h| ["-H", *h]).collect();
    let export = format!("{url}/v1/export?format=jsonl");
    args.push(&export);
    let (code, body) = curl(&args);
    assert_eq!(code, 200, "{body}");
    match body {
        Value::String(text) => text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        // One row parses as JSON on its own.
        one => vec![one],
    }
}
