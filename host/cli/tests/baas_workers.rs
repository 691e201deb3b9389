//! Workers of the service as they fail in the field: a remote worker, a
//! worker killed outright mid-job, the server killed with jobs queued, and
//! a burst of 300 submissions. Real processes, real benchmarks.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::baas::{
    curl, export_rows, serve, serve_front, serve_in, until_up, wait_for, worker, FACE,
};
use serde_json::Value;

#[test]
fn a_remote_worker_runs_jobs_and_only_a_worker_token_opens_its_routes() {
    let s = serve(&[
        "--no-worker",
        "--token",
        "alice=0123456789",
        "--worker-token",
        "worker-secret-1",
    ]);
    let alice = "Authorization: Bearer 0123456789";
    // A user's token is not a worker's: the queue and uploads stay closed.
    for (method, path) in [
        ("POST", "/v1/workers/x/claim"),
        ("GET", "/v1/uploads/00"),
        ("POST", "/v1/leases/complete"),
    ] {
        let (code, body) = curl(&[
            "-H",
            alice,
            "-X",
            method,
            "-H",
            "Content-Type: application/json",
            "-d",
            "{}",
            &format!("{}{path}", s.url),
        ]);
        assert_eq!(code, 401, "{path}: {body}");
    }
    let w = worker(
        &s.url,
        &["--token", "worker-secret-1", "--platform", "test-board"],
    );
    until_up(&s.url, "test-board", &[alice]);
    let route = format!(
        "{}/bonseyes_baas/test-board/default/onnx?wait=300&duration=1",
        s.url
    );
    let (code, body) = curl(&["-H", alice, "--data-binary", FACE, &route]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["job"]["result"], "passed", "{body}");
    assert_eq!(body["job"]["worker"], w.url.as_str(), "{body}");
    assert_eq!(body["job"]["sandbox"]["rlimits"], true, "{body}");
    assert_eq!(
        body["result"]["runs"][0]["static_metrics"]["macs"],
        30_760_960
    );
}

#[test]
fn the_front_end_alone_links_no_engine_and_serves_jobs_a_remote_worker_runs() {
    // `lpdnn-serve` has no worker of its own: a job waits for one.
    let s = serve_front(&[
        "--token",
        "bob=abcdefghij",
        "--worker-token",
        "worker-secret-3",
    ]);
    let bob = "Authorization: Bearer abcdefghij";
    let (code, body) = curl(&["-H", bob, &format!("{}/v1/devices", s.url)]);
    assert_eq!(code, 200, "{body}");
    let w = worker(
        &s.url,
        &["--token", "worker-secret-3", "--platform", "front-board"],
    );
    until_up(&s.url, "front-board", &[bob]);
    let route = format!(
        "{}/bonseyes_baas/front-board/default/onnx?wait=300&duration=1",
        s.url
    );
    let (code, body) = curl(&["-H", bob, "--data-binary", FACE, &route]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["job"]["result"], "passed", "{body}");
    assert_eq!(body["job"]["worker"], w.url.as_str(), "{body}");
    // The stored report renders on the front end (the report crate, no
    // engine): its HTML names the engine that ran.
    let id = body["job"]["id"].as_str().unwrap().to_owned();
    let html = std::process::Command::new("curl")
        .args([
            "-s",
            "-H",
            bob,
            &format!("{}/v1/jobs/{id}/result?format=html", s.url),
        ])
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&html.stdout);
    assert!(
        html.contains("<html") && html.contains("onnxruntime"),
        "{html:.300}"
    );
}

