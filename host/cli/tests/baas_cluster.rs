//! The service on NATS JetStream and PostgreSQL as it fails in the field:
//! two front ends with no balancer, workers that connect out to NATS only,
//! a worker killed or stopped mid-run, NATS and PostgreSQL restarted under
//! load. Real servers on loopback, real worker processes, real benchmarks.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::baas::{curl, export_rows, nats_worker, serve_in, until_up, Cluster, Data, FACE};
use serde_json::Value;

/// Submits the face model to `platform` on `url`; gives the job's id.
fn submit(url: &str, platform: &str, query: &str) -> String {
    let route = format!("{url}/bonseyes_baas/{platform}/default/onnx?{query}");
    let (code, body) = curl(&["--data-binary", FACE, &route]);
    assert_eq!(code, 202, "{body}");
    body["job"]["id"].as_str().unwrap().to_owned()
}

/// The job, as `url` shows it (`None` while the front end cannot answer).
fn job(url: &str, id: &str) -> Option<Value> {
    let (code, job) = curl(&["--max-time", "10", &format!("{url}/v1/jobs/{id}")]);
    (code == 200).then_some(job)
}

/// Waits until `done` says so of the job, at most `limit`, through front
/// ends that may be restarting.
fn until(url: &str, id: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        if let Some(job) = job(url, id) {
            if done(&job) {
                return job;
            }
            assert!(start.elapsed() < limit, "job {id}: {job}");
        }
        assert!(start.elapsed() < limit, "job {id}: no answer from {url}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ended(job: &Value) -> bool {
    job["status"] == "completed" || job["status"] == "cancelled"
}

fn steady(job: &Value) -> bool {
    job["status"] == "running" && job["progress"]["phase"] == "steady"
}

const LONG: Duration = Duration::from_secs(300);

#[test]
fn two_front_ends_serve_one_service_submitted_on_one_followed_and_cancelled_on_the_other() {
    let cluster = Arc::new(Cluster::start());
    let a = serve_in(Data::on(&cluster), &["--no-worker"]);
    let b = serve_in(Data::on(&cluster), &["--no-worker"]);
    let _w = nats_worker(cluster.nats_url(), &["--platform", "two-fronts"]);
    until_up(&b.url, "two-fronts", &[]);

    let id = submit(&a.url, "two-fronts", "duration=3");
    // Its life as server-sent events, from the other front end.
    let events = std::process::Command::new("curl")
        .args(["-sN", "--max-time", "300"])
        .arg(format!("{}/v1/jobs/{id}/events", b.url))
        .output()
        .unwrap();
    let events = String::from_utf8_lossy(&events.stdout);
    assert!(events.contains("event: progress"), "{events}");
    assert!(events.contains("\"status\":\"completed\""), "{events}");
    let (code, result) = curl(&[&format!("{}/v1/jobs/{id}/result", b.url)]);
    assert_eq!(code, 200, "{result}");
    assert_eq!(result["runs"][0]["engine"], "onnxruntime", "{result}");

    // A long job submitted on B is cancelled on A while it runs; the worker
    // stops it and takes the next job.
    let long = submit(&b.url, "two-fronts", "duration=60");
    until(&a.url, &long, LONG, steady);
    let (code, body) = curl(&["-X", "POST", &format!("{}/v1/jobs/{long}/cancel", a.url)]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "cancelled", "{body}");
    let next = submit(&a.url, "two-fronts", "number=1&warmup=1");
    let done = until(&b.url, &next, LONG, ended);
    assert_eq!(done["result"], "passed", "{done}");
    assert_eq!(job(&b.url, &long).unwrap()["status"], "cancelled");
}

#[test]
fn a_nats_worker_killed_mid_run_loses_its_job_to_the_other_once() {
    let cluster = Arc::new(Cluster::start());
    let s = serve_in(Data::on(&cluster), &["--no-worker"]);
    let args = ["--platform", "kill-nats", "--lease", "2"];
    let mut workers = vec![
        nats_worker(cluster.nats_url(), &args),
        nats_worker(cluster.nats_url(), &args),
    ];
    until_up(&s.url, "kill-nats", &[]);
    let id = submit(&s.url, "kill-nats", "duration=6");
    let running = until(&s.url, &id, LONG, steady);
    let victim = workers
        .iter()
        .position(|w| running["worker"] == w.url.as_str())
        .expect("run by one of the two");
    let mut victim = workers.remove(victim);
    victim.child.kill().unwrap(); // SIGKILL
    victim.child.wait().unwrap();
    let killed = Instant::now();
    until(&s.url, &id, LONG, |j| j["attempts"] == 2 || ended(j));
    eprintln!(
        "figure: a killed worker's job ran again {:.1} s after the kill (lease 2 s)",
        killed.elapsed().as_secs_f64()
    );

    let done = until(&s.url, &id, LONG, ended);
    assert_eq!(done["result"], "passed", "{done}");
    assert_eq!(done["attempts"], 2, "{done}");
    assert_eq!(done["worker"], workers[0].url.as_str(), "{done}");
    let rows = export_rows(&s.url, &[]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    // PostgreSQL keeps both runs: the killed worker's lapsed, the other's passed.
    let (code, runs) = curl(&[&format!("{}/v1/jobs/{id}/runs", s.url)]);
    assert_eq!(code, 200, "{runs}");
    let runs: Vec<(&str, &str)> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["worker"].as_str().unwrap(), r["end"].as_str().unwrap()))
        .collect();
    assert_eq!(
        runs,
        [
            (victim.url.as_str(), "lapsed"),
            (workers[0].url.as_str(), "passed")
        ]
    );
}

