//! Hostile components: the sandbox stops them with typed errors, and the host
//! keeps serving afterwards.

mod common;

use std::time::{Duration, Instant};

use common::{asset, runtime, runtime_with};
use lpdnn_runtime::{Limits, ProcessorErrorKind, RuntimeError};

fn limits() -> Limits {
    Limits {
        memory_bytes: 64 << 20,
        call_timeout: Some(Duration::from_millis(300)),
        stderr_bytes: 64 << 10,
        ..Limits::default()
    }
}

fn hostile(cache: &std::path::Path) -> lpdnn_runtime::Preprocessor {
    runtime_with(cache, limits())
        .preprocessor(&asset("components/testing/hostile.wasm"), "{}", &[])
        .unwrap()
}

/// After any failure, the same processor serves a valid call again.
fn serves_again(p: &mut lpdnn_runtime::Preprocessor) {
    let ok = p.process(b"ok").unwrap();
    assert_eq!(ok.chunks[0][0].shape(), vec![1, 3, 2, 2]);
}

#[test]
fn an_endless_loop_is_stopped_at_the_deadline() {
    let cache = tempfile::tempdir().unwrap();
    let mut p = hostile(cache.path());
    let start = Instant::now();
    let err = p.process(b"loop").unwrap_err();
    assert!(
        matches!(err, RuntimeError::Timeout { limit, .. } if limit == Duration::from_millis(300)),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "stopped near its deadline"
    );
    assert!(err.to_string().contains("hostile.wasm"), "{err}");
    serves_again(&mut p);
}

#[test]
fn a_memory_bomb_hits_the_cap() {
    let cache = tempfile::tempdir().unwrap();
    let mut p = hostile(cache.path());
    let err = p.process(b"oom").unwrap_err();
    assert!(
        matches!(err, RuntimeError::MemoryLimit { limit, requested, .. } if limit == 64 << 20 && requested > limit),
        "{err}"
    );
    assert!(p.peak_memory() <= 64 << 20);
    serves_again(&mut p);
}

#[test]
fn a_huge_output_hits_the_cap() {
    let cache = tempfile::tempdir().unwrap();
    let mut p = hostile(cache.path());
    let err = p.process(b"huge").unwrap_err();
    assert!(matches!(err, RuntimeError::MemoryLimit { .. }), "{err}");
    serves_again(&mut p);
}

#[test]
fn a_panic_is_a_crash_with_its_message() {
    let cache = tempfile::tempdir().unwrap();
    let mut p = hostile(cache.path());
    let err = p.process(b"trap").unwrap_err();
    let RuntimeError::Trap { stderr, .. } = &err else {
        panic!("expected a trap, got {err}");
    };
    assert!(
        stderr.contains("hostile component: deliberate panic"),
        "{stderr}"
    );
    assert!(err.to_string().contains("deliberate panic"), "{err}");
    serves_again(&mut p);
}

#[test]
fn a_wrong_shaped_tensor_is_refused() {
    let cache = tempfile::tempdir().unwrap();
    let mut p = hostile(cache.path());
    let err = p.process(b"wrong-shape").unwrap_err();
    assert!(
        matches!(&err, RuntimeError::InvalidOutput { message, .. } if message.contains("needs 602112 bytes, got 12")),
        "{err}"
    );
    serves_again(&mut p);
}

#[test]
fn a_chatty_component_keeps_working_past_its_stderr_capacity() {
    // 20 calls x 10 KiB of stderr against a 64 KiB capture.
    let cache = tempfile::tempdir().unwrap();
    let mut p = hostile(cache.path());
    for i in 0..20 {
        assert!(p.process(b"chatty").is_ok(), "call {i}");
    }
}

#[test]
fn stderr_past_its_limit_in_one_call_is_reported_as_that_limit() {
    let cache = tempfile::tempdir().unwrap();
    let mut p = hostile(cache.path());
    let err = p.process(b"shouting").unwrap_err();
    assert!(
        matches!(&err, RuntimeError::StderrLimit { limit: 65536, head, .. } if head.starts_with("shout shout")),
        "{err}"
    );
    assert!(
        err.to_string().contains("stderr limit of 65536 bytes"),
        "{err}"
    );
    serves_again(&mut p);
}

#[test]
fn output_past_the_copy_limit_is_reported_as_that_limit() {
    // 160 MiB in one call (under the default 512 MiB memory cap): wasmtime
    // copies at most 128 MiB out of a guest.
    let cache = tempfile::tempdir().unwrap();
    let mut p = runtime_with(cache.path(), Limits::default())
        .preprocessor(&asset("components/testing/hostile.wasm"), "{}", &[])
        .unwrap();
    let err = p.process(b"flood").unwrap_err();
    assert!(
        matches!(&err, RuntimeError::OutputLimit { limit, .. } if *limit == 128 << 20),
        "{err}"
    );
    serves_again(&mut p);
    // The limit is the host's to set: 1 MiB stops a 96 MiB tensor.
    let mut p = runtime_with(
        cache.path(),
        Limits {
            output_bytes: 1 << 20,
            ..Limits::default()
        },
    )
    .preprocessor(&asset("components/testing/hostile.wasm"), "{}", &[])
    .unwrap();
    let err = p.process(b"huge").unwrap_err();
    assert!(
        matches!(&err, RuntimeError::OutputLimit { limit, .. } if *limit == 1 << 20),
        "{err}"
    );
}

