//! One child process per job, under limits:
//!
//! - **rlimits** (`setrlimit` before `exec`): data segment (`RLIMIT_DATA`,
//!   which counts the memory a process writes to, not the address space
//!   wasmtime reserves for guard regions, so components still run), CPU
//!   seconds, open files, file size;
//! - a **wall-clock limit**, after which the child's process group is killed;
//! - its own **empty folder** as working directory, removed afterwards;
//! - **no network**: a new network namespace where the kernel allows it
//!   (`unshare(CLONE_NEWNET)` as root; otherwise inside a user namespace of
//!   its own that maps only its own user, as in an unprivileged container);
//! - **no secrets**: an environment of its own, with only the variables
//!   an engine reads ([`PASSED_ENV`]), never the worker's credentials;
//! - **a narrowed filesystem**: the child applies Landlock to itself at its
//!   start when given `--landlock` ([`crate::landlock`]).
//!
//! - **another user** when the worker is root: the child runs as
//!   [`JobUser`] (`nobody` by default), so it can read neither the worker's
//!   files nor its `/proc/PID/environ`.
//!
//! What applied is recorded in [`Isolation`], for the job's result.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lpdnn_bench_api::ChildEvent;
use serde::Serialize;

/// The limits of one run.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes of memory the child may write to (`RLIMIT_DATA`).
    pub memory_bytes: u64,
    /// CPU seconds (`RLIMIT_CPU`; SIGXCPU past it).
    pub cpu_seconds: u64,
    /// Wall-clock time before the child is killed.
    pub wall: Duration,
    /// Open file descriptors (`RLIMIT_NOFILE`).
    pub open_files: u64,
    /// Largest file it may write (`RLIMIT_FSIZE`).
    pub file_bytes: u64,
    /// The user the child runs as (a worker started as root only); `None`:
    /// the worker's own.
    pub user: Option<JobUser>,
}

/// A user and group id to run a job's child as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobUser {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl JobUser {
    /// `nobody:nogroup` (65534:65534).
    pub const NOBODY: JobUser = JobUser {
        uid: 65534,
        gid: 65534,
    };
}

/// Whether a user other than the owner may reach `path`: every folder
/// above it searchable by others, and it readable by others.
pub fn others_can_reach(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let readable = std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o004 != 0);
    readable
        && path
            .ancestors()
            .skip(1)
            .all(|dir| std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// The user a worker's jobs run as by default: `nobody` when the worker is
/// root and `nobody` can reach `binary` and the lpdnn `cache` (engines,
/// compiled components); `Ok(None)` when the worker is not root. `Err`
/// names the file `nobody` cannot reach, for which a root worker's jobs
/// must stay root.
pub fn default_job_user(
    binary: &Path,
    cache: &Path,
) -> Result<Option<JobUser>, std::path::PathBuf> {
    if !running_as_root() {
        return Ok(None);
    }
    for p in [binary, cache] {
        if p.exists() && !others_can_reach(p) {
            return Err(p.to_owned());
        }
    }
    Ok(Some(JobUser::NOBODY))
}

/// Marks this process (the worker) not dumpable: a process of the same
/// user without `CAP_SYS_PTRACE` (a job's child in a container, where both
/// are the image's user) can then read neither its `/proc/PID/environ`
/// (the service's address and token) nor its memory. Landlock alone does
/// not stop that read.
pub fn protect_worker() {
    // SAFETY: PR_SET_DUMPABLE takes an integer and changes only this
    // process's dumpable flag.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong);
    }
}

/// Reads a file the child left in its folder: never through a link (a
/// hostile child could point it at the worker's own secrets), only a
/// regular file, at most `limit` bytes (a FIFO or `/dev/zero` gets
/// nowhere).
pub fn read_child_file(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    if meta.len() > limit {
        return Err(std::io::Error::other(format!(
            "{} is larger than {limit} bytes",
            path.display()
        )));
    }
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Whether this process runs as root (effective user id 0).
pub fn running_as_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Gives `dir` and everything in it to `user`.
fn chown_tree(dir: &Path, user: JobUser) -> std::io::Result<()> {
    std::os::unix::fs::chown(dir, Some(user.uid), Some(user.gid))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            chown_tree(&entry.path(), user)?;
        } else {
            std::os::unix::fs::lchown(entry.path(), Some(user.uid), Some(user.gid))?;
        }
    }
    Ok(())
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 4 << 30,
            cpu_seconds: 1800,
            wall: Duration::from_secs(900),
            open_files: 256,
            file_bytes: 1 << 30,
            user: None,
        }
    }
}

