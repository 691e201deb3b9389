//! The service's web page in a real browser: headless Chromium driven over
//! WebDriver (Debian `chromium` and `chromium-driver`, installed by
//! `scripts/setup.sh --all`) uploads the face model, follows the job and
//! waits for the report's table. A screenshot is kept in the test's
//! scratch folder for a person to look at.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::baas::{curl, serve};
use common::root;
use serde_json::{json, Value};

/// A chromedriver and one browser session, both ended when dropped.
struct Browser {
    driver: Child,
    base: String,
}

impl Browser {
    fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian chromium-driver; scripts/setup.sh --all installs it)");
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while curl(&[&format!("{url}/status")]).0 != 200 {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let (code, session) = post(
            &format!("{url}/session"),
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--window-size=1280,1400"]
                }
            }}}),
        );
        assert_eq!(code, 200, "{session}");
        let id = session["value"]["sessionId"].as_str().unwrap();
        Browser {
            driver,
            base: format!("{url}/session/{id}"),
        }
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let (code, v) = post(&format!("{}{path}", self.base), body);
        assert_eq!(code, 200, "{path}: {v}");
        v["value"].clone()
    }

    fn get(&self, path: &str) -> Value {
        let (code, v) = curl(&[&format!("{}{path}", self.base)]);
        assert_eq!(code, 200, "{path}: {v}");
        v["value"].clone()
    }

    /// The element `css` selects, once it exists.
    fn find(&self, css: &str) -> String {
        let start = Instant::now();
        loop {
            let (code, v) = post(
                &format!("{}/element", self.base),
                json!({"using": "css selector", "value": css}),
            );
            if code == 200 {
                return v["value"]
                    .as_object()
                    .unwrap()
                    .values()
                    .next()
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned();
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{css}: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn text(&self, element: &str) -> String {
        self.get(&format!("/element/{element}/text"))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = Command::new("curl")
            .args(["-sS", "-X", "DELETE", &self.base])
            .output();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn post(url: &str, body: Value) -> (u16, Value) {
    curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        &body.to_string(),
        url,
    ])
}

#[test]
fn the_web_page_uploads_a_model_follows_the_job_and_shows_the_report() {
    let s = serve(&[]);
    let b = Browser::start();
    b.post("/url", json!({ "url": format!("{}/", s.url) }));
    // The live catalog fills the choices.
    let engine = b.find("#engine option[value='onnxruntime']");
    b.post(&format!("/element/{engine}/click"), json!({}));
    let model = root().join("assets/models/face_detection_short_range.onnx");
    let file = b.find("#file");
    b.post(
        &format!("/element/{file}/value"),
        json!({ "text": model.display().to_string() }),
    );
    let duration = b.find("#duration");
    b.post(
        &format!("/element/{duration}/value"),
        json!({ "text": "1" }),
    );
    let submit = b.find("#submit");
    b.post(&format!("/element/{submit}/click"), json!({}));

    // The report appears in its frame when the job passes.
    let report = b.find("#report");
    let start = Instant::now();
    while b.get(&format!("/element/{report}/property/hidden")) != json!(false) {
        let status = b.text(&b.find("#status"));
        let error = b.text(&b.find("#jobError")) + &b.text(&b.find("#formError"));
        assert!(error.is_empty(), "the page says: {error} ({status})");
        assert!(start.elapsed() < Duration::from_secs(300), "{status}");
        std::thread::sleep(Duration::from_millis(250));
    }
    let status = b.text(&b.find("#status"));
    assert!(status.starts_with("completed, passed"), "{status}");
    let shot = b.get("/screenshot");
    let png = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("baas-page.png");
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(shot.as_str().unwrap())
        .unwrap();
    std::fs::write(&png, bytes).unwrap();

    // The page's only frame is the report.
    b.post("/frame", json!({ "id": 0 }));
    // The report's summary table: the engine, its percentiles, its MACs.
    let table = b.find("table");
    let text = b.text(&table);
    for word in ["onnxruntime", "p50", "p99", "30.76"] {
        assert!(text.contains(word), "{word}: {text}");
    }
}
