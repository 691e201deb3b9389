//! `lpdnn-host serve` as a client meets it: a real server on a loopback
//! port, its own sandboxed worker, the seed's upload route driven by curl,
//! and every refusal at upload with its status code.

mod common;

use common::baas::{curl, platform, serve, serve_in, until_up, worker, FACE};
use serde_json::Value;

#[test]
fn the_seed_route_benchmarks_an_uploaded_model_and_answers_with_the_result() {
    let s = serve(&[]);
    let route = format!(
        "{}/bonseyes_baas/{}/default/onnx?device=cpu&wait=300",
        s.url,
        platform()
    );
    let (code, body) = curl(&["--data-binary", FACE, &route]);
    assert_eq!(code, 200, "{body}");
    let job = &body["job"];
    assert_eq!(job["status"], "completed", "{body}");
    assert_eq!(job["result"], "passed", "{body}");
    assert_eq!(job["spec"]["engine"], "onnxruntime");
    assert_eq!(job["sandbox"]["rlimits"], true, "{job}");
    let run = &body["result"]["runs"][0];
    assert_eq!(run["engine"], "onnxruntime");
    for p in ["p50", "p90", "p99"] {
        assert!(
            run["phases"]["steady"]["anchors"]["inference"]["real_ms"][p]
                .as_f64()
                .unwrap()
                > 0.0
        );
    }
    assert_eq!(run["static_metrics"]["macs"], 30_760_960);
    assert!(body["result"]["provenance"]["lpdnn_host"]["version"].is_string());

    // The job and its result stay readable.
    let id = job["id"].as_str().unwrap();
    let (code, again) = curl(&[&format!("{}/v1/jobs/{id}", s.url)]);
    assert_eq!((code, &again["status"]), (200, &Value::from("completed")));
    let (code, report) = curl(&[&format!("{}/v1/jobs/{id}/result", s.url)]);
    assert_eq!(code, 200);
    assert_eq!(report["runs"][0]["engine"], "onnxruntime");
    let (code, devices) = curl(&[&format!("{}/v1/devices", s.url)]);
    assert_eq!(code, 200);
    assert_eq!(devices["devices"][0]["platform"], platform().as_str());
    assert_eq!(devices["devices"][0]["available"], true);
    // What the worker registered: its machine and its platform's descriptor.
    assert!(devices["devices"][0]["machine"]["cores"].as_u64().unwrap() >= 1);
    assert_eq!(
        devices["devices"][0]["descriptor"]["name"],
        platform().as_str()
    );
}

#[test]
fn the_seeds_tf_engine_runs_a_tensorflow_frozen_graph_on_lne() {
    let s = serve(&[]);
    let route = |engine: &str| {
        format!(
            "{}/bonseyes_baas/{}/default/{engine}?wait=300",
            s.url,
            platform()
        )
    };
    let graph = "@assets/models/efficientnet_lite0.pb";
    let (code, body) = curl(&["--data-binary", graph, &route("tf")]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["job"]["result"], "passed", "{body}");
    assert_eq!(body["job"]["spec"]["engine"], "lne");
    assert_eq!(body["job"]["spec"]["format"], "TensorFlow");
    let run = &body["result"]["runs"][0];
    assert_eq!(run["engine"], "lne");
    assert_eq!(run["static_metrics"]["format"], "tf");
    assert_eq!(run["static_metrics"]["macs"], 385_187_552);

    // A SavedModel's saved_model.pb is named, with how to freeze it.
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved_model.pb");
    std::fs::write(&saved, [0x08, 0x01, 0x12, 0x02, 0x12, 0x00]).unwrap();
    let (code, body) = curl(&[
        "--data-binary",
        &format!("@{}", saved.display()),
        &route("tf"),
    ]);
    assert_eq!(code, 422, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("SavedModel") && error.contains("frozen graph"),
        "{error}"
    );
}

