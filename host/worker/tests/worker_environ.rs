//! A job's child and its worker run as one user inside a container (the
//! image's). The worker's `/proc/PID/environ` holds its credentials. Where
//! the kernel has Landlock, the narrowed child cannot read it; where it has
//! none (an older kernel, qemu-user), the worker's own mark does it: it is
//! not dumpable ([`lpdnn_worker::sandbox::protect_worker`]), so a child of
//! the same user cannot read it. This tests the mark alone (no Landlock).

use std::path::Path;
use std::process::Command;

const ROLE: &str = "LPDNN_PROC_PROBE";
const NAME: &str = "a_child_of_the_same_user_cannot_read_a_protected_workers_environment";

/// The worker's part: protect itself, then start the child and pass on
/// what it saw.
fn worker() {
    lpdnn_worker::sandbox::protect_worker();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--nocapture", "--test-threads", "1"])
        .env(ROLE, "child")
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

/// The child's part: try to read the worker's environment and its own
/// status.
fn child() {
    let worker = std::os::unix::process::parent_id();
    let theirs = std::fs::read(format!("/proc/{worker}/environ"));
    let own = std::fs::read("/proc/self/status");
    println!(
        "RESULT worker_environ={} own_status={}",
        theirs.is_ok(),
        own.is_ok()
    );
}

#[test]
fn a_child_of_the_same_user_cannot_read_a_protected_workers_environment() {
    match std::env::var(ROLE).as_deref() {
        Ok("worker") => return worker(),
        Ok("child") => return child(),
        _ => {}
    }
    // Both as an unprivileged user, as in a container: root may read any
    // process's environment whatever it is marked.
    let scratch = tempfile::tempdir().unwrap();
    let exe = scratch.path().join("probe");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    let mut command = if lpdnn_worker::sandbox::running_as_root() {
        use std::os::unix::fs::PermissionsExt;
        for p in [scratch.path(), exe.as_path()] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut c = Command::new("setpriv");
        c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    let out = command
        .args(["--exact", NAME, "--nocapture", "--test-threads", "1"])
        .env(ROLE, "worker")
        .current_dir(Path::new("/"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("RESULT worker_environ=false own_status=true"),
        "{text}"
    );
}
