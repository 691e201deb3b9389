//! `lpdnn-serve` as a newcomer starts it wrong: each mistake is refused
//! before anything listens, naming the flag. (Besides, this test makes
//! `cargo test --workspace` build the `lpdnn-serve` binary, which
//! host/cli/tests/baas_workers.rs runs beside `lpdnn-host`.)

use std::process::Command;

fn serve(args: &[&str]) -> (i32, String) {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lpdnn-serve"))
        .args(["--data", data.path().to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    let code = out.status.code().expect("an exit code, not a signal");
    (code, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_size_that_is_not_one_is_refused_naming_the_flag() {
    let (code, err) = serve(&["--max-upload", "12XB"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--max-upload"), "{err}");
    assert!(err.contains("'12XB' is not a size"), "{err}");
}

#[test]
fn listening_beyond_loopback_without_a_token_is_refused() {
    let (code, err) = serve(&["--bind", "0.0.0.0:0"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--bind 0.0.0.0:0: listening beyond loopback needs --token OWNER=SECRET"),
        "{err}"
    );
}

#[test]
fn a_short_worker_token_is_refused() {
    let (code, err) = serve(&["--worker-token", "abc"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--worker-token abc: a secret of 8 characters or more"),
        "{err}"
    );
}
