//! A disturbed run says so: the same benchmark on a quiet machine reads `OK`,
//! and `NOISY` with its evidence while real processes keep every core busy.
//! Its own test binary, with one test, so that no other test of the binary
//! runs beside the quiet run.

mod common;

use std::process::{Child, Command, Stdio};

use common::{dataset, face_benchmark, read_json, text, validate};
use serde_json::Value;

/// Busy-looping shells, killed when dropped (also when the test fails).
struct Competitors(Vec<Child>);

impl Competitors {
    fn start(n: usize) -> Competitors {
        Competitors(
            (0..n)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .stdout(Stdio::null())
                        .spawn()
                        .expect("sh")
                })
                .collect(),
        )
    }
}

impl Drop for Competitors {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn benchmark(name: &str) -> Value {
    let data = dataset();
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join(format!("{name}.json"));
    let o = face_benchmark(
        data.path(),
        &[
            "--duration",
            "3",
            "--warmup",
            "10",
            "--filename",
            json.to_str().unwrap(),
        ],
    );
    let out_text = text(&o);
    assert!(o.status.success(), "{out_text}");
    let result = read_json(&json);
    validate(&result);
    let run = &result["runs"][0];
    let state = run["state"].as_str().unwrap().to_uppercase();
    assert!(
        out_text.contains(&format!("[ 'BENCHMARK_STATE', '{state}' ]")),
        "{out_text}"
    );
    assert!(out_text.contains("interference: "), "{out_text}");
    run.clone()
}

#[test]
fn a_quiet_run_is_ok_and_a_disturbed_one_is_noisy_with_its_evidence() {
    let quiet = benchmark("quiet");
    let i = &quiet["interference"];
    assert_eq!(quiet["state"], "ok", "{i:#}");
    assert_eq!(i["noisy"], false, "{i:#}");
    assert!(i["other_cpu_cores"].as_f64().unwrap() < 0.5, "{i:#}");

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let competitors = Competitors::start(2 * cores);
    let disturbed = benchmark("disturbed");
    drop(competitors);
    let i = &disturbed["interference"];
    assert_eq!(disturbed["state"], "noisy", "{i:#}");
    assert_eq!(i["noisy"], true, "{i:#}");
    assert!(i["other_cpu_cores"].as_f64().unwrap() >= 0.5, "{i:#}");
    let evidence: Vec<&str> = i["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        evidence
            .iter()
            .any(|e| e.starts_with("other processes kept")),
        "{evidence:?}"
    );
}