#[test]
fn a_component_cannot_drive_the_terminal_or_flood_it() {
    let cache = tempfile::tempdir().unwrap();
    let mut p = hostile(cache.path());
    let text = p.process(b"deceive").unwrap_err().to_string();
    assert!(
        !text.chars().any(|c| c.is_control() || c == '\u{202E}'),
        "{text:.200}"
    );
    assert!(
        text.contains("\\u{1b}[2J") && text.contains("\\u{202e}"),
        "{text:.200}"
    );
    assert!(
        text.len() < 3000 && text.contains("more characters)"),
        "{} bytes",
        text.len()
    );
}

#[test]
fn no_file_is_reachable_from_the_sandbox() {
    let cache = tempfile::tempdir().unwrap();
    let mut p = hostile(cache.path());
    let err = p.process(b"files").unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Processor { kind: ProcessorErrorKind::InvalidInput, message, .. } if message.contains("no file access")),
        "{err}"
    );
}

#[test]
fn a_component_can_neither_write_a_file_nor_read_an_environment_nor_connect() {
    let cache = tempfile::tempdir().unwrap();
    let mut p = hostile(cache.path());
    for (mode, said) in [
        (&b"escape"[..], "no file written"),
        (b"secrets", "no environment"),
        (b"network", "no network"),
    ] {
        let err = p.process(mode).unwrap_err();
        assert!(
            matches!(&err, RuntimeError::Processor { kind: ProcessorErrorKind::InvalidInput, message, .. } if message.contains(said)),
            "{}: {err}",
            String::from_utf8_lossy(mode)
        );
    }
    assert!(!std::path::Path::new("/tmp/escaped").exists());
}

#[test]
fn a_configure_that_never_returns_fails_the_load() {
    let cache = tempfile::tempdir().unwrap();
    let err = runtime_with(cache.path(), limits())
        .preprocessor(
            &asset("components/testing/hostile.wasm"),
            r#"{"configure": "loop"}"#,
            &[],
        )
        .err()
        .unwrap();
    assert!(matches!(err, RuntimeError::Timeout { .. }), "{err}");
}

#[test]
fn a_component_of_the_wrong_world_is_refused() {
    let cache = tempfile::tempdir().unwrap();
    let err = runtime(cache.path())
        .preprocessor(&asset("components/classification.wasm"), "{}", &[])
        .err()
        .unwrap();
    assert!(
        matches!(
            &err,
            RuntimeError::WrongWorld { world, message, .. }
                if world.starts_with("pre-processor") && message.contains("it is a postprocessor")
        ),
        "{err}"
    );
    assert!(err.to_string().contains("classification.wasm"), "{err}");
}

#[test]
fn a_component_built_against_another_wit_version_is_refused_naming_both() {
    let cache = tempfile::tempdir().unwrap();
    let err = runtime(cache.path())
        .preprocessor(&asset("components/testing/old_version.wasm"), "{}", &[])
        .err()
        .unwrap();
    assert!(
        matches!(&err, RuntimeError::Version { component, host, .. } if component == "0.1.0" && *host == "0.2.0"),
        "{err}"
    );
    let text = err.to_string();
    for needle in [
        "old_version.wasm",
        "lpdnn:processing@0.1.0",
        "lpdnn:processing@0.2.0",
    ] {
        assert!(text.contains(needle), "{needle} not in: {text}");
    }
}

#[test]
fn a_file_that_is_not_a_component_is_refused() {
    let cache = tempfile::tempdir().unwrap();
    let err = runtime(cache.path())
        .preprocessor(&asset("images/chelsea.png"), "{}", &[])
        .err()
        .unwrap();
    assert!(matches!(&err, RuntimeError::Compile { .. }), "{err}");
    assert!(err.to_string().contains("chelsea.png"), "{err}");
}

#[test]
fn bad_params_are_reported_by_the_component() {
    let cache = tempfile::tempdir().unwrap();
    let err = runtime(cache.path())
        .preprocessor(
            &asset("components/image_preprocess.wasm"),
            r#"{"width": 0, "height": 8}"#,
            &[],
        )
        .err()
        .unwrap();
    assert!(
        matches!(&err, RuntimeError::Processor { kind: ProcessorErrorKind::InvalidParams, message, .. } if message.contains("width")),
        "{err}"
    );
}

#[test]
fn compiled_components_are_cached_by_content() {
    let cache = tempfile::tempdir().unwrap();
    let count = || {
        std::fs::read_dir(cache.path()).map_or(0, |d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "cwasm")
            })
            .count()
        })
    };
    let rt = runtime(cache.path());
    let wasm = asset("components/image_preprocess.wasm");
    rt.preprocessor(&wasm, r#"{"width": 8, "height": 8}"#, &[])
        .unwrap();
    assert_eq!(count(), 1);
    // A second load (another instance, other params) reuses the entry.
    rt.preprocessor(&wasm, r#"{"width": 4, "height": 4}"#, &[])
        .unwrap();
    assert_eq!(count(), 1);
    rt.postprocessor(&asset("components/classification.wasm"), "{}", &[])
        .unwrap();
    assert_eq!(count(), 2);
}