#[test]
fn uploads_are_refused_before_anything_is_queued() {
    let s = serve(&["--max-upload", "100K"]);
    let p = platform();
    let at = |path: &str| format!("{}{path}", s.url);
    // A small model under the 100K cap for every case but the size's.
    let small = "@tests/models/open_dims.onnx";
    for (path, data, code, needle) in [
        (
            "/bonseyes_baas/riscv/default/onnx".to_string(),
            small,
            404,
            "unknown platform 'riscv'",
        ),
        (
            format!("/bonseyes_baas/{p}/turbo/onnx"),
            small,
            404,
            "unknown profile 'turbo'",
        ),
        (
            format!("/bonseyes_baas/{p}/default/tf"),
            small,
            422,
            "the model is ONNX; engine 'tf' takes TensorFlow frozen graphs (it runs them on \
             lne): ask for lne or onnxruntime by name",
        ),
        (
            format!("/bonseyes_baas/{p}/default/warp"),
            small,
            404,
            "unknown engine 'warp'",
        ),
        (
            format!("/bonseyes_baas/{p}/default/onnx"),
            "@README.md",
            422,
            "not a model",
        ),
        (
            format!("/bonseyes_baas/{p}/default/tflite"),
            "@tests/models/open_dims.onnx",
            422,
            "the model is ONNX; engine litert takes {TFLite}",
        ),
        (
            format!("/bonseyes_baas/{p}/default/onnx"),
            FACE,
            413,
            "length limit exceeded",
        ),
        (
            format!("/bonseyes_baas/{p}/default/onnx?device=tpu"),
            small,
            422,
            "device 'tpu'",
        ),
    ] {
        let (got, body) = curl(&["--data-binary", data, &at(&path)]);
        assert_eq!(got, code, "{path}: {body}");
        assert!(body.to_string().contains(needle), "{path}: {body}");
    }
    let (code, _) = curl(&[&at("/v1/jobs/nope")]);
    assert_eq!(code, 404);

    let secured = serve(&[
        "--token",
        "alice=0123456789",
        "--token",
        "bob=9876543210",
        "--quota",
        "1",
    ]);
    let route = format!("{}/bonseyes_baas/{p}/default/onnx", secured.url);
    let (code, _) = curl(&["--data-binary", FACE, &route]);
    assert_eq!(code, 401);
    let bearer = "Authorization: Bearer 0123456789";
    let long = format!("{route}?wait=0");
    let (code, first) = curl(&["-H", bearer, "--data-binary", FACE, &long]);
    assert_eq!(code, 202, "{first}");
    // The first job is queued or running (its benchmark takes seconds):
    // the quota of one is reached.
    let (code, body) = curl(&["-H", bearer, "--data-binary", FACE, &long]);
    assert_eq!(code, 429, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("alice has 1 jobs"),
        "{body}"
    );
    assert_eq!(first["job"]["owner"], "alice");
    let id = first["job"]["id"].as_str().unwrap();
    let job_url = format!("{}/v1/jobs/{id}", secured.url);
    let cancel = format!("{job_url}/cancel");
    // Without a token, or with another owner's, the job is not there.
    assert_eq!(curl(&[&job_url]).0, 401);
    let bob = "Authorization: Bearer 9876543210";
    assert_eq!(curl(&["-H", bob, &job_url]).0, 404);
    assert_eq!(curl(&["-H", bob, "-X", "POST", &cancel]).0, 404);
    assert_eq!(curl(&["-H", bearer, &job_url]).0, 200);
    let (code, cancelled) = curl(&["-H", bearer, "-X", "POST", &cancel]);
    assert_eq!(
        (code, &cancelled["status"]),
        (200, &Value::from("cancelled")),
        "{cancelled}"
    );
}

#[test]
fn a_job_whose_workers_are_gone_waits_as_pending_device_and_says_why() {
    // A first run registers this machine's worker; the second has none.
    let mut first = serve(&[]);
    let (code, _) = curl(&[&format!("{}/v1/devices", first.url)]);
    assert_eq!(code, 200);
    let data = first.data.take().unwrap();
    drop(first);
    let s = serve_in(data, &["--no-worker", "--worker-timeout", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let route = format!("{}/bonseyes_baas/{}/default/onnx?wait=1", s.url, platform());
    let (code, body) = curl(&["--data-binary", FACE, &route]);
    assert_eq!(code, 202, "{body}");
    let job = &body["job"];
    assert_eq!(job["status"], "pending_device", "{body}");
    assert!(
        job["message"]
            .as_str()
            .unwrap()
            .contains("no worker of platform"),
        "{body}"
    );
    let (_, devices) = curl(&[&format!("{}/v1/devices", s.url)]);
    assert_eq!(devices["devices"][0]["available"], false, "{devices}");
    assert_eq!(devices["devices"][0]["queue_depth"], 1, "{devices}");
}

#[test]
fn the_seeds_platform_names_resolve_to_ours_and_a_device_not_offered_is_refused() {
    let s = serve(&["--no-worker"]);
    let small = "@tests/models/open_dims.onnx";
    let seed = |platform: &str, query: &str| {
        curl(&[
            "--data-binary",
            small,
            &format!("{}/bonseyes_baas/{platform}/default/onnx?{query}", s.url),
        ])
    };
    // No worker yet: the seed's name says what it stands for.
    let (code, body) = seed("x86", "");
    assert_eq!(code, 404, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("platform 'x86' (the seed's name for x86_64-linux, intel-nuc-i5-7260u)"),
        "{error}"
    );
    let (code, body) = seed("riscv", "");
    assert_eq!(code, 404, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("the seed's names x86, x86_64, raspberrypi, jetson are taken too"),
        "{body}"
    );

    // A Pi 3B+ alone: `raspberrypi` is it.
    let _pi3 = worker(&s.url, &["--platform", "raspberry-pi-3b-plus"]);
    until_up(&s.url, "raspberry-pi-3b-plus", &[]);
    let (code, body) = seed("raspberrypi", "number=1&warmup=0");
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["job"]["spec"]["platform"], "raspberry-pi-3b-plus");
    // With a Pi 4B beside it, the 4B is preferred.
    let _pi4 = worker(&s.url, &["--platform", "raspberry-pi-4b"]);
    until_up(&s.url, "raspberry-pi-4b", &[]);
    let (code, body) = seed("raspberrypi", "number=1&warmup=0");
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["job"]["spec"]["platform"], "raspberry-pi-4b");

    // A device the workers' engine does not offer there: refused at upload,
    // naming the devices it does offer.
    let (_, devices) = curl(&[&format!("{}/v1/devices", s.url)]);
    let offered: Vec<String> = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["platform"] == "raspberry-pi-4b")
        .flat_map(|w| w["engines"].as_array().unwrap().clone())
        .filter(|e| e["name"] == "onnxruntime")
        .flat_map(|e| e["devices"].as_array().unwrap().clone())
        .map(|d| d.as_str().unwrap().to_owned())
        .collect();
    let missing = ["gpu", "npu"]
        .into_iter()
        .find(|d| !offered.iter().any(|o| o == d))
        .expect("this machine's onnxruntime offers every device");
    let (code, body) = seed("raspberrypi", &format!("device={missing}"));
    assert_eq!(code, 422, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains(&format!(
            "device '{missing}' is not offered by engine onnxruntime on raspberry-pi-4b/default; \
             devices there: {}",
            offered.join(", ")
        )),
        "{error}"
    );
}