/// Which measures applied to a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Isolation {
    /// rlimits set (memory, CPU, open files, file size).
    pub rlimits: bool,
    /// Ran in a new, empty network namespace.
    pub network_namespace: bool,
    /// Ran in its own temporary folder, removed afterwards.
    pub own_folder: bool,
    /// Killed at the wall-clock limit if it ran past it.
    pub wall_clock_limit: bool,
    /// How far Landlock narrowed its filesystem (as the child said;
    /// `null` when it did not say).
    pub landlock: Option<crate::landlock::Narrowed>,
    /// The user id it ran as.
    pub user: u32,
}

/// How the child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this status.
    Exited(i32),
    /// A signal ended it (not ours).
    Signal(i32),
    /// It ran past the wall-clock limit and was killed.
    TimedOut,
    /// The worker stopped it (the job was cancelled or its lease lost).
    Stopped,
}

/// A finished child.
#[derive(Debug, Clone)]
pub struct ChildRun {
    /// How it ended.
    pub ended: Ended,
    /// The end of its standard output (at most [`KEPT_BYTES`]).
    pub stdout: String,
    /// The end of its standard error (at most [`KEPT_BYTES`]).
    pub stderr: String,
    /// What applied.
    pub isolation: Isolation,
    /// How long it ran.
    pub wall: Duration,
}

/// The worker's environment variables a child gets (the rest, tokens and
/// service addresses among them, it never sees): where the engines and
/// caches are, the locale and the time zone, an emulated board's sysroot.
pub const PASSED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TZ",
    "LPDNN_CACHE",
    "LPDNN_ORT_LIB",
    "ORT_DYLIB_PATH",
    "LPDNN_NCNN_LIB",
    "LPDNN_LITERT_LIB",
    "LD_LIBRARY_PATH",
    "RUST_BACKTRACE",
    // The sysroot qemu-user loads an emulated board's binary with.
    "QEMU_LD_PREFIX",
    // OpenMP's threads (NCNN), as the operator tuned them.
    "OMP_NUM_THREADS",
    "OMP_PROC_BIND",
    "OMP_PLACES",
];

