//! The service's /v1 API, app bundles and the `baas` client, as users meet
//! them: a real `serve` with its sandboxed worker, curl and `lpdnn-host baas`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::baas::{curl, platform, serve, serve_in, serve_with, until_up, wait_for, FACE};
use common::root;
use serde_json::Value;

/// `lpdnn-host baas --url URL ARGS...`.
fn baas(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lpdnn-host"))
        .args(["baas", "--url", url])
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

#[test]
fn a_multipart_job_streams_progress_and_its_result_comes_in_every_format() {
    let s = serve(&[]);
    let (code, body) = curl(&[
        "-F",
        &format!("model={FACE}"),
        "-F",
        &format!("platform={}", platform()),
        "-F",
        "profile=default",
        "-F",
        "engine=lpdnn",
        "-F",
        "duration=2",
        "-F",
        "threads=1",
        &format!("{}/v1/jobs", s.url),
    ]);
    assert_eq!(code, 202, "{body}");
    let id = body["job"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["job"]["spec"]["engine"], "lne");
    assert_eq!(body["job"]["spec"]["options"]["threads"], 1);

    // Server-sent events until the job ends.
    let out = Command::new("curl")
        .args(["-sSN", "--max-time", "300"])
        .arg(format!("{}/v1/jobs/{id}/events", s.url))
        .output()
        .unwrap();
    let events = String::from_utf8_lossy(&out.stdout);
    let data = |kind: &str| -> Vec<Value> {
        events
            .split("\n\n")
            .filter(|e| e.lines().any(|l| l == format!("event: {kind}")))
            .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    };
    let statuses: Vec<Value> = data("status").iter().map(|j| j["status"].clone()).collect();
    assert_eq!(statuses.last().unwrap(), "completed", "{events}");
    assert!(statuses.contains(&Value::from("running")), "{events}");
    let progress = data("progress");
    assert!(
        progress
            .iter()
            .any(|p| p["phase"] == "steady" && p["done"].as_u64().unwrap() > 0),
        "{events}"
    );
    assert!(progress.iter().all(|p| p["engine"] == "lne"), "{events}");

    let result = format!("{}/v1/jobs/{id}/result", s.url);
    let (code, csv) = curl(&[&format!("{result}?format=csv")]);
    assert_eq!(code, 200);
    let csv = csv.as_str().unwrap();
    assert!(csv.starts_with("engine,phase,anchor,calls,"), "{csv}");
    assert!(csv.contains("lne,steady,inference,"), "{csv}");
    let (code, html) = curl(&[&format!("{result}?format=html")]);
    assert_eq!(code, 200);
    assert!(html.as_str().unwrap().contains("<html"), "{html}");
    let (code, bad) = curl(&[&format!("{result}?format=xml")]);
    assert_eq!(code, 400, "{bad}");
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("format: unknown variant `xml`"),
        "{bad}"
    );

    // A retry is a new job that names the first; both land in the dataset.
    let (code, retried) = curl(&["-X", "POST", &format!("{}/v1/jobs/{id}/retry", s.url)]);
    assert_eq!(code, 202, "{retried}");
    let again = retried["job"]["id"].as_str().unwrap();
    assert_eq!(retried["job"]["retry_of"], id.as_str());
    let done = wait_for(&s.url, again, &[], Duration::from_secs(300));
    assert_eq!(done["result"], "passed", "{done}");
    let (code, conflict) = curl(&["-X", "POST", &format!("{}/v1/jobs/{id}/cancel", s.url)]);
    assert_eq!(code, 409, "{conflict}");

    let (code, rows) = curl(&[&format!("{}/v1/export?format=csv", s.url)]);
    assert_eq!(code, 200);
    let rows = rows.as_str().unwrap().to_owned();
    let lines: Vec<&str> = rows.lines().collect();
    assert_eq!(lines.len(), 3, "{rows}");
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for line in &lines[1..] {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[col("engine")], "lne", "{line}");
        assert_eq!(cells[col("macs")], "30760960", "{line}");
        assert_eq!(cells[col("subject")], "model", "{line}");
        assert!(cells[col("latency_p50_ms")].parse::<f64>().unwrap() > 0.0);
        // Power is not measured in this container: empty, never 0.
        assert_eq!(cells[col("power_mean_w")], "", "{line}");
    }
    let (code, jsonl) = curl(&[&format!(
        "{}/v1/export?format=jsonl&since=2000-01-01T00:00:00Z",
        s.url
    )]);
    assert_eq!(code, 200);
    let first: Value =
        serde_json::from_str(jsonl.as_str().unwrap().lines().next().unwrap()).unwrap();
    assert!(first["operators"]["Conv"].as_u64().unwrap() > 10, "{first}");
    assert_eq!(first["power_mean_w"], Value::Null);
    let (code, later) = curl(&[&format!("{}/v1/export?since=4000000000000", s.url)]);
    assert_eq!((code, later.as_str().unwrap().lines().count()), (200, 1));

    let (code, metrics) = curl(&[&format!("{}/metrics", s.url)]);
    assert_eq!(code, 200);
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains(r#"lpdnn_jobs{status="completed",result="passed",failure=""} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"lpdnn_uploads_total{code="202"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("lpdnn_worker_up{"), "{metrics}");

    // The API's description, from the handlers themselves.
    let (code, api) = curl(&[&format!("{}/openapi.json", s.url)]);
    assert_eq!(code, 200);
    assert!(api["openapi"].as_str().unwrap().starts_with("3."), "{api}");
    for path in [
        "/bonseyes_baas/{platform}/{profile}/{engine}",
        "/v1/jobs",
        "/v1/jobs/{id}/events",
        "/v1/jobs/{id}/result",
        "/v1/sweeps",
        "/v1/groups/{id}/report",
        "/v1/export",
    ] {
        assert!(api["paths"][path].is_object(), "{path}: {}", api["paths"]);
    }
    let status = &api["components"]["schemas"]["JobStatus"]["enum"];
    assert!(
        status
            .as_array()
            .unwrap()
            .contains(&Value::from("pending_device")),
        "{status}"
    );
    // Every answer is a typed struct with its schema: the catalog's
    // entries, the result's formats, the errors.
    let schemas = &api["components"]["schemas"];
    let catalog = &api["paths"]["/v1/devices"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"]["$ref"];
    assert_eq!(
        catalog, "#/components/schemas/DeviceCatalog",
        "{}",
        api["paths"]
    );
    for field in ["available", "engines", "queue_depth", "last_seen"] {
        assert!(
            schemas["DeviceEntry"]["properties"][field].is_object(),
            "{field}: {}",
            schemas["DeviceEntry"]
        );
    }
    assert_eq!(
        schemas["ResultFormat"]["enum"],
        serde_json::json!(["json", "csv", "html"])
    );
    assert!(schemas["WorkerEngine"]["properties"]["devices"].is_object());
    assert!(schemas["ErrorBody"]["properties"]["error"].is_object());

    let (code, page) = curl(&[&format!("{}/", s.url)]);
    assert_eq!(code, 200);
    assert!(page.as_str().unwrap().contains("Benchmark as a Service"));
}

#[test]
fn multipart_mistakes_are_refused_by_field() {
    let s = serve(&[]);
    let url = format!("{}/v1/jobs", s.url);
    let p = format!("platform={}", platform());
    let model = format!("model={FACE}");
    for (fields, needle) in [
        (vec![&p[..], "profile=default", "engine=onnx"], "no file"),
        (
            vec![&model[..], "profile=default", "engine=onnx"],
            "field 'platform' is missing",
        ),
        (
            vec![
                &model[..],
                &p,
                "profile=default",
                "engine=onnx",
                "colour=red",
            ],
            "unknown field 'colour'",
        ),
        (
            vec![
                &model[..],
                &p,
                "profile=default",
                "engine=onnx",
                "threads=many",
            ],
            "threads must be a whole number",
        ),
        (
            vec![
                &model[..],
                &p,
                "profile=default",
                "engine=onnx",
                "threads=100000",
            ],
            "threads must lie in",
        ),
        (
            vec![
                &model[..],
                &p,
                "profile=default",
                "engine=onnx",
                "duration=-1",
            ],
            "duration must be",
        ),
        (
            vec![
                &model[..],
                &p,
                "profile=default",
                "engine=onnx",
                "input_shape=x=0,3",
            ],
            "input_shape 'x=0,3'",
        ),
        (
            vec![
                &model[..],
                &p,
                "profile=default",
                "engine=onnx",
                "engine=lne",
            ],
            "field 'engine' is given twice",
        ),
    ] {
        let mut args: Vec<&str> = fields.iter().flat_map(|f| ["-F", *f]).collect();
        args.push(&url);
        let (code, body) = curl(&args);
        assert_eq!(code, 422, "{fields:?}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(needle),
            "{fields:?}: {body}"
        );
    }
    let (code, body) = curl(&[
        "--data-binary",
        FACE,
        &format!(
            "{}/bonseyes_baas/{}/default/onnx?colour=red",
            s.url,
            platform()
        ),
    ]);
    assert_eq!(code, 400, "{body}");
    assert!(
        body.to_string().contains("unknown field `colour`"),
        "{body}"
    );
}

/// The face-detection app as a bundle folder: app.json with its files
/// beside it and the astronaut in inputs/; `labels` overrides its labels.
fn face_bundle(dir: &Path, labels: &str) {
    let assets = root().join("assets");
    let app = std::fs::read_to_string(root().join("examples/face-detection/app.json")).unwrap();
    let mut app: Value = serde_json::from_str(&app).unwrap();
    app["preprocessor"]["component"] = "pre.wasm".into();
    app["postprocessor"]["component"] = "post.wasm".into();
    app["model"] = serde_json::json!({ "onnx": "face.onnx" });
    app["labels"] = labels.into();
    std::fs::write(dir.join("app.json"), app.to_string()).unwrap();
    for (from, to) in [
        ("components/image_preprocess.wasm", "pre.wasm"),
        ("components/detection.wasm", "post.wasm"),
        ("models/face_detection_short_range.onnx", "face.onnx"),
        ("labels/face.txt", "face.txt"),
    ] {
        std::fs::copy(assets.join(from), dir.join(to)).unwrap();
    }
    std::fs::create_dir_all(dir.join("inputs")).unwrap();
    std::fs::copy(
        assets.join("images/astronaut.png"),
        dir.join("inputs/astronaut.png"),
    )
    .unwrap();
}

fn tar_of(dir: &Path, out: &Path) {
    let ok = Command::new("tar")
        .arg("-cf")
        .arg(out)
        .arg("-C")
        .arg(dir)
        .arg(".")
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn an_app_bundle_runs_its_whole_pipeline_and_a_bad_one_is_refused_at_upload() {
    let s = serve(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    std::fs::create_dir(&good).unwrap();
    face_bundle(&good, "face.txt");
    let bundle = tmp.path().join("face.tar");
    tar_of(&good, &bundle);
    // The seed's `tf` takes a frozen graph as the body, never a bundle.
    let tf = format!("{}/bonseyes_baas/{}/default/tf", s.url, platform());
    let (code, body) = curl(&["--data-binary", &format!("@{}", bundle.display()), &tf]);
    assert_eq!(code, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("engine 'tf' takes a TensorFlow frozen graph as the body"),
        "{body}"
    );
    let route = format!(
        "{}/bonseyes_baas/{}/default/onnx?wait=300&duration=1",
        s.url,
        platform()
    );
    let (code, body) = curl(&["--data-binary", &format!("@{}", bundle.display()), &route]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["job"]["result"], "passed", "{body}");
    assert_eq!(body["job"]["spec"]["subject"], "bundle");
    assert_eq!(body["job"]["spec"]["format"], "tar");
    let run = &body["result"]["runs"][0];
    assert_eq!(run["engine"], "onnxruntime");
    // The whole pipeline was timed, and the face was found.
    let anchors = &run["phases"]["steady"]["anchors"];
    for stage in ["preprocess", "inference", "postprocess"] {
        assert!(
            anchors[stage]["real_ms"]["mean"].as_f64().unwrap() > 0.0,
            "{stage}: {anchors}"
        );
    }
    let found = run["predictions"][0].to_string();
    assert!(found.contains("face"), "{found}");

    // Refused at upload: a file outside the bundle, a missing one, a path
    // that escapes.
    for (labels, needle) in [
        (
            "/etc/passwd",
            "field labels names /etc/passwd, outside the bundle",
        ),
        ("missing.txt", "missing.txt"),
    ] {
        let dir = tmp.path().join(labels.replace('/', "_"));
        std::fs::create_dir(&dir).unwrap();
        face_bundle(&dir, labels);
        let file = dir.with_extension("tar");
        tar_of(&dir, &file);
        let (code, body) = curl(&["--data-binary", &format!("@{}", file.display()), &route]);
        assert_eq!(code, 422, "{labels}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(needle), "{labels}: {error}");
        assert!(
            !error.contains("/tmp/"),
            "the scratch folder leaks: {error}"
        );
    }
    let escape = tmp.path().join("escape.tar");
    let ok = Command::new("tar")
        .arg("-cPf")
        .arg(&escape)
        .arg(format!("{}/good/../good/app.json", tmp.path().display()))
        .arg("--transform=s|.*|../../evil.json|")
        .status()
        .unwrap();
    assert!(ok.success());
    let (code, body) = curl(&["--data-binary", &format!("@{}", escape.display()), &route]);
    assert_eq!(code, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("outside the bundle"),
        "{body}"
    );
}

#[test]
fn baas_submit_waits_and_prints_the_table_and_the_other_commands_answer() {
    let s = serve(&[]);
    let out = baas(
        &s.url,
        &[
            "submit",
            "--model-path",
            "assets/models/face_detection_short_range.onnx",
            "--engine",
            "onnx",
            "--profile",
            "default",
            "--platform",
            &platform(),
            "--duration",
            "1",
            "--layers",
            "10",
            "--check-against",
            "lne",
            "--wait",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("inference"), "{stdout}");
    assert!(stdout.contains("layers: 10 profiled runs"), "{stdout}");
    assert!(stdout.contains("check against lne: agrees"), "{stdout}");
    assert!(stdout.contains("onnxruntime"), "{stdout}");
    assert!(stderr.contains(": completed, passed"), "{stderr}");
    let id = stderr
        .lines()
        .find_map(|l| l.strip_prefix("job ")?.split(':').next())
        .unwrap()
        .to_owned();

    let status = baas(&s.url, &["status", &id]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("completed, passed"));
    let csv = baas(&s.url, &["result", &id, "--format", "csv"]);
    assert!(String::from_utf8_lossy(&csv.stdout).starts_with("engine,phase,anchor"));
    let devices = baas(&s.url, &["devices"]);
    let table = String::from_utf8_lossy(&devices.stdout);
    assert!(
        table.contains(&platform()) && table.contains("onnxruntime"),
        "{table}"
    );
    assert!(table.lines().all(|l| l.chars().count() <= 100), "{table}");
    let export = baas(&s.url, &["export"]);
    let rows = String::from_utf8_lossy(&export.stdout);
    assert_eq!(rows.lines().count(), 2, "{rows}");
    assert!(rows.contains(",onnxruntime,"), "{rows}");
    // The job's check and, in a table of their own, its layers.
    assert!(
        rows.contains(",10,") && rows.contains(",lne,agrees,"),
        "{rows}"
    );
    let export = baas(
        &s.url,
        &["export", "--table", "layers", "--format", "jsonl"],
    );
    let layers: Vec<serde_json::Value> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(layers.len() > 50, "{layers:?}");
    assert!(layers
        .iter()
        .all(|l| l["job"] == id.as_str() && l["runs"] == 10));
    let conv = layers.iter().find(|l| l["node"] == "conv2d").unwrap();
    assert_eq!(
        (&conv["op"], &conv["engine"]),
        (&"Conv".into(), &"onnxruntime".into())
    );
    assert!(conv["gflops"].as_f64().unwrap() > 0.0, "{conv}");

    // Mistakes a newcomer makes: no service there, an unknown platform, a
    // missing file; each a clear line and exit 1.
    for (args, needle) in [
        (
            vec!["--url", "http://127.0.0.1:9", "devices"],
            "cannot reach the service at http://127.0.0.1:9",
        ),
        (
            vec!["--url", "https://example.org", "devices"],
            "this build speaks plain HTTP",
        ),
        (
            vec![
                "--url",
                &s.url,
                "submit",
                "--model-path",
                "nope.onnx",
                "--engine",
                "onnx",
                "--profile",
                "default",
                "--platform",
                "x",
            ],
            "nope.onnx",
        ),
        (
            vec![
                "--url",
                &s.url,
                "submit",
                "--model-path",
                "assets/models/face_detection_short_range.onnx",
                "--engine",
                "onnx",
                "--profile",
                "default",
                "--platform",
                "riscv",
            ],
            "unknown platform 'riscv'",
        ),
        (
            vec!["--url", &s.url, "status", "0000"],
            "the service answered 404: no job 0000",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_lpdnn-host"))
            .arg("baas")
            .args(&args)
            .current_dir(root())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_users_jobs_are_listed_newest_first_over_the_api_and_by_baas_list() {
    // A first run registers this machine's worker; the second, with
    // tokens and no worker, keeps the jobs queued.
    let mut first = serve(&[]);
    until_up(&first.url, &platform(), &[]);
    let data = first.data.take().unwrap();
    drop(first);
    let s = serve_in(
        data,
        &[
            "--no-worker",
            "--token",
            "alice=0123456789",
            "--token",
            "bob=9876543210",
        ],
    );
    let alice = "Authorization: Bearer 0123456789";
    let bob = "Authorization: Bearer 9876543210";
    let submit = |who: &str, name: &str| -> String {
        let (code, body) = curl(&[
            "-H",
            who,
            "-F",
            &format!("model={FACE};filename={name}"),
            "-F",
            &format!("platform={}", platform()),
            "-F",
            "profile=default",
            "-F",
            "engine=onnx",
            &format!("{}/v1/jobs", s.url),
        ]);
        assert_eq!(code, 202, "{body}");
        body["job"]["id"].as_str().unwrap().to_owned()
    };
    let mut mine: Vec<String> = ["a.onnx", "b.onnx", "c.onnx"]
        .into_iter()
        .map(|n| submit(alice, n))
        .collect();
    mine.reverse();
    let bobs = submit(bob, "bob.onnx");

    let list = |who: &str, query: &str| curl(&["-H", who, &format!("{}/v1/jobs{query}", s.url)]);
    let ids = |body: &Value| -> Vec<String> {
        body["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (code, body) = list(alice, "");
    assert_eq!(code, 200, "{body}");
    assert_eq!(ids(&body), mine);
    let waiting = ["queued", "pending_device"].map(Value::from);
    assert!(waiting.contains(&body["jobs"][0]["status"]), "{body}");
    assert_eq!(
        body["jobs"][0]["spec"]["options"]["name"], "c.onnx",
        "{body}"
    );
    let (code, body) = list(alice, "?limit=2");
    assert_eq!((code, ids(&body)), (200, mine[..2].to_vec()));
    let (code, body) = list(bob, "");
    assert_eq!((code, ids(&body)), (200, vec![bobs]));
    let (code, body) = list(alice, "?limit=0");
    assert_eq!(code, 422, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("limit must lie in 1..=1000"));
    assert_eq!(curl(&[&format!("{}/v1/jobs", s.url)]).0, 401);

    let (_, api) = curl(&[&format!("{}/openapi.json", s.url)]);
    assert!(
        api["paths"]["/v1/jobs"]["get"].is_object(),
        "{}",
        api["paths"]
    );
    assert!(api["components"]["schemas"]["JobList"].is_object());

    let out = baas(&s.url, &["--token", "0123456789", "list"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(table.lines().count(), 4, "{table}");
    assert!(table.lines().all(|l| l.chars().count() <= 100), "{table}");
    assert!(
        table.lines().nth(1).unwrap().starts_with(&mine[0]),
        "{table}"
    );
    assert!(
        table.contains("onnxruntime") && table.contains("c.onnx"),
        "{table}"
    );
    let out = baas(
        &s.url,
        &["--token", "0123456789", "list", "--json", "--limit", "1"],
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1, "{json}");
    assert_eq!(json[0]["id"], mine[0].as_str());
}

#[test]
fn a_bare_models_report_is_titled_with_the_uploaded_files_name() {
    let s = serve(&[]);
    // A stranger's name: a path, a bidirectional override. Only its last
    // component is kept, printable; the file is still model.onnx there.
    let (code, body) = curl(&[
        "-F",
        &format!("model={FACE};filename=\"../../My Face\u{202e}[31m.onnx\""),
        "-F",
        &format!("platform={}", platform()),
        "-F",
        "profile=default",
        "-F",
        "engine=onnx",
        "-F",
        "duration=1",
        &format!("{}/v1/jobs?wait=300", s.url),
    ]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["job"]["result"], "passed", "{body}");
    assert_eq!(body["job"]["spec"]["options"]["name"], "My Face[31m.onnx");
    assert_eq!(body["result"]["config"]["app_name"], "My Face[31m.onnx");
    assert_eq!(body["result"]["config"]["subject"], "model");
    let id = body["job"]["id"].as_str().unwrap();
    let (code, html) = curl(&[&format!("{}/v1/jobs/{id}/result?format=html", s.url)]);
    assert_eq!(code, 200);
    assert!(
        html.as_str()
            .unwrap()
            .contains("<title>Benchmark of My Face[31m.onnx</title>"),
        "{html}"
    );
    // The seed's route takes it as `name` (a control character there).
    let (code, body) = curl(&[
        "--data-binary",
        FACE,
        &format!(
            "{}/bonseyes_baas/{}/default/onnx?number=1&name=..%2Fevil%1B%5B31m.onnx",
            s.url,
            platform()
        ),
    ]);
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["job"]["spec"]["options"]["name"], "evil[31m.onnx");
    // The seed's route through `baas submit` carries the file's name too.
    let out = baas(
        &s.url,
        &[
            "submit",
            "--model-path",
            "assets/models/face_detection_short_range.onnx",
            "--engine",
            "onnx",
            "--profile",
            "default",
            "--platform",
            &platform(),
            "--number",
            "3",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let job = wait_for(&s.url, &id, &[], Duration::from_secs(300));
    assert_eq!(job["result"], "passed", "{job}");
    let (_, report) = curl(&[&format!("{}/v1/jobs/{id}/result", s.url)]);
    assert_eq!(
        report["config"]["app_name"],
        "face_detection_short_range.onnx"
    );
}

#[test]
fn a_bundle_is_checked_as_it_streams_without_being_written_out() {
    // The server may write no file past 16 MiB: a bundle holding a 64 MiB
    // file (64 KiB once compressed) must be checked without unpacking it.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("big");
    std::fs::create_dir(&dir).unwrap();
    face_bundle(&dir, "face.txt");
    std::fs::write(dir.join("inputs/zeros.bin"), vec![0u8; 64 << 20]).unwrap();
    let bundle = tmp.path().join("big.tar.gz");
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(&bundle)
        .arg("-C")
        .arg(&dir)
        .arg(".")
        .status()
        .unwrap();
    assert!(ok.success());
    assert!(std::fs::metadata(&bundle).unwrap().len() < 2 << 20);
    // A first run registers this machine's worker; the second runs none
    // (a worker unpacks the bundle, as it should, in the job's folder).
    let mut first = serve(&[]);
    until_up(&first.url, &platform(), &[]);
    let data = first.data.take().unwrap();
    drop(first);
    let s = serve_with(data, &["--no-worker"], |command| {
        use std::os::unix::process::CommandExt;
        let limit = libc::rlimit {
            rlim_cur: 16 << 20,
            rlim_max: 16 << 20,
        };
        // SAFETY: setrlimit is async-signal-safe; nothing else runs here.
        unsafe {
            command.pre_exec(move || {
                if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    });
    let route = format!("{}/bonseyes_baas/{}/default/onnx", s.url, platform());
    let (code, body) = curl(&["--data-binary", &format!("@{}", bundle.display()), &route]);
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["job"]["spec"]["subject"], "bundle");
    assert_eq!(body["job"]["spec"]["format"], "tar.gz");
    // And a bad one is still refused, by what is wrong.
    std::fs::remove_dir_all(dir.join("inputs")).unwrap();
    std::fs::create_dir(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/zeros.bin"), vec![0u8; 64 << 20]).unwrap();
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(&bundle)
        .arg("-C")
        .arg(&dir)
        .arg(".")
        .status()
        .unwrap();
    assert!(ok.success());
    let (code, body) = curl(&["--data-binary", &format!("@{}", bundle.display()), &route]);
    assert_eq!(code, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("no inputs/ folder"),
        "{body}"
    );
    assert_eq!(curl(&[&format!("{}/health", s.url)]).0, 200);
}

/// Polls the group until every cell ended.
fn wait_group(url: &str, id: &str) -> Value {
    let start = std::time::Instant::now();
    loop {
        let (code, group) = curl(&[&format!("{url}/v1/groups/{id}")]);
        assert_eq!(code, 200, "{group}");
        if group["status"] == "completed" {
            return group;
        }
        assert!(start.elapsed() < Duration::from_secs(300), "{group}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_sweeps_failed_and_refused_cells_do_not_hide_the_others() {
    let s = serve(&[]);
    let here = platform();
    until_up(&s.url, &here, &[]);
    // ONNX Runtime runs this contrib operator; tract (LNE) does not know
    // it; LiteRT takes no ONNX model at all.
    let out = baas(
        &s.url,
        &[
            "submit",
            "--model-path",
            "tests/models/contrib_op.onnx",
            "--engine",
            "onnx,lne,litert",
            "--profile",
            "default",
            "--platform",
            &here,
            "--duration",
            "1",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(stderr.contains("refused"), "{stderr}");
    // No report while a cell runs.
    let report = format!("{}/v1/groups/{id}/report", s.url);
    let (code, early) = curl(&[&report]);
    assert_eq!(code, 409, "{early}");
    assert!(early["error"]
        .as_str()
        .unwrap()
        .contains("still queued or running"));

    let group = wait_group(&s.url, &id);
    let cells = group["cells"].as_array().unwrap();
    let engines: Vec<&str> = cells
        .iter()
        .map(|c| c["engine"].as_str().unwrap())
        .collect();
    assert_eq!(engines, ["onnxruntime", "lne", "litert"], "{group}");
    assert_eq!(cells[0]["job"]["result"], "passed", "{group}");
    assert_eq!(cells[1]["job"]["result"], "failed", "{group}");
    assert_eq!(cells[1]["job"]["failure"], "user_error", "{group}");
    assert!(cells[2]["job"].is_null(), "{group}");
    assert!(
        cells[2]["refused"]
            .as_str()
            .unwrap()
            .contains("the model is ONNX"),
        "{group}"
    );

    // The report: the cell that passed, and the other two beside it.
    let (code, r) = curl(&[&report]);
    assert_eq!(code, 200, "{r}");
    common::validate(&r);
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{r}");
    assert_eq!(runs[0]["engine"], "onnxruntime");
    assert_eq!(runs[0]["placement"]["platform"], here.as_str());
    assert_eq!(runs[0]["placement"]["job"], cells[0]["job"]["id"]);
    let errors = r["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{r}");
    assert_eq!(errors[0]["engine"], "lne");
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("failed (user_error): "),
        "{r}"
    );
    assert_eq!(errors[1]["engine"], "litert");
    assert!(
        errors[1]["error"]
            .as_str()
            .unwrap()
            .starts_with("refused at submission: "),
        "{r}"
    );

    let table = baas(&s.url, &["group", &id]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(table.lines().all(|l| l.chars().count() <= 100), "{table}");
    for state in ["passed", "failed: user_error", "refused"] {
        assert!(table.contains(state), "{state}: {table}");
    }
    let text = baas(&s.url, &["group", &id, "--report"]);
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains("== engine onnxruntime ("), "{text}");
    assert!(
        text.contains("error: engine lne: failed (user_error)"),
        "{text}"
    );
    let html = baas(&s.url, &["group", &id, "--report", "--format", "html"]);
    assert!(String::from_utf8_lossy(&html.stdout).contains("Cells that failed"));

    // Mistakes refuse the whole sweep, naming what is wrong.
    let model = "@tests/models/contrib_op.onnx";
    let sweep = |query: &str| {
        curl(&[
            "--data-binary",
            model,
            &format!("{}/v1/sweeps?{query}", s.url),
        ])
    };
    let (code, e) = sweep(&format!(
        "platform={here},nowhere&profile=default&engine=onnx"
    ));
    assert_eq!(code, 404, "{e}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("unknown platform 'nowhere'"),
        "{e}"
    );
    let (code, e) = sweep(&format!(
        "platform={here}&profile=default&engine=onnx&threads=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33"
    ));
    assert_eq!(code, 422, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("at most 32 cells"),
        "{e}"
    );
    let (code, e) = sweep(&format!(
        "platform={here}&profile=default&engine=litert,ncnn"
    ));
    assert_eq!(code, 422, "{e}");
    assert_eq!(e["details"].as_array().unwrap().len(), 2, "{e}");
    let (code, e) = curl(&[&format!("{}/v1/groups/no-such-group", s.url)]);
    assert_eq!(code, 404, "{e}");
}