#[test]
fn a_multipart_upload_to_the_seed_route_is_told_to_send_the_raw_body() {
    let s = serve(&["--no-worker"]);
    let (code, body) = curl(&[
        "-F",
        &format!("file={FACE}"),
        &format!("{}/bonseyes_baas/x86/default/onnx", s.url),
    ]);
    assert_eq!(code, 415, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("raw body"), "{error}");
    assert!(error.contains("--data-binary @model.onnx"), "{error}");
    assert!(error.contains("POST /v1/jobs"), "{error}");
}

#[test]
fn with_tokens_only_health_api_and_page_are_public_and_a_wrong_token_is_refused_everywhere() {
    let s = serve(&[
        "--no-worker",
        "--token",
        "alice=0123456789",
        "--worker-token",
        "worker-secret-1",
    ]);
    let at = |path: &str| format!("{}{path}", s.url);
    let alice = "Authorization: Bearer 0123456789";
    let worker = "Authorization: Bearer worker-secret-1";
    let wrong = "Authorization: Bearer 0123456788";
    let basic = "Authorization: Basic YWxpY2U6MDEyMzQ1Njc4OQ==";
    for path in ["/health", "/openapi.json", "/"] {
        assert_eq!(curl(&[&at(path)]).0, 200, "{path}");
        assert_eq!(curl(&["-H", alice, &at(path)]).0, 200, "{path}");
        for bad in [wrong, basic] {
            let (code, body) = curl(&["-H", bad, &at(path)]);
            assert_eq!(code, 401, "{path} {bad}: {body}");
        }
    }
    // The catalog and the metrics describe the machines and everyone's
    // jobs: a user's or a worker's token.
    for path in ["/v1/devices", "/metrics"] {
        let (code, body) = curl(&[&at(path)]);
        assert_eq!(code, 401, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("bearer token"),
            "{body}"
        );
        assert_eq!(curl(&["-H", wrong, &at(path)]).0, 401, "{path}");
        assert_eq!(curl(&["-H", alice, &at(path)]).0, 200, "{path}");
        assert_eq!(curl(&["-H", worker, &at(path)]).0, 200, "{path}");
    }
    // The rest: a wrong token is a 401, never a 404.
    for (method, path) in [
        ("GET", "/v1/jobs"),
        ("GET", "/v1/jobs/nope"),
        ("GET", "/v1/export"),
        ("POST", "/v1/workers/x/heartbeat"),
        ("POST", "/bonseyes_baas/x86/default/onnx"),
    ] {
        let (code, body) = curl(&["-X", method, "-H", wrong, &at(path)]);
        assert_eq!(code, 401, "{method} {path}: {body}");
    }
    // A worker's token is not a user's.
    let (code, body) = curl(&["-H", worker, &at("/v1/jobs/nope")]);
    assert_eq!(code, 401, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("only the workers' routes"),
        "{body}"
    );

    // Without tokens nothing is checked: a stale token does no harm.
    let open = serve(&["--no-worker"]);
    for path in ["/health", "/v1/devices", "/metrics", "/v1/jobs"] {
        let (code, body) = curl(&["-H", wrong, &format!("{}{path}", open.url)]);
        assert_eq!(code, 200, "{path}: {body}");
    }
}