/// Writes `data` to the file at `path` (a NUL-terminated C path) with raw
/// system calls only: callable between fork and exec.
///
/// # Safety
/// `path` must be NUL-terminated.
unsafe fn write_proc(path: &[u8], data: &[u8]) -> bool {
    // SAFETY: `path` is NUL-terminated (the caller's promise); `data` is a
    // valid buffer of its length.
    unsafe {
        let fd = libc::open(path.as_ptr().cast(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return false;
        }
        let n = libc::write(fd, data.as_ptr().cast(), data.len());
        libc::close(fd);
        n == data.len() as isize
    }
}

/// Bytes of each output stream kept (the end of it).
pub const KEPT_BYTES: usize = 64 << 10;

/// Runs `program args` in a fresh folder under `limits`. `prepare` may put
/// files in the folder first (the model, the inputs); `collect` reads what
/// the child left there before the folder is removed.
pub fn run<T>(
    program: &Path,
    args: &[impl AsRef<OsStr>],
    limits: &Limits,
    prepare: impl FnOnce(&Path) -> std::io::Result<()>,
    collect: impl FnOnce(&Path) -> T,
) -> std::io::Result<(ChildRun, T)> {
    run_until(
        program,
        args,
        limits,
        &AtomicBool::new(false),
        prepare,
        collect,
    )
}

/// [`run`], killing the child as soon as `stop` is set.
pub fn run_until<T>(
    program: &Path,
    args: &[impl AsRef<OsStr>],
    limits: &Limits,
    stop: &AtomicBool,
    prepare: impl FnOnce(&Path) -> std::io::Result<()>,
    collect: impl FnOnce(&Path) -> T,
) -> std::io::Result<(ChildRun, T)> {
    run_watched(program, args, &[], limits, stop, None, prepare, collect)
}

/// The child's latest progress ([`ChildEvent::Progress`]), as JSON.
pub type Latest = Arc<Mutex<Option<String>>>;

/// [`run_until`], keeping in `latest` the child's last standard-output
/// progress event as it runs; `input` is what its standard input gets
/// (nothing: no standard input).
#[allow(clippy::too_many_arguments)]
pub fn run_watched<T>(
    program: &Path,
    args: &[impl AsRef<OsStr>],
    input: &[u8],
    limits: &Limits,
    stop: &AtomicBool,
    latest: Option<Latest>,
    prepare: impl FnOnce(&Path) -> std::io::Result<()>,
    collect: impl FnOnce(&Path) -> T,
) -> std::io::Result<(ChildRun, T)> {
    let folder = tempfile::Builder::new().prefix("lpdnn-job-").tempdir()?;
    prepare(folder.path())?;
    if let Some(user) = limits.user {
        chown_tree(folder.path(), user)?;
    }
    // The child says through this pipe whether it got its own network.
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let (read_end, write_end) = (fds[0], fds[1]);
    let l = limits.clone();
    let user = limits.user;
    // Where the child may not make a network namespace (no CAP_SYS_ADMIN:
    // an unprivileged container), it makes one inside a user namespace of
    // its own, where its ids show as nobody's: it keeps no capability after
    // exec. The maps are made here (no allocation after fork).
    // SAFETY: geteuid and getegid cannot fail.
    let (uid, gid) = user.map_or_else(
        || unsafe { (libc::geteuid(), libc::getegid()) },
        |u| (u.uid, u.gid),
    );
    let uid_map = format!("65534 {uid} 1\n").into_bytes();
    let gid_map = format!("65534 {gid} 1\n").into_bytes();
    let mut command = Command::new(program);
    command.env_clear();
    for var in PASSED_ENV {
        if let Some(v) = std::env::var_os(var) {
            command.env(var, v);
        }
    }
    command
        .args(args)
        .current_dir(folder.path())
        .env("TMPDIR", folder.path())
        .stdin(if input.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec the closure only calls async-signal-safe
    // functions (setpgid, prctl, setrlimit, unshare, setgroups, setgid,
    // setuid, open, write, close) on values it owns, allocating nothing.
    unsafe {
        command.pre_exec(move || {
            libc::setpgid(0, 0);
            let set = |resource, value: u64| {
                // A 32-bit board's rlim_t: past it is no limit there.
                let value = libc::rlim_t::try_from(value).unwrap_or(libc::RLIM_INFINITY);
                let lim = libc::rlimit {
                    rlim_cur: value,
                    rlim_max: value,
                };
                libc::setrlimit(resource, &lim) == 0
            };
            let rlimits = set(libc::RLIMIT_DATA, l.memory_bytes)
                & set(libc::RLIMIT_CPU, l.cpu_seconds)
                & set(libc::RLIMIT_NOFILE, l.open_files)
                & set(libc::RLIMIT_FSIZE, l.file_bytes);
            // While still the worker's user (root can), then drop to the
            // job's user: groups first, then the ids, each checked.
            let mut net = libc::unshare(libc::CLONE_NEWNET) == 0;
            if let Some(u) = user {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(u.gid) != 0
                    || libc::setuid(u.uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if !net {
                // A worker marked not dumpable leaves its child's
                // /proc/self to root until exec: the child maps its ids
                // there itself, then hides its copy of the worker's memory
                // again until exec.
                libc::prctl(libc::PR_SET_DUMPABLE, 1 as libc::c_ulong);
                if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) == 0 {
                    // The paths are NUL-terminated literals.
                    let mapped = write_proc(b"/proc/self/setgroups\0", b"deny")
                        && write_proc(b"/proc/self/uid_map\0", &uid_map)
                        && write_proc(b"/proc/self/gid_map\0", &gid_map);
                    if !mapped {
                        return Err(std::io::Error::last_os_error());
                    }
                    net = true;
                }
                libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong);
            }
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0);
            // A worker killed outright takes its benchmark with it (the
            // child leads its own process group, out of the worker's). Set
            // last: a change of ids clears it.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            let report = [u8::from(rlimits), u8::from(net)];
            libc::write(write_end, report.as_ptr().cast(), 2);
            Ok(())
        });
    }
    let start = Instant::now();
    let spawned = command.spawn();
    // SAFETY: our copy of the write end; the child's closes at exec.
    unsafe { libc::close(write_end) };
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            // SAFETY: the read end is ours.
            unsafe { libc::close(read_end) };
            return Err(e);
        }
    };
    let mut report = [0u8; 2];
    // SAFETY: reads at most 2 bytes into `report` from our read end.
    let got = unsafe { libc::read(read_end, report.as_mut_ptr().cast(), 2) };
    // SAFETY: the read end is ours.
    unsafe { libc::close(read_end) };
    // The child's request, then the end of its input (a child that dies
    // first makes the write fail; its exit says why).
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let readers = [
        child
            .stdout
            .take()
            .map(|s| std::thread::spawn(move || tail(s, latest))),
        child
            .stderr
            .take()
            .map(|s| std::thread::spawn(move || tail(s, None))),
    ];
    let ended = loop {
        if let Some(status) = child.try_wait()? {
            break match (status.code(), status.signal()) {
                (Some(code), _) => Ended::Exited(code),
                (None, Some(sig)) => Ended::Signal(sig),
                (None, None) => Ended::Exited(-1),
            };
        }
        let timed_out = start.elapsed() >= limits.wall;
        if timed_out || stop.load(Ordering::Relaxed) {
            // SAFETY: the child leads its own process group.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            child.wait()?;
            break if timed_out {
                Ended::TimedOut
            } else {
                Ended::Stopped
            };
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let wall = start.elapsed();
    // What the child left running in its group ends with it.
    // SAFETY: the child led its own process group.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let [stdout, stderr] = readers.map(|r| r.and_then(|h| h.join().ok()).unwrap_or_default());
    let collected = collect(folder.path());
    let landlock = read_child_file(&folder.path().join(crate::landlock::LANDLOCK_FILE), 4096)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let isolation = Isolation {
        rlimits: got == 2 && report[0] == 1,
        network_namespace: got == 2 && report[1] == 1,
        own_folder: true,
        wall_clock_limit: true,
        landlock,
        user: uid,
    };
    Ok((
        ChildRun {
            ended,
            stdout,
            stderr,
            isolation,
            wall,
        },
        collected,
    ))
}

/// Longest progress line kept; a longer one is not progress.
const LINE_BYTES: usize = 4096;

/// Reads a stream to its end, keeping its last [`KEPT_BYTES`], and in
/// `latest` its last progress line.
fn tail(mut stream: impl Read, latest: Option<Latest>) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Some(latest) = &latest {
                    for &b in &buf[..n] {
                        if b != b'\n' {
                            if line.len() <= LINE_BYTES {
                                line.push(b);
                            }
                            continue;
                        }
                        let progress = (line.len() <= LINE_BYTES)
                            .then(|| ChildEvent::parse(&String::from_utf8_lossy(&line)))
                            .flatten();
                        if let Some(ChildEvent::Progress(p)) = progress {
                            if let (Ok(text), Ok(mut l)) =
                                (serde_json::to_string(&p), latest.lock())
                            {
                                *l = Some(text);
                            }
                        }
                        line.clear();
                    }
                }
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > 2 * KEPT_BYTES {
                    kept.drain(..kept.len() - KEPT_BYTES);
                }
            }
        }
    }
    if kept.len() > KEPT_BYTES {
        kept.drain(..kept.len() - KEPT_BYTES);
    }
    String::from_utf8_lossy(&kept).into_owned()
}