#[test]
fn a_job_whose_worker_is_killed_mid_run_is_finished_by_another_once() {
    let s = serve(&["--no-worker"]);
    let mut a = worker(&s.url, &["--platform", "kill-board", "--lease", "2"]);
    until_up(&s.url, "kill-board", &[]);
    let route = format!("{}/bonseyes_baas/kill-board/default/onnx?duration=6", s.url);
    let (code, body) = curl(&["--data-binary", FACE, &route]);
    assert_eq!(code, 202, "{body}");
    let id = body["job"]["id"].as_str().unwrap().to_owned();
    // Running on A, and into its steady state.
    let start = Instant::now();
    loop {
        let (_, job) = curl(&[&format!("{}/v1/jobs/{id}", s.url)]);
        if job["status"] == "running" && job["progress"]["phase"] == "steady" {
            assert_eq!(job["worker"], a.url.as_str());
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{job}");
        std::thread::sleep(Duration::from_millis(100));
    }
    a.child.kill().unwrap(); // SIGKILL
    a.child.wait().unwrap();
    let b = worker(&s.url, &["--platform", "kill-board", "--lease", "2"]);
    let job = wait_for(&s.url, &id, &[], Duration::from_secs(300));
    assert_eq!(job["result"], "passed", "{job}");
    assert_eq!(job["attempts"], 2, "{job}");
    assert_eq!(job["worker"], b.url.as_str(), "{job}");
    // One result, whatever the runs.
    let rows = export_rows(&s.url, &[]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["job"], id.as_str());
}

#[test]
fn jobs_queued_when_the_server_is_killed_all_complete_after_its_restart() {
    let mut s = serve(&["--lease", "2"]);
    let route = format!(
        "{}/bonseyes_baas/{}/default/onnx?number=1&warmup=1",
        s.url,
        common::baas::platform()
    );
    let ids: Vec<String> = (0..3)
        .map(|_| {
            let (code, body) = curl(&["--data-binary", FACE, &route]);
            assert_eq!(code, 202, "{body}");
            body["job"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    s.child.kill().unwrap(); // SIGKILL, jobs queued and one perhaps running
    s.child.wait().unwrap();
    let data = s.data.take().unwrap();
    drop(s);
    let s = serve_in(data, &["--lease", "2"]);
    for id in &ids {
        let job = wait_for(&s.url, id, &[], Duration::from_secs(300));
        assert_eq!(job["result"], "passed", "{job}");
    }
    let rows = export_rows(&s.url, &[]);
    let done: BTreeSet<&str> = rows.iter().map(|r| r["job"].as_str().unwrap()).collect();
    assert_eq!(done, ids.iter().map(String::as_str).collect(), "{rows:?}");
}

#[test]
fn a_burst_of_300_submissions_is_accepted_or_refused_and_nothing_is_lost_or_run_twice() {
    let s = serve(&["--quota", "24", "--no-worker"]);
    let w = worker(&s.url, &["--platform", "burst-board"]);
    until_up(&s.url, "burst-board", &[]);
    // The worker is held still during the burst (it stays registered), so
    // the quota, not the worker's pace, decides what is accepted.
    let pid = w.child.id() as i32;
    // SAFETY: signals a child process this test started.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let route = format!(
        "{}/bonseyes_baas/burst-board/default/onnx?number=1&warmup=1",
        s.url
    );
    let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..300)
            .map(|_| {
                let route = route.clone();
                scope.spawn(move || curl(&["--max-time", "120", "--data-binary", FACE, &route]))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut accepted = Vec::new();
    for (code, body) in &answers {
        match code {
            202 => accepted.push(body["job"]["id"].as_str().unwrap().to_owned()),
            429 | 503 => {}
            other => panic!("answered {other}: {body}"),
        }
    }
    // The quota holds under the burst: exactly 24 taken, the rest refused.
    assert_eq!(accepted.len(), 24);
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    for id in &accepted {
        let job = wait_for(&s.url, id, &[], Duration::from_secs(600));
        assert_eq!(job["result"], "passed", "{job}");
        assert_eq!(job["attempts"], 1, "{job}");
    }
    let rows = export_rows(&s.url, &[]);
    assert_eq!(rows.len(), accepted.len());
    let (_, metrics) = curl(&[&format!("{}/metrics", s.url)]);
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains(&format!(
            "lpdnn_uploads_total{{code=\"202\"}} {}",
            accepted.len()
        )),
        "{metrics}"
    );
}

#[test]
fn an_upload_is_checked_against_the_formats_its_platforms_workers_registered() {
    let s = serve(&["--no-worker", "--worker-token", "worker-secret-2"]);
    // A board whose ONNX Runtime takes TFLite models only (as a build
    // without the ONNX parser would say): the service believes the worker,
    // not its own engines.
    let info = serde_json::json!({
        "id": "odd-1",
        "platform": "odd-board",
        "profile": "default",
        "version": "0.1.0",
        "engines": [{"name": "onnxruntime", "version": null, "devices": ["cpu"],
                     "formats": ["TFLite", "a format of a later release"]}],
    })
    .to_string();
    let (code, body) = curl(&[
        "-H",
        "Authorization: Bearer worker-secret-2",
        "-H",
        "Content-Type: application/json",
        "-d",
        &info,
        &format!("{}/v1/workers", s.url),
    ]);
    assert_eq!(code, 204, "{body}");
    let route = format!("{}/bonseyes_baas/odd-board/default/onnx", s.url);
    let (code, body) = curl(&["--data-binary", FACE, &route]);
    assert_eq!(code, 422, "{body}");
    assert!(
        body.to_string()
            .contains("the model is ONNX; engine onnxruntime takes {TFLite}"),
        "{body}"
    );
}
