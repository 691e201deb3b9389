//! Real servers for tests: [`Nats`] (nats-server with JetStream) and
//! [`Postgres`], each started on a free loopback port in a temporary
//! folder, without systemd, and stopped when dropped. Both can be stopped
//! and started again on the same port and store (the restart tests).
//!
//! Where the binaries are: `nats-server` is `$LPDNN_NATS_SERVER`, else
//! `$LPDNN_CACHE/bin/nats-server` (the set-up puts the pinned release
//! there), else on `PATH`. PostgreSQL's are in `$LPDNN_PG_BIN`, else the
//! newest `/usr/lib/postgresql/*/bin` (Debian's layout), else on `PATH`.
//! `initdb` refuses to run as root: as root, the cluster belongs to the
//! `postgres` user (else `nobody`) and its commands run as that user.

#![warn(missing_docs)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why a server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The binary is not installed where it is looked for.
    #[error("{0} is not installed: run scripts/setup.sh --all")]
    Missing(&'static str),
    /// A command failed.
    #[error("{command}: {message}")]
    Failed {
        /// The command.
        command: String,
        /// What it said.
        message: String,
    },
    /// The server did not answer on its port in time.
    #[error("{0} did not start listening within 30 s; its log: {1}")]
    NotListening(&'static str, String),
    /// A file or process call failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A free TCP port on loopback (free when asked; a server takes it next).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something accepts connections on `port`, or 30 s.
fn until_listening(port: u16, child: &mut Option<Child>) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if let Some(c) = child {
            if let Ok(Some(_)) = c.try_wait() {
                return false;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A nats-server with JetStream on a loopback port, its store in a
/// temporary folder.
pub struct Nats {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Nats {
    /// The binary the tests run.
    pub fn binary() -> Result<PathBuf, ServerError> {
        if let Some(p) = std::env::var_os("LPDNN_NATS_SERVER") {
            return Ok(p.into());
        }
        let cache = std::env::var_os("LPDNN_CACHE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/lpdnn")));
        if let Some(p) = cache
            .map(|c| c.join("bin/nats-server"))
            .filter(|p| p.is_file())
        {
            return Ok(p);
        }
        on_path("nats-server").ok_or(ServerError::Missing("nats-server"))
    }

    /// Starts one.
    pub fn start() -> Result<Self, ServerError> {
        let mut nats = Nats {
            dir: tempfile::tempdir()?,
            port: free_port()?,
            child: None,
        };
        nats.resume()?;
        Ok(nats)
    }

    /// Its client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Its JetStream store folder.
    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// Stops it (SIGKILL when `kill`, else SIGTERM and a wait): clients see
    /// the connection drop.
    pub fn stop(&mut self, kill: bool) {
        stop_child(&mut self.child, kill);
    }

    /// Starts it again on the same port and store.
    pub fn resume(&mut self) -> Result<(), ServerError> {
        let log = self.dir.path().join("nats.log");
        let child = Command::new(Self::binary()?)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store())
            .arg("-l")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        if !until_listening(self.port, &mut self.child) {
            self.stop(true);
            return Err(ServerError::NotListening("nats-server", tail(&log)));
        }
        Ok(())
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop(true);
    }
}

fn stop_child(child: &mut Option<Child>, kill: bool) {
    if let Some(mut c) = child.take() {
        if !kill {
            // SAFETY: kill(2) on a child this handle owns and has not
            // reaped, so its pid is still its own.
            unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// A PostgreSQL cluster on a loopback port, in a temporary folder; its
/// `postgres` database, user `lpdnn`, trust authentication (loopback only).
pub struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
    /// The user its commands run as, when this process is root.
    owner: Option<String>,
}

impl Postgres {
    /// The folder of PostgreSQL's binaries.
    pub fn bin() -> Result<PathBuf, ServerError> {
        if let Some(p) = std::env::var_os("LPDNN_PG_BIN") {
            return Ok(p.into());
        }
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let v = e.file_name().to_str()?.parse().ok()?;
                let bin = e.path().join("bin");
                bin.join("initdb").is_file().then_some((v, bin))
            })
            .collect();
        versions.sort();
        if let Some((_, bin)) = versions.pop() {
            return Ok(bin);
        }
        on_path("initdb")
            .and_then(|p| p.parent().map(Path::to_owned))
            .ok_or(ServerError::Missing("PostgreSQL (initdb)"))
    }

    /// Creates a cluster and starts it.
    pub fn start() -> Result<Self, ServerError> {
        let bin = Self::bin()?;
        let dir = tempfile::tempdir()?;
        let owner = is_root().then(|| {
            if user_exists("postgres") {
                "postgres".to_owned()
            } else {
                "nobody".to_owned()
            }
        });
        if let Some(user) = &owner {
            run(Command::new("chown").arg(user).arg(dir.path()))?;
        }
        let pg = Postgres {
            dir,
            port: free_port()?,
            bin,
            owner,
        };
        let data = pg.data();
        run(pg
            .command("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "lpdnn",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(&data))?;
        pg.resume()?;
        Ok(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A command of PostgreSQL's, run as the cluster's owner.
    fn command(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        match &self.owner {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    /// Its connection URL.
    pub fn url(&self) -> String {
        format!("postgres://lpdnn@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts it (again) on its port and data.
    pub fn resume(&self) -> Result<(), ServerError> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-o", &options, "-w", "-t", "60", "-l"])
            .arg(self.dir.path().join("postgres.log"))
            .arg("start"))?;
        if !until_listening(self.port, &mut None) {
            return Err(ServerError::NotListening(
                "PostgreSQL",
                tail(&self.dir.path().join("postgres.log")),
            ));
        }
        Ok(())
    }

    /// Stops it: `fast` closes every connection and shuts down cleanly,
    /// else `immediate` (as a crash).
    pub fn stop(&self, fast: bool) -> Result<(), ServerError> {
        run(self.command("pg_ctl").arg("-D").arg(self.data()).args([
            "-w",
            "-m",
            if fast { "fast" } else { "immediate" },
            "stop",
        ]))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.stop(false);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .arg("-u")
        .arg(name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(command: &mut Command) -> Result<(), ServerError> {
    let out = command.stdin(Stdio::null()).output()?;
    if out.status.success() {
        return Ok(());
    }
    Err(ServerError::Failed {
        command: format!("{command:?}"),
        message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_servers_start_answer_and_start_again_on_the_same_port() {
        let mut nats = Nats::start().unwrap();
        let port = nats.url();
        nats.stop(false);
        nats.resume().unwrap();
        assert_eq!(nats.url(), port);
        assert!(nats.store().join("jetstream").is_dir());

        let pg = Postgres::start().unwrap();
        let psql = |sql: &str| {
            Command::new(pg.bin.join("psql"))
                .args([&pg.url(), "-tAc", sql])
                .output()
                .unwrap()
        };
        assert_eq!(psql("SELECT 1 + 1").stdout.trim_ascii(), b"2");
        pg.stop(true).unwrap();
        assert!(!psql("SELECT 1").status.success());
        pg.resume().unwrap();
        assert_eq!(psql("SELECT 2 + 2").stdout.trim_ascii(), b"4");
    }
}