#[test]
fn a_stopped_workers_job_runs_again_elsewhere_and_its_late_result_is_refused() {
    let cluster = Arc::new(Cluster::start());
    let s = serve_in(Data::on(&cluster), &["--no-worker"]);
    let args = ["--platform", "stop-nats", "--lease", "2"];
    let first = nats_worker(cluster.nats_url(), &args);
    until_up(&s.url, "stop-nats", &[]);
    let id = submit(&s.url, "stop-nats", "duration=4");
    until(&s.url, &id, LONG, steady);
    let pid = first.child.id() as i32;
    // SAFETY: kill(2) on a child process this test owns and has not reaped.
    unsafe { libc::kill(pid, libc::SIGSTOP) };

    let second = nats_worker(cluster.nats_url(), &args);
    let done = until(&s.url, &id, LONG, ended);
    assert_eq!(done["result"], "passed", "{done}");
    assert_eq!(
        (&done["worker"], &done["attempts"]),
        (&Value::from(second.url.as_str()), &Value::from(2)),
        "{done}"
    );
    // The first comes back, its benchmark long finished: its result is
    // refused, the job keeps the second's.
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    std::thread::sleep(Duration::from_secs(4));
    let after = job(&s.url, &id).unwrap();
    assert_eq!(after["worker"], second.url.as_str(), "{after}");
    assert_eq!(after["finished_ms"], done["finished_ms"], "{after}");
    assert_eq!(export_rows(&s.url, &[]).len(), 1);
}

#[test]
fn restarting_nats_and_then_postgresql_under_load_loses_no_accepted_job() {
    let cluster = Arc::new(Cluster::start());
    let s = serve_in(Data::on(&cluster), &["--no-worker"]);
    let _w = nats_worker(
        cluster.nats_url(),
        &["--platform", "restarts", "--lease", "3"],
    );
    until_up(&s.url, "restarts", &[]);

    let mut ids: Vec<String> = (0..3)
        .map(|_| submit(&s.url, "restarts", "duration=2"))
        .collect();
    until(&s.url, &ids[0], LONG, |j| j["status"] == "running");
    {
        let mut nats = cluster.nats.lock().unwrap();
        nats.stop(false);
        std::thread::sleep(Duration::from_secs(1));
        nats.resume().unwrap();
    }
    ids.extend((0..2).map(|_| submit(&s.url, "restarts", "duration=2")));
    until(&s.url, &ids[3], LONG, |j| {
        j["status"] == "running" || ended(j)
    });
    cluster.pg.stop(true).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    cluster.pg.resume().unwrap();

    for id in &ids {
        let done = until(&s.url, id, LONG, ended);
        assert_eq!(done["result"], "passed", "{done}");
    }
    let rows = export_rows(&s.url, &[]);
    let exported: BTreeSet<&str> = rows.iter().map(|r| r["job"].as_str().unwrap()).collect();
    assert_eq!(
        exported,
        ids.iter().map(String::as_str).collect(),
        "{rows:?}"
    );
}
