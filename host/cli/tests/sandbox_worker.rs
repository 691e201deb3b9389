//! The worker's sandbox around a real `lpdnn-host benchmark`: a normal
//! model passes; a model that needs more memory than the limit, and a run
//! past the time limit, each fail their job with the right kind, and the
//! next run is unaffected. The child gets no network.

mod common;

use std::path::Path;
use std::time::Duration;

use common::root;
use lpdnn_baas_api::FailureKind;
use lpdnn_worker::{classify, sandbox, Ended, Limits};

fn host() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lpdnn-host"))
}

/// Benchmarks `model` (copied into the job's folder) in the sandbox; gives
/// the run and the report the child wrote, if any.
fn job(
    model: &str,
    extra: &[&str],
    limits: &Limits,
) -> (sandbox::ChildRun, Option<serde_json::Value>) {
    let file = Path::new(model)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let mut args = vec![
        "benchmark".to_owned(),
        file.clone(),
        "--filename".into(),
        "report.json".into(),
        "--no-monitors".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    sandbox::run(
        host(),
        &args,
        limits,
        |dir| std::fs::copy(root().join(model), dir.join(&file)).map(|_| ()),
        |dir| {
            std::fs::read(dir.join("report.json"))
                .ok()
                .map(|b| serde_json::from_slice(&b).unwrap())
        },
    )
    .unwrap()
}

fn limits(memory_mib: u64, wall_s: u64) -> Limits {
    Limits {
        memory_bytes: memory_mib << 20,
        wall: Duration::from_secs(wall_s),
        ..Limits::default()
    }
}

#[test]
fn hostile_models_fail_their_job_with_the_right_kind_and_the_next_passes() {
    let face = "assets/models/face_detection_short_range.onnx";
    let normal = limits(1024, 120);
    let (run, report) = job(face, &["--number", "5", "--engine", "onnxruntime"], &normal);
    assert_eq!(run.ended, Ended::Exited(0), "{}", run.stderr);
    assert!(classify(&run, &normal).is_ok());
    assert!(run.isolation.rlimits && run.isolation.own_folder);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        assert!(
            run.isolation.network_namespace,
            "root may unshare the network"
        );
    }
    let report = report.expect("the report is written in the job's folder");
    assert_eq!(report["runs"][0]["phases"]["steady"]["iterations"], 5);

    // Needs 1 GiB for its output (3 GiB resident unconstrained): over the
    // limit on both engines, a user error that names the limit.
    let hostile = "tests/hostile/models/output_1gib.onnx";
    for engine in ["onnxruntime", "lne"] {
        let (run, report) = job(hostile, &["--number", "1", "--engine", engine], &normal);
        let failure = classify(&run, &normal).expect_err("over the memory limit");
        assert_eq!(
            failure.kind,
            FailureKind::UserError,
            "{engine}: {failure:?}"
        );
        assert!(
            failure.message.contains("memory limit of 1024 MiB"),
            "{engine}: {failure:?}\n{}",
            run.stderr
        );
        assert!(report.is_none_or(|r| r["runs"].as_array().unwrap().is_empty()));
    }

    // Past the wall-clock limit: killed, a timeout.
    let short = limits(1024, 2);
    let (run, _) = job(
        face,
        &["--duration", "60", "--engine", "onnxruntime"],
        &short,
    );
    assert_eq!(run.ended, Ended::TimedOut);
    assert!(run.wall < Duration::from_secs(10), "{:?}", run.wall);
    let failure = classify(&run, &short).unwrap_err();
    assert_eq!(failure.kind, FailureKind::Timeout);
    assert!(failure.message.contains("time limit of 2 s"), "{failure:?}");

    // The worker carries on: the next job passes.
    let (run, report) = job(face, &["--number", "2", "--engine", "lne"], &normal);
    assert_eq!(run.ended, Ended::Exited(0), "{}", run.stderr);
    assert!(report.is_some());
}

#[test]
fn the_child_has_no_network_but_loopback() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: not root, so no network namespace here");
        return;
    }
    let (run, ()) = sandbox::run(
        Path::new("/bin/cat"),
        &["/proc/net/dev"],
        &Limits::default(),
        |_| Ok(()),
        |_| (),
    )
    .unwrap();
    assert_eq!(run.ended, Ended::Exited(0));
    let interfaces: Vec<&str> = run
        .stdout
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(interfaces, ["lo"], "{}", run.stdout);
}

/// Whether this kernel has Landlock (its ABI version, from the syscall).
fn kernel_has_landlock() -> bool {
    // SAFETY: landlock_create_ruleset(NULL, 0, VERSION) only reads its flags.
    unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, 0usize, 0usize, 1u32) > 0 }
}

