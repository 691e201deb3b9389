//! Benchmarking a remote target, as the seed's `benchmark-analyzer
//! --target-config --deployment-package` does: the deployment package and
//! the dataset are copied to the target over SSH (the package once, kept by
//! its hash), the package's own `lpdnn-host benchmark` runs there with its
//! progress streamed back, and the result files come back to this machine.
//!
//! SSH is the system's OpenSSH client (`ssh`), so the user's keys, agent,
//! `~/.ssh/config` and known hosts work as they do in a terminal; files
//! travel as tar streams on its standard input and output (the target needs
//! `sh` and `tar`, which every Linux board image has).

#![warn(missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use lpdnn_bench_api::{BenchRequest, ChildEvent};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The dataset's folder in a run's folder there.
const DATASET: &str = "dataset";
/// The result's file in a run's folder there.
const RESULT: &str = "result.json";

/// Errors of a remote benchmark.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The target config cannot be read or is wrong.
    #[error("target config {path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The package cannot go to this target.
    #[error("{0}")]
    Package(String),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A step on the target failed.
    #[error("{target}: {step} failed ({status}){}", detail(.stderr))]
    Step {
        /// `user@host:port`.
        target: String,
        /// What was being done.
        step: String,
        /// How ssh ended.
        status: String,
        /// The end of what it said.
        stderr: String,
    },
}

fn detail(stderr: &str) -> String {
    let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &tail[tail.len().saturating_sub(3)..];
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {}", tail.join(" | "))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RemoteError + '_ {
    move |source| RemoteError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A target config file (`--target-config`): how to reach the board and
/// which platform it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Host name or address.
    pub host: String,
    /// SSH port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// User to log in as.
    pub user: String,
    /// Private key file (relative to the config file); default: ssh's own
    /// choice (agent, ~/.ssh/id_*).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Known-hosts file (relative to the config file) checked strictly;
    /// default: ssh's own, a new host's key accepted on first use.
    #[serde(default)]
    pub known_hosts: Option<PathBuf>,
    /// The board's descriptor (`lpdnn-host platform list`).
    pub platform: String,
    /// Folder on the target for packages and runs (relative to the login
    /// folder unless absolute).
    #[serde(default = "default_workdir")]
    pub workdir: String,
    /// Environment variables for lpdnn-host there (e.g. `LD_LIBRARY_PATH`
    /// for a vendor SDK).
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
}

fn default_port() -> u16 {
    22
}

fn default_workdir() -> String {
    "lpdnn-host".into()
}

impl TargetConfig {
    /// Reads a target config; relative key and known-hosts paths are made
    /// relative to its folder. Errors name the file and the field.
    pub fn load(path: &Path) -> Result<TargetConfig, RemoteError> {
        let fail = |message: String| RemoteError::Config {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let de = &mut serde_json::Deserializer::from_str(&text);
        let mut c: TargetConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            if field == "." {
                fail(e.into_inner().to_string())
            } else {
                fail(format!("{field}: {}", e.into_inner()))
            }
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for (field, p) in [("key", &mut c.key), ("known_hosts", &mut c.known_hosts)] {
            if let Some(p) = p {
                *p = base.join(&*p);
                if !p.is_file() {
                    return Err(fail(format!("{field}: {} does not exist", p.display())));
                }
            }
        }
        if c.host.is_empty() || c.host.starts_with('-') {
            return Err(fail(format!("host: {:?} is not a host name", c.host)));
        }
        if c.user.is_empty() || c.user.starts_with('-') || c.user.contains('@') {
            return Err(fail(format!("user: {:?} is not a user name", c.user)));
        }
        if lpdnn_platforms::Descriptor::named(&c.platform).is_none() {
            return Err(fail(format!(
                "platform: {:?} is not a known platform (lpdnn-host platform list)",
                c.platform
            )));
        }
        for k in c.env.keys() {
            let ok = !k.is_empty()
                && !k.starts_with(|c: char| c.is_ascii_digit())
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                return Err(fail(format!("env: {k:?} is not a variable name")));
            }
        }
        Ok(c)
    }

    /// `user@host:port`.
    pub fn label(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }

    /// `ssh` to the target, with `remote` as the command line there.
    fn ssh(&self, remote: &str) -> Command {
        let mut c = Command::new("ssh");
        c.args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=15"]);
        c.args(["-o", "ServerAliveInterval=15", "-p"]);
        c.arg(self.port.to_string());
        if let Some(k) = &self.key {
            c.arg("-i").arg(k).args(["-o", "IdentitiesOnly=yes"]);
        }
        match &self.known_hosts {
            Some(kh) => {
                c.arg("-o")
                    .arg(format!("UserKnownHostsFile={}", kh.display()))
                    .args(["-o", "StrictHostKeyChecking=yes"]);
            }
            None => {
                c.args(["-o", "StrictHostKeyChecking=accept-new"]);
            }
        }
        c.arg(format!("{}@{}", self.user, self.host))
            .arg("--")
            .arg(remote);
        c
    }
}

fn quote(s: &str) -> String {
    shlex::try_quote(s).map_or_else(|_| "''".into(), |q| q.into_owned())
}

/// Writes what a step sends to the target (a tar stream).
type Feed = dyn Fn(&mut dyn Write) -> std::io::Result<()>;

/// A remote benchmark to run.
#[derive(Debug, Clone)]
pub struct RemoteBenchmark {
    /// The target.
    pub target: TargetConfig,
    /// The deployment package folder.
    pub package: PathBuf,
    /// The app: a name in the package, or a local app whose name is one.
    pub app: String,
    /// The dataset folder.
    pub dataset: PathBuf,
    /// Where the result goes (`X.json`, `X.html`, `X.results.txt`), if
    /// anywhere.
    pub filename: Option<PathBuf>,
    /// The benchmark's settings, as asked here: its subject, dataset and
    /// result file are the target's copies when it runs there.
    pub request: BenchRequest,
}

/// What happened.
#[derive(Debug)]
pub struct Outcome {
    /// How the remote benchmark exited.
    pub status: ExitStatus,
    /// Result files written here.
    pub written: Vec<PathBuf>,
    /// Whether the package was copied (false: the target had it).
    pub copied_package: bool,
}

