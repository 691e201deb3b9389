//! Benchmark as a Service, the client's side: the HTTP API as plain
//! calls. `lpdnn-host baas` (the seed's `bonseyes_baas_cli`) is a thin
//! layer over [`Client`].
//!
//! This build speaks plain HTTP (put a TLS-terminating proxy in front of a
//! service reached beyond loopback, and give its `http://` side to
//! workers on the same network).

#![warn(missing_docs)]

mod remote;

use std::path::Path;
use std::time::Duration;

use lpdnn_baas_api::{
    Accepted, Device, DeviceCatalog, ErrorBody, ExportFormat, ExportTable, GroupView, Job, JobList,
    JobOptions, JobView, ResultFormat,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use remote::RemoteQueue;

/// Errors of a call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not one this client can call.
    #[error("--url {url}: {message}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The service could not be reached or the transfer failed.
    #[error("cannot reach the service at {url}: {source}")]
    Transport {
        /// The URL called.
        url: String,
        /// Why.
        #[source]
        source: ureq::Error,
    },
    /// The service answered with an error.
    #[error("the service answered {code}: {message}")]
    Status {
        /// HTTP status.
        code: u16,
        /// Its `error` field (or the body).
        message: String,
    },
    /// The answer is not what the API gives.
    #[error("the service's answer to {url} is not what this client expects: {message}")]
    Answer {
        /// The URL called.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Where a job runs.
#[derive(Debug, Clone)]
pub struct Target {
    /// Platform name.
    pub platform: String,
    /// Profile name.
    pub profile: String,
    /// Engine (the seed's names or ours).
    pub engine: String,
    /// Where it runs.
    pub device: Device,
}

/// Where a sweep's jobs run: every combination of these (a job group).
#[derive(Debug, Clone, Default)]
pub struct Sweep {
    /// Platform names.
    pub platforms: Vec<String>,
    /// Profile names.
    pub profiles: Vec<String>,
    /// Engines (the seed's names or ours).
    pub engines: Vec<String>,
    /// Devices (none: cpu).
    pub devices: Vec<Device>,
    /// Engine threads (none: the worker's default).
    pub threads: Vec<usize>,
}

/// A request's body.
enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    Json(&'a Value),
}

/// Largest answer read (a report with its timeline, an export).
const MAX_ANSWER: u64 = 512 << 20;

/// A connection to one service.
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// Characters kept as they are in a path segment or query value.
fn escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The query fields of `options` but threads, and the name of `file` (a
/// bare model's report is titled with it).
fn option_query(options: &JobOptions, file: &Path) -> Vec<String> {
    let fields = [
        ("number", options.number.map(|v| v.to_string())),
        ("duration", options.duration_s.map(|v| v.to_string())),
        ("warmup", options.warmup.map(|v| v.to_string())),
        ("layers", options.layers.map(|v| v.to_string())),
        (
            "check_against",
            options.check_against.map(|e| e.to_string()),
        ),
        (
            "input_shape",
            (!options.input_shapes.is_empty()).then(|| options.input_shapes.join(";")),
        ),
        (
            "name",
            file.file_name().map(|n| n.to_string_lossy().into_owned()),
        ),
    ];
    fields
        .into_iter()
        .filter_map(|(k, v)| Some(format!("{k}={}", escape(&v?))))
        .collect()
}

impl Client {
    /// A client of the service at `url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(url: &str, token: Option<String>) -> Result<Client, ClientError> {
        let bad = |message: &str| ClientError::Url {
            url: url.to_owned(),
            message: message.to_owned(),
        };
        if url.starts_with("https://") {
            return Err(bad(
                "this build speaks plain HTTP; reach the service through http:// (its TLS \
                 proxy's inner side, or an SSH tunnel)",
            ));
        }
        if !url.starts_with("http://") {
            return Err(bad(
                "give the service's address, e.g. http://127.0.0.1:8080",
            ));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            // A service that takes a request and never answers must not
            // hold a worker or a client for ever (a claim waits 10 s there).
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .build()
            .into();
        Ok(Client {
            base: url.trim_end_matches('/').to_owned(),
            token,
            agent,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; gives the status and body of a 2xx answer, the
    /// service's error otherwise.
    fn send(&self, method: &str, path: &str, body: Body) -> Result<(u16, Vec<u8>), ClientError> {
        let url = self.url(path);
        let transport = |source| ClientError::Transport {
            url: url.clone(),
            source,
        };
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut response = if method == "GET" {
            let mut r = self.agent.get(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call()
        } else {
            let mut r = self.agent.post(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            match body {
                Body::Empty => r.send_empty(),
                Body::Bytes(b) => r.header("Content-Type", "application/octet-stream").send(b),
                Body::Json(v) => r.send_json(v),
            }
        }
        .map_err(transport)?;
        let code = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(transport)?;
        if !(200..300).contains(&code) {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let message = serde_json::from_str::<ErrorBody>(&text)
                .map(|b| b.error)
                .unwrap_or(text);
            return Err(ClientError::Status { code, message });
        }
        Ok((code, bytes))
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<(u16, String), ClientError> {
        let body = body.map_or(Body::Empty, Body::Bytes);
        let (code, bytes) = self.send(method, path, body)?;
        Ok((code, String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// POSTs `body` as JSON; gives the status and the answer's text.
    pub(crate) fn call_json(&self, path: &str, body: &Value) -> Result<(u16, String), ClientError> {
        let (code, bytes) = self.send("POST", path, Body::Json(body))?;
        Ok((code, String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// GETs `path`'s bytes.
    pub(crate) fn bytes(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        Ok(self.send("GET", path, Body::Empty)?.1)
    }

    /// The answer to `method path` (no body), as the API's type `T`.
    fn typed<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<T, ClientError> {
        let (_, text) = self.call(method, path, body)?;
        serde_json::from_str(&text).map_err(|e| ClientError::Answer {
            url: self.url(path),
            message: e.to_string(),
        })
    }

    /// Uploads a model or an app bundle once for every cell of `sweep`;
    /// gives the job group (the cells that cannot run there say why).
    pub fn submit_sweep(
        &self,
        file: &Path,
        sweep: &Sweep,
        options: &JobOptions,
    ) -> Result<GroupView, ClientError> {
        let bytes = std::fs::read(file).map_err(|source| ClientError::File {
            path: file.display().to_string(),
            source,
        })?;
        let join = |v: Vec<String>| escape(&v.join(","));
        let mut query = vec![
            format!("platform={}", join(sweep.platforms.clone())),
            format!("profile={}", join(sweep.profiles.clone())),
            format!("engine={}", join(sweep.engines.clone())),
        ];
        if !sweep.devices.is_empty() {
            query.push(format!(
                "device={}",
                join(sweep.devices.iter().map(|d| d.to_string()).collect())
            ));
        }
        if !sweep.threads.is_empty() {
            query.push(format!(
                "threads={}",
                join(sweep.threads.iter().map(|t| t.to_string()).collect())
            ));
        }
        query.extend(option_query(options, file));
        let path = format!("/v1/sweeps?{}", query.join("&"));
        self.typed("POST", &path, Some(&bytes))
    }

    /// The job group of that id, each cell with its job's state.
    pub fn group(&self, id: &str) -> Result<GroupView, ClientError> {
        self.typed("GET", &format!("/v1/groups/{}", escape(id)), None)
    }

    /// A group's comparison report as JSON, CSV or HTML text (once every
    /// cell ended).
    pub fn group_report(&self, id: &str, format: ResultFormat) -> Result<String, ClientError> {
        let path = format!(
            "/v1/groups/{}/report?format={}",
            escape(id),
            format.as_str()
        );
        Ok(self.call("GET", &path, None)?.1)
    }

    /// Polls the group until every cell ended (or `timeout`), calling
    /// `seen` with each new state; gives the last state.
    pub fn wait_group(
        &self,
        id: &str,
        timeout: Duration,
        seen: impl FnMut(&GroupView),
    ) -> Result<GroupView, ClientError> {
        poll(|| self.group(id), GroupView::ended, timeout, seen)
    }

    /// Uploads a model or an app bundle through the seed's route; gives the
    /// queued job.
    pub fn submit(
        &self,
        file: &Path,
        target: &Target,
        options: &JobOptions,
    ) -> Result<Job, ClientError> {
        let bytes = std::fs::read(file).map_err(|source| ClientError::File {
            path: file.display().to_string(),
            source,
        })?;
        let mut query = vec![format!("device={}", target.device)];
        if let Some(t) = options.threads {
            query.push(format!("threads={t}"));
        }
        query.extend(option_query(options, file));
        let path = format!(
            "/bonseyes_baas/{}/{}/{}?{}",
            escape(&target.platform),
            escape(&target.profile),
            escape(&target.engine),
            query.join("&")
        );
        let accepted: Accepted = self.typed("POST", &path, Some(&bytes))?;
        Ok(accepted.job.job)
    }

    /// The job of that id.
    pub fn job(&self, id: &str) -> Result<Job, ClientError> {
        let path = format!("/v1/jobs/{}", escape(id));
        Ok(self.typed::<JobView>("GET", &path, None)?.job)
    }

    /// The caller's latest `limit` jobs (its token's), newest first.
    pub fn jobs(&self, limit: u32) -> Result<Vec<Job>, ClientError> {
        let path = format!("/v1/jobs?limit={limit}");
        let list: JobList = self.typed("GET", &path, None)?;
        Ok(list.jobs.into_iter().map(|v| v.job).collect())
    }

    /// A passed job's report as JSON, CSV or HTML text.
    pub fn result(&self, id: &str, format: ResultFormat) -> Result<String, ClientError> {
        let path = format!("/v1/jobs/{}/result?format={}", escape(id), format.as_str());
        Ok(self.call("GET", &path, None)?.1)
    }

    /// Cancels a queued or running job.
    pub fn cancel(&self, id: &str) -> Result<Job, ClientError> {
        let path = format!("/v1/jobs/{}/cancel", escape(id));
        Ok(self.typed::<JobView>("POST", &path, None)?.job)
    }

    /// Runs a finished job again; gives the new job.
    pub fn retry(&self, id: &str) -> Result<Job, ClientError> {
        let path = format!("/v1/jobs/{}/retry", escape(id));
        Ok(self.typed::<Accepted>("POST", &path, None)?.job.job)
    }

    /// The live device catalog.
    pub fn devices(&self) -> Result<DeviceCatalog, ClientError> {
        self.typed("GET", "/v1/devices", None)
    }

    /// The profiling dataset as CSV or JSON Lines, from `since` (RFC 3339
    /// or milliseconds since the epoch).
    pub fn export(
        &self,
        format: ExportFormat,
        table: ExportTable,
        since: Option<&str>,
    ) -> Result<String, ClientError> {
        let mut path = format!(
            "/v1/export?format={}&table={}",
            format.as_str(),
            table.as_str()
        );
        if let Some(since) = since {
            path.push_str(&format!("&since={}", escape(since)));
        }
        Ok(self.call("GET", &path, None)?.1)
    }

    /// Polls the job until it ends (or `timeout`), calling `seen` with each
    /// new state; gives the last state.
    pub fn wait(
        &self,
        id: &str,
        timeout: Duration,
        seen: impl FnMut(&Job),
    ) -> Result<Job, ClientError> {
        let ended = |job: &Job| {
            matches!(
                job.status,
                lpdnn_baas_api::JobStatus::Completed | lpdnn_baas_api::JobStatus::Cancelled
            )
        };
        poll(|| self.job(id), ended, timeout, seen)
    }
}

/// Reads `get` every half second until `ended` (or `timeout`), calling
/// `seen` with each new state; gives the last state.
fn poll<T: PartialEq>(
    get: impl Fn() -> Result<T, ClientError>,
    ended: impl Fn(&T) -> bool,
    timeout: Duration,
    mut seen: impl FnMut(&T),
) -> Result<T, ClientError> {
    let start = std::time::Instant::now();
    let mut last: Option<T> = None;
    loop {
        let now = get()?;
        if last.as_ref() != Some(&now) {
            seen(&now);
        }
        if ended(&now) || start.elapsed() >= timeout {
            return Ok(now);
        }
        last = Some(now);
        std::thread::sleep(Duration::from_millis(500));
    }
}