#[test]
fn with_landlock_the_child_runs_but_cannot_read_outside_its_folder() {
    let face = "assets/models/face_detection_short_range.onnx";
    let (run, report) = job(face, &["--landlock", "--number", "3"], &limits(4096, 120));
    assert_eq!(run.ended, Ended::Exited(0), "{}", run.stderr);
    assert!(report.is_some());
    let expected = if kernel_has_landlock() {
        lpdnn_worker::landlock::Narrowed::Full
    } else {
        lpdnn_worker::landlock::Narrowed::None
    };
    assert_eq!(run.isolation.landlock, Some(expected));

    // Inputs from a folder outside the job's: refused by the kernel with
    // landlock, read (and found wanting) without.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("input.npy"), b"not npy").unwrap();
    let inputs = outside.path().display().to_string();
    let (plain, _) = job(face, &["--inputs", &inputs], &limits(4096, 120));
    assert_eq!(plain.ended, Ended::Exited(1), "{}", plain.stderr);
    assert!(
        !plain.stderr.contains("Permission denied"),
        "{}",
        plain.stderr
    );
    if kernel_has_landlock() {
        let (narrowed, _) = job(
            face,
            &["--landlock", "--inputs", &inputs],
            &limits(4096, 120),
        );
        assert_eq!(narrowed.ended, Ended::Exited(1), "{}", narrowed.stderr);
        assert!(
            narrowed.stderr.contains("Permission denied"),
            "{}",
            narrowed.stderr
        );
    }
}

#[test]
fn the_child_sees_none_of_the_workers_secrets() {
    // The worker's own credentials, as a deployment gives them.
    std::env::set_var("LPDNN_WORKER_TOKEN", "worker-secret-123");
    std::env::set_var("LPDNN_NATS_URL", "nats://lpdnn:nats-secret@10.0.0.2:4222");
    let (run, ()) = sandbox::run(
        Path::new("/usr/bin/env"),
        &[] as &[&str],
        &Limits::default(),
        |_| Ok(()),
        |_| (),
    )
    .unwrap();
    assert_eq!(run.ended, Ended::Exited(0), "{}", run.stderr);
    let names: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.split('=').next())
        .collect();
    assert!(!run.stdout.contains("secret"), "{}", run.stdout);
    assert!(
        names.contains(&"TMPDIR") && names.contains(&"PATH"),
        "{names:?}"
    );
    for name in &names {
        assert!(
            *name == "TMPDIR" || sandbox::PASSED_ENV.contains(name),
            "{name} reached the child"
        );
    }
}

#[test]
fn a_root_workers_job_runs_as_nobody_and_cannot_read_the_workers_environment() {
    if !sandbox::running_as_root() {
        eprintln!("skipped: not root");
        return;
    }
    let limits = Limits {
        user: Some(lpdnn_worker::JobUser::NOBODY),
        ..Limits::default()
    };
    // The worker here is this test process: cargo gave it CARGO_* variables.
    let (run, written) = sandbox::run(
        Path::new("/bin/sh"),
        &[
            "-c",
            "id -u; echo result >report.json; cat /proc/$PPID/environ",
        ],
        &limits,
        |dir| std::fs::write(dir.join("model.onnx"), b"model"),
        |dir| std::fs::read_to_string(dir.join("report.json")).ok(),
    )
    .unwrap();
    assert_eq!(run.stdout.lines().next(), Some("65534"), "{}", run.stdout);
    assert_eq!(run.isolation.user, 65534);
    assert!(
        run.isolation.network_namespace,
        "made as root, before the drop"
    );
    assert_eq!(
        written.as_deref(),
        Some("result\n"),
        "it writes in its folder"
    );
    assert!(!run.stdout.contains("CARGO"), "{}", run.stdout);
    assert!(run.stderr.contains("Permission denied"), "{}", run.stderr);
}

#[test]
fn what_the_child_leaves_is_read_only_as_a_regular_file_of_bounded_size() {
    let (run, (link, fifo, big, fine)) = sandbox::run(
        Path::new("/bin/sh"),
        &[
            "-c",
            "ln -s /proc/self/environ report.json; mkfifo fifo; head -c 5000 /dev/zero >big; echo ok >fine",
        ],
        &Limits::default(),
        |_| Ok(()),
        |dir| {
            let read = |name: &str| sandbox::read_child_file(&dir.join(name), 4096);
            (read("report.json"), read("fifo"), read("big"), read("fine"))
        },
    )
    .unwrap();
    assert_eq!(run.ended, Ended::Exited(0), "{}", run.stderr);
    assert!(link.is_err(), "a link is not followed");
    assert!(fifo.is_err(), "a FIFO is not read");
    assert!(big.is_err(), "past the limit");
    assert_eq!(fine.unwrap(), b"ok\n");
}