/// What the caller sees while it runs.
pub enum Event<'a> {
    /// A step begins.
    Step(&'a str),
    /// A progress line of the benchmark there.
    Progress(lpdnn_bench_api::Progress),
    /// Any other line of its standard output (the text report).
    Line(&'a str),
    /// A line of its standard error (warnings, its error message).
    Stderr(&'a str),
}

fn sha256_file(path: &Path) -> Result<String, RemoteError> {
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(io(path))?;
    Ok(hex::encode(h.finalize()))
}

impl RemoteBenchmark {
    fn step_error(&self, step: &str, status: ExitStatus, stderr: String) -> RemoteError {
        RemoteError::Step {
            target: self.target.label(),
            step: step.into(),
            status: match status.code() {
                Some(255) => {
                    "exit 255: ssh could not connect or log in, or the command there failed so"
                        .into()
                }
                Some(c) => format!("exit {c}"),
                None => "killed by a signal".into(),
            },
            stderr,
        }
    }

    /// Runs `remote` there, feeding `input` (a tar stream) if any; returns
    /// its standard output.
    fn call(&self, step: &str, remote: &str, input: Option<&Feed>) -> Result<Vec<u8>, RemoteError> {
        let mut child = self
            .target
            .ssh(remote)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| RemoteError::Package(format!("cannot start ssh: {e}")))?;
        let stderr = drain(child.stderr.take());
        let stdout = drain(child.stdout.take());
        let fed = match (input, child.stdin.take()) {
            (Some(f), Some(mut stdin)) => f(&mut stdin),
            _ => Ok(()),
        };
        let status = child.wait().map_err(io(Path::new("ssh")))?;
        let (out, err) = (join(stdout), join(stderr));
        if !status.success() || fed.is_err() {
            return Err(self.step_error(step, status, String::from_utf8_lossy(&err).into()));
        }
        Ok(out)
    }

    /// Copies, runs and fetches; `on` sees the steps, the progress and the
    /// report's lines.
    pub fn run(&self, on: &mut dyn FnMut(Event<'_>)) -> Result<Outcome, RemoteError> {
        // The package: checked here, and for this target.
        let verified = lpdnn_package::verify(&self.package)
            .map_err(|e| RemoteError::Package(format!("the deployment package: {e}")))?;
        let want = lpdnn_platforms::Descriptor::named(&self.target.platform)
            .expect("checked when the config was read");
        if verified.package.target != want.target_triple {
            return Err(RemoteError::Package(format!(
                "the deployment package {} is built for {}, the target's platform {} needs {}",
                self.package.display(),
                verified.package.target,
                want.name,
                want.target_triple
            )));
        }
        let app = verified
            .runtime
            .apps
            .iter()
            .find(|a| a.name == self.app)
            .ok_or_else(|| {
                let names: Vec<&str> = verified
                    .runtime
                    .apps
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect();
                RemoteError::Package(format!(
                    "the package has no app {:?} (it has {})",
                    self.app,
                    names.join(", ")
                ))
            })?;
        if !self.dataset.is_dir() {
            return Err(RemoteError::Package(format!(
                "the dataset {} is not a folder",
                self.dataset.display()
            )));
        }
        let hash = sha256_file(&self.package.join("package.yml"))?;
        on(Event::Step("connecting"));
        // The work folder as an absolute path there (runs `cd` into theirs).
        let w = self.call(
            "creating the work folder",
            &format!("mkdir -p {0} && cd {0} && pwd", quote(&self.target.workdir)),
            None,
        )?;
        let w_there = String::from_utf8_lossy(&w).trim().to_owned();
        let w = quote(&w_there);
        let pkg_there = format!("{w_there}/packages/{}", &hash[..16]);
        let pkg = quote(&pkg_there);
        let run_id = format!(
            "run-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        );
        let run = format!("{w}/runs/{run_id}");

        let present = self.call(
            "looking for the package",
            &format!("test -f {pkg}/package.yml && echo present || echo absent"),
            None,
        )?;
        let copied_package = !String::from_utf8_lossy(&present).contains("present");
        // Every lpdnn-host there runs with the target's environment.
        let mut env = String::from("env");
        for (k, v) in &self.target.env {
            env.push_str(&format!(" {k}={}", quote(v)));
        }
        if copied_package {
            on(Event::Step("copying the deployment package"));
            let dir = self.package.clone();
            self.call(
                "copying the deployment package",
                &format!(
                    "rm -rf {pkg}.part && mkdir -p {pkg}.part && tar -C {pkg}.part -xf - && \
                     {env} {pkg}.part/bin/lpdnn-host package verify {pkg}.part >/dev/null && \
                     rm -rf {pkg} && mv {pkg}.part {pkg}"
                ),
                Some(&move |w: &mut dyn Write| tar_folder(&dir, w)),
            )?;
        }
        on(Event::Step("copying the dataset"));
        let data = self.dataset.clone();
        self.call(
            "copying the dataset",
            &format!("mkdir -p {run}/{DATASET} && tar -C {run}/{DATASET} -xf -"),
            Some(&move |w: &mut dyn Write| tar_folder(&data, w)),
        )?;

        on(Event::Step("running the benchmark"));
        // The settings travel as the child's request, on its standard
        // input; the paths in it are the target's.
        let mut request = self.request.clone();
        request.subject = Path::new(&pkg_there).join(&app.app);
        request.dataset = Some(DATASET.into());
        request.filename = self.filename.as_ref().map(|_| RESULT.into());
        let cmd = format!("cd {run} && exec {env} {pkg}/bin/lpdnn-host benchmark-child");
        let mut child = self
            .target
            .ssh(&cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| RemoteError::Package(format!("cannot start ssh: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            let json = request.to_json();
            std::thread::spawn(move || {
                let _ = stdin.write_all(&json);
            });
        }
        let stderr = drain(child.stderr.take());
        stream(&mut child, on);
        let status = child.wait().map_err(io(Path::new("ssh")))?;
        let err = String::from_utf8_lossy(&join(stderr)).into_owned();
        if status.code() == Some(255) {
            return Err(self.step_error("running the benchmark", status, err));
        }
        // The benchmark's own errors (exit 1, 2) reach the user as its
        // last stderr lines; the result files, when any, still come back.
        for l in err.lines().filter(|l| !l.trim().is_empty()) {
            on(Event::Stderr(l));
        }

        let mut written = Vec::new();
        if let Some(filename) = &self.filename {
            on(Event::Step("fetching the result"));
            let tarball = self.call(
                "fetching the result",
                &format!(
                    "cd {run} && tar -cf - $(ls {} 2>/dev/null)",
                    BenchRequest::result_files(Path::new(RESULT))
                        .map(|f| quote(&f.to_string_lossy()))
                        .join(" ")
                ),
                None,
            );
            if let Ok(bytes) = tarball {
                written = place_results(&bytes, filename)?;
            }
        }
        let _ = self.call("cleaning up", &format!("rm -rf {run}"), None);
        Ok(Outcome {
            status,
            written,
            copied_package,
        })
    }
}

/// Reads a pipe to its end in a thread.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

fn join(h: std::thread::JoinHandle<Vec<u8>>) -> Vec<u8> {
    h.join().unwrap_or_default()
}

/// Splits the benchmark's standard output into progress and report lines.
fn stream(child: &mut Child, on: &mut dyn FnMut(Event<'_>)) {
    let Some(out) = child.stdout.take() else {
        return;
    };
    for line in BufReader::new(out).lines().map_while(Result::ok) {
        match ChildEvent::parse(&line) {
            Some(ChildEvent::Progress(p)) => on(Event::Progress(p)),
            // The files are the request's; fetched by name afterwards.
            Some(ChildEvent::Written { .. }) => {}
            None => on(Event::Line(&line)),
        }
    }
}

/// A folder as a tar stream (files and folders only; links are refused).
fn tar_folder(dir: &Path, w: &mut dyn Write) -> std::io::Result<()> {
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(false);
    b.append_dir_all(".", dir)?;
    b.finish()
}

/// Unpacks the fetched result files and moves each into place beside
/// `filename` (`X.json`, `X.html`, `X.results.txt`), one rename each.
fn place_results(tarball: &[u8], filename: &Path) -> Result<Vec<PathBuf>, RemoteError> {
    let parent = filename
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(".lpdnn-remote-")
        .tempdir_in(parent)
        .map_err(io(parent))?;
    tar::Archive::new(tarball)
        .unpack(tmp.path())
        .map_err(io(tmp.path()))?;
    let stem = filename.with_extension("");
    let mut written = Vec::new();
    for (name, ext) in [
        ("result.json", "json"),
        ("result.html", "html"),
        ("result.results.txt", "results.txt"),
    ] {
        let from = tmp.path().join(name);
        if from.is_file() {
            let to = PathBuf::from(format!("{}.{ext}", stem.display()));
            std::fs::rename(&from, &to).map_err(io(&to))?;
            written.push(to);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_mistake_names_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        let check = |text: &str, expected: &str| {
            std::fs::write(&p, text).unwrap();
            let e = TargetConfig::load(&p).unwrap_err().to_string();
            assert!(e.contains("t.json") && e.contains(expected), "{e}");
        };
        check(
            r#"{"host": "b", "user": "u", "platform": "raspberry-pi-4b", "prot": 2}"#,
            "prot",
        );
        check(
            r#"{"host": "b", "user": "u", "platform": "raspi"}"#,
            "platform: \"raspi\"",
        );
        check(
            r#"{"host": "b", "user": "u", "platform": "x86_64-linux", "port": 70000}"#,
            "port:",
        );
        check(
            r#"{"host": "-oProxyCommand=x", "user": "u", "platform": "x86_64-linux"}"#,
            "host:",
        );
        check(
            r#"{"host": "b", "user": "u", "platform": "x86_64-linux", "key": "nokey"}"#,
            "key:",
        );
        check(
            r#"{"host": "b", "user": "u", "platform": "x86_64-linux", "env": {"A B": "1"}}"#,
            "env:",
        );
    }

    #[test]
    fn results_land_beside_the_filename_under_its_stem() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        for (name, body) in [("result.json", "{}"), ("result.html", "<p>")] {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, body.as_bytes()).unwrap();
        }
        let bytes = b.into_inner().unwrap();
        let written = place_results(&bytes, &dir.path().join("out/face.json")).unwrap();
        assert_eq!(written.len(), 2);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out/face.json")).unwrap(),
            "{}"
        );
        assert!(dir.path().join("out/face.html").is_file());
        let left: Vec<_> = std::fs::read_dir(dir.path().join("out")).unwrap().collect();
        assert_eq!(left.len(), 2, "no staging folder is left");
    }
}
