//! Uploads: the seed's route (the model as the body) and `POST /v1/jobs`
//! (multipart). Both go through [`Service::accept`], which checks
//! everything before anything is queued.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lpdnn_baas_api::{
    Accepted, Device, EngineName, Job, JobOptions, JobSpec, JobStatus, ModelFormat, SubjectKind,
};
use lpdnn_jobs::{JobQueue, JobStore, NewJob};
use serde::Deserialize;
use serde_json::json;

use crate::error::{unprocessable, ApiError, Query};
use crate::state::Service;

/// The seed's platform names (`x86`, `raspberrypi`, `jetson`; and
/// `x86_64`) → ours, in order of preference: a name resolves to the first
/// of its platforms with a live worker, else the first with any. `x86` is
/// any x86-64 Linux machine (the generic descriptor; the seed's one x86
/// board, the Intel NUC, after it); the seed's Raspberry Pis are the 4B and
/// the 3B+ (the newer first); its Jetsons the AGX Xavier (the board of its
/// worked example) and the Nano.
pub(crate) const SEED_PLATFORMS: &[(&str, &[&str])] = &[
    ("x86", &["x86_64-linux", "intel-nuc-i5-7260u"]),
    ("x86_64", &["x86_64-linux", "intel-nuc-i5-7260u"]),
    ("raspberrypi", &["raspberry-pi-4b", "raspberry-pi-3b-plus"]),
    ("jetson", &["jetson-xavier", "jetson-nano"]),
];

/// The platform `name` stands for among those workers registered
/// (`registered`: each with whether one of its workers is live): itself,
/// or the preferred platform of a seed name; 404 listing what exists
/// otherwise.
pub(crate) fn our_platform(
    name: &str,
    registered: &BTreeMap<&str, bool>,
) -> Result<String, ApiError> {
    if registered.contains_key(name) {
        return Ok(name.to_owned());
    }
    let platforms = registered.keys().copied().collect::<Vec<_>>().join(", ");
    let seed = SEED_PLATFORMS.iter().find(|(seed, _)| *seed == name);
    let Some((_, ours)) = seed else {
        let seeds = SEED_PLATFORMS
            .iter()
            .map(|(s, _)| *s)
            .collect::<Vec<_>>()
            .join(", ");
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "unknown platform '{name}'; platforms: {platforms} (the seed's names {seeds} \
                 are taken too)"
            ),
        ));
    };
    let live = ours.iter().find(|p| registered.get(**p) == Some(&true));
    let any = ours.iter().find(|p| registered.contains_key(**p));
    live.or(any).map(|p| (*p).to_owned()).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "platform '{name}' (the seed's name for {}) has no worker registered; \
                 platforms: {platforms}",
                ours.join(", ")
            ),
        )
    })
}

/// The engine our name or one of its aliases (the seed's `onnx`,
/// `tflite`, `lpdnn`; other tools' `ort`, `trt`, ...) gives, 404 listing
/// the engines and their aliases otherwise.
pub(crate) fn our_engine(name: &str) -> Result<EngineName, ApiError> {
    let offered = || {
        EngineName::ALL
            .iter()
            .map(|e| match e.aliases() {
                [] => e.to_string(),
                aliases => format!("{e} ({})", aliases.join(", ")),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    EngineName::from_alias(name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("unknown engine '{name}'; offered: {}", offered()),
        )
    })
}

/// What an upload asks for, before it is checked.
#[derive(Debug, Default)]
pub(crate) struct Ask {
    pub platform: String,
    pub profile: String,
    pub engine: String,
    pub device: Option<String>,
    pub options: JobOptions,
    /// A bare model or an app bundle.
    pub subject: Option<SubjectKind>,
}

/// Most profiled runs a job may ask for.
const MAX_LAYER_RUNS: u64 = 1000;

/// Refuses options no benchmark would run with, naming the field.
pub(crate) fn check_options(o: &JobOptions) -> Result<(), ApiError> {
    if let Some(Err(m)) = o.threads.map(lpdnn_model_file::check_threads) {
        return Err(unprocessable(format!("threads {m}")));
    }
    if o.number == Some(0) {
        return Err(unprocessable("number must be at least 1"));
    }
    if let Some(d) = o.duration_s {
        if !(d.is_finite() && d > 0.0 && d <= 3600.0) {
            return Err(unprocessable(format!(
                "duration must be a number of seconds in (0, 3600], not {d}"
            )));
        }
    }
    if o.warmup.is_some_and(|w| w > 1_000_000) {
        return Err(unprocessable("warmup is at most 1000000 iterations"));
    }
    if o.layers.is_some_and(|n| !(1..=MAX_LAYER_RUNS).contains(&n)) {
        return Err(unprocessable(format!(
            "layers is a number of profiled runs from 1 to {MAX_LAYER_RUNS}"
        )));
    }
    if o.input_shapes.len() > 64 {
        return Err(unprocessable("at most 64 input_shape fields"));
    }
    for shape in &o.input_shapes {
        let (_, dims) = lpdnn_model_file::parse_input_shape(shape)
            .map_err(|m| unprocessable(format!("input_shape {m}")))?;
        if dims.len() > 8
            || dims
                .iter()
                .try_fold(1usize, |n, d| n.checked_mul(*d))
                .is_none_or(|n| n > 1 << 28)
        {
            return Err(unprocessable(format!(
                "input_shape '{shape}': at most 8 dimensions and 2^28 elements"
            )));
        }
    }
    Ok(())
}

/// The bundle checks made for one upload, by engine and the formats it
/// takes where the job runs (a sweep checks each pair once).
#[derive(Default)]
pub(crate) struct BundleChecks(Vec<(BundleKey, Result<String, String>)>);

/// An engine and the formats it takes where a job runs.
type BundleKey = (EngineName, Vec<ModelFormat>);

impl<S: JobStore + JobQueue> Service<S> {
    /// Checks an upload and queues it: the engine (404), the device (422),
    /// the platform, profile and engine among the workers' (404), the
    /// bytes against the engine's formats (422), the options (422), the
    /// owner's quota (429). The file is stored once by its SHA-256.
    pub(crate) async fn accept(
        &self,
        owner: String,
        ask: Ask,
        body: Bytes,
    ) -> Result<Job, ApiError> {
        let catalog = self.catalog().await?;
        let mut spec = self
            .check(&catalog, ask, &body, &mut BundleChecks::default())
            .await?;
        spec.sha256 = self.store_upload(&body).await?;
        Ok(self.jobs.submit(self.new_job(spec, owner)).await?)
    }

    /// Stores an upload by its SHA-256 and records it; gives that.
    pub(crate) async fn store_upload(&self, body: &Bytes) -> Result<String, ApiError> {
        let (sha256, _) = self
            .content
            .put(body)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        self.jobs.record_upload(&sha256, body.len() as u64).await?;
        Ok(sha256)
    }

    /// A job of `owner` for `spec`, under the service's limits.
    pub(crate) fn new_job(&self, spec: JobSpec, owner: String) -> NewJob {
        NewJob {
            spec,
            owner,
            max_attempts: self.config.max_attempts,
            queue_ttl: self.config.queue_ttl,
            retry_of: None,
            quota: Some(self.config.quota),
        }
    }

    /// What [`Service::accept`] checks, against the workers' `catalog`;
    /// gives the job's spec, its `sha256` empty (the upload is not stored
    /// yet).
    pub(crate) async fn check(
        &self,
        catalog: &[(lpdnn_baas_api::WorkerInfo, bool)],
        ask: Ask,
        body: &Bytes,
        bundles: &mut BundleChecks,
    ) -> Result<JobSpec, ApiError> {
        let engine = our_engine(&ask.engine)?;
        let device = match ask.device {
            None => Device::Cpu,
            Some(d) => d
                .parse::<Device>()
                .map_err(|_| unprocessable(format!("device '{d}' is not one of cpu, gpu, npu")))?,
        };
        // What exists: the platforms and profiles workers registered.
        let mut exists: BTreeMap<&str, BTreeMap<&str, Vec<EngineName>>> = BTreeMap::new();
        let mut registered: BTreeMap<&str, bool> = BTreeMap::new();
        for (w, alive) in catalog {
            exists
                .entry(&w.platform)
                .or_default()
                .entry(&w.profile)
                .or_default()
                .extend(w.engines.iter().map(|e| e.name));
            *registered.entry(&w.platform).or_default() |= *alive;
        }
        let platform =
            our_platform(&ask.platform, &registered).map_err(|e| e.with(json!(exists)))?;
        let profile = ask.profile;
        let profiles = &exists[platform.as_str()];
        let engines = profiles.get(profile.as_str()).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "unknown profile '{profile}' of platform {platform}; profiles: {}",
                    profiles.keys().copied().collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        if !engines.contains(&engine) {
            let mut offered: Vec<&str> = engines.iter().map(|e| e.as_str()).collect();
            offered.sort();
            offered.dedup();
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "engine {engine} is not offered on {platform}/{profile}; engines there: {}",
                    offered.join(", ")
                ),
            ));
        }
        // That engine as the workers there registered it.
        let offers: Vec<_> = catalog
            .iter()
            .filter(|(w, _)| w.platform == platform && w.profile == profile)
            .flat_map(|(w, _)| &w.engines)
            .filter(|e| e.name == engine)
            .collect();
        // The devices it has there, on any of the workers.
        let devices: BTreeSet<Device> = offers
            .iter()
            .flat_map(|e| e.devices.iter().copied())
            .collect();
        if !devices.contains(&device) {
            return Err(unprocessable(format!(
                "device '{device}' is not offered by engine {engine} on {platform}/{profile}; \
                 devices there: {}",
                if devices.is_empty() {
                    "none".to_owned()
                } else {
                    devices
                        .iter()
                        .map(|d| d.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )));
        }
        // The formats it takes there (a name this release does not know
        // was left out as the worker registered).
        let formats: Vec<ModelFormat> = offers
            .iter()
            .flat_map(|e| e.formats.iter().copied())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let subject = ask.subject.unwrap_or(SubjectKind::Model);
        let format = match subject {
            SubjectKind::Model => model_format(&ask.engine, engine, &formats, body)?.to_string(),
            SubjectKind::Bundle if EngineName::is_tensorflow_alias(&ask.engine) => {
                return Err(unprocessable(format!(
                    "engine '{}' takes a TensorFlow frozen graph as the body; for an app \
                     whose model has a `tf` form, ask for {engine}",
                    ask.engine
                )));
            }
            SubjectKind::Bundle => {
                let key = (engine, formats);
                match bundles.0.iter().find(|(k, _)| *k == key) {
                    Some((_, Ok(format))) => format.clone(),
                    Some((_, Err(why))) => return Err(unprocessable(why.clone())),
                    None => {
                        // One check per CPU at once; the others wait their turn.
                        let turn = self
                            .bundle_checks
                            .acquire()
                            .await
                            .map_err(|e| ApiError::internal(e.to_string()))?;
                        let checked = check_bundle(engine, key.1.clone(), body.clone()).await;
                        drop(turn);
                        match checked {
                            Ok(format) => {
                                bundles.0.push((key, Ok(format.clone())));
                                format
                            }
                            Err(e) if e.status().is_client_error() => {
                                bundles.0.push((key, Err(e.message.clone())));
                                return Err(e);
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        };
        // The quota was checked before the body was read (the uploads'
        // middleware); the store checks it again as it queues the job.
        check_options(&ask.options)?;
        Ok(JobSpec {
            platform,
            profile,
            engine,
            device,
            subject,
            sha256: String::new(),
            format,
            options: ask.options,
        })
    }

    /// `202` with the job and its `Location`; with `wait`, `200` with the
    /// job and its result when it ends within that many seconds.
    pub(crate) async fn answer(&self, job: Job, wait: Option<u64>) -> Result<Response, ApiError> {
        let id = job.id.clone();
        let location = format!("/v1/jobs/{id}");
        if let Some(wait) = wait {
            let deadline = Instant::now() + Duration::from_secs(wait.min(600));
            while Instant::now() < deadline {
                let job = self.jobs.get(&id).await?;
                if matches!(job.status, JobStatus::Completed | JobStatus::Cancelled) {
                    let report = self.jobs.report(&id).await?;
                    let body = Accepted {
                        job: self.view(job).await?,
                        result: report.and_then(|r| serde_json::from_str(&r).ok()),
                    };
                    return Ok((StatusCode::OK, [(header::LOCATION, location)], Json(body))
                        .into_response());
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let job = self.jobs.get(&id).await?;
        Ok((
            StatusCode::ACCEPTED,
            [(header::LOCATION, location)],
            Json(Accepted {
                job: self.view(job).await?,
                result: None,
            }),
        )
            .into_response())
    }
}

/// The model's format, if `engine` takes it (its `formats` where the job
/// runs; 422 naming both otherwise). `asked` is the engine's name as the
/// request gave it: the seed's `tf` takes TensorFlow graphs only.
fn model_format(
    asked: &str,
    engine: EngineName,
    formats: &[ModelFormat],
    body: &[u8],
) -> Result<ModelFormat, ApiError> {
    let format = lpdnn_model_file::sniff(body);
    if format == ModelFormat::Unknown {
        let what = match lpdnn_model_file::tensorflow_kind(body) {
            Some(kind) => format!("{kind}; {}", lpdnn_model_file::FREEZE),
            None => "not a model this service recognises (ONNX, TFLite, a TensorFlow frozen \
                     graph)"
                .into(),
        };
        return Err(unprocessable(format!(
            "the body ({} bytes) is {what}",
            body.len()
        )));
    }
    if EngineName::is_tensorflow_alias(asked) && format != ModelFormat::TfGraph {
        let by_name = match format {
            ModelFormat::Onnx => "lne or onnxruntime",
            ModelFormat::TfLite => "litert",
            _ => "the engine of its format",
        };
        return Err(unprocessable(format!(
            "the model is {format}; engine '{asked}' takes TensorFlow frozen graphs (it runs \
             them on {engine}): ask for {by_name} by name"
        )));
    }
    if !formats.contains(&format)
        || !matches!(
            format,
            ModelFormat::Onnx | ModelFormat::TfLite | ModelFormat::TfGraph
        )
    {
        let takes: Vec<String> = formats.iter().map(ToString::to_string).collect();
        return Err(unprocessable(format!(
            "the model is {format}; engine {engine} takes {{{}}} (NCNN models come with \
             their .bin in an app bundle)",
            takes.join(", ")
        )));
    }
    Ok(format)
}

/// Checks a bundle as its archive streams, writing only its outline (its
/// folders, app.json, every other file empty) into a scratch folder, and
/// checks its app against the engine and the `formats` it takes where the
/// job runs (422 saying what is wrong); gives its archive format. The
/// worker unpacks it for real in the job's folder.
async fn check_bundle(
    engine: EngineName,
    formats: Vec<ModelFormat>,
    body: Bytes,
) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::Builder::new()
            .prefix("lpdnn-bundle-check-")
            .tempdir()
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        // Paths in the words are the bundle's own, not the scratch folder's.
        let scratch = format!("{}/", dir.path().display());
        let refused = |e: lpdnn_bundle::BundleError| match e {
            lpdnn_bundle::BundleError::Io(e) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
            e => unprocessable(format!("bundle: {}", e.to_string().replace(&scratch, ""))),
        };
        let format = lpdnn_bundle::outline(&body, dir.path(), lpdnn_bundle::Limits::default())
            .map_err(refused)?;
        lpdnn_bundle::check(dir.path(), engine.as_str(), &formats).map_err(refused)?;
        Ok(format.to_string())
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

/// The seed route's query: the seed's `device`, and beside it `wait` and
/// the benchmark options of `POST /v1/jobs` (`input_shape` takes several
/// shapes separated by `;`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeedQuery {
    pub(crate) device: Option<String>,
    pub(crate) wait: Option<u64>,
    pub(crate) threads: Option<usize>,
    pub(crate) number: Option<u64>,
    pub(crate) duration: Option<f64>,
    pub(crate) warmup: Option<u64>,
    pub(crate) input_shape: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) layers: Option<u64>,
    pub(crate) check_against: Option<String>,
}

impl SeedQuery {
    /// The benchmark options the query gives.
    pub(crate) fn options(&self) -> Result<JobOptions, ApiError> {
        Ok(JobOptions {
            threads: self.threads,
            number: self.number,
            duration_s: self.duration,
            warmup: self.warmup,
            input_shapes: self
                .input_shape
                .iter()
                .flat_map(|s| s.split(';'))
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            name: self.name.as_deref().and_then(lpdnn_baas_api::upload_name),
            layers: self.layers,
            check_against: self.check_against.as_deref().map(our_engine).transpose()?,
        })
    }
}

/// `POST /bonseyes_baas/{platform}/{profile}/{engine}?device=&wait=`, the
/// model as the body.
#[utoipa::path(post, path = "/bonseyes_baas/{platform}/{profile}/{engine}", tag = "jobs",
    params(("platform" = String, Path), ("profile" = String, Path),
        ("engine" = String, Path, description = "onnx, tflite, lpdnn, tensorrt, ncnn, acl (or ours)"),
        ("device" = Option<String>, Query, description = "cpu (default), gpu, npu"),
        ("wait" = Option<u64>, Query, description = "seconds to wait for the result (at most 600)"),
        ("threads" = Option<usize>, Query), ("number" = Option<u64>, Query),
        ("duration" = Option<f64>, Query), ("warmup" = Option<u64>, Query),
        ("input_shape" = Option<String>, Query, description = "NAME=1,3,224,224, several separated by ;"),
        ("name" = Option<String>, Query, description = "the model's file name: a bare model's report is titled with it"),
        ("layers" = Option<u64>, Query, description = "profiled runs for per-layer times (1 to 1000)"),
        ("check_against" = Option<String>, Query, description = "an engine of the same worker to check the outputs against")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "the model (ONNX, TFLite) or an app bundle (.tar, .tar.gz, .zip)"),
    responses((status = 202, body = lpdnn_baas_api::Accepted, description = "queued; Location: /v1/jobs/{id}"),
        (status = 200, body = lpdnn_baas_api::Accepted, description = "ended within `wait`"),
        (status = 401, body = lpdnn_baas_api::ErrorBody), (status = 404, body = lpdnn_baas_api::ErrorBody),
        (status = 413, description = "over --max-upload"),
        (status = 415, body = lpdnn_baas_api::ErrorBody, description = "a multipart body: this route takes the raw file"),
        (status = 422, body = lpdnn_baas_api::ErrorBody), (status = 429, body = lpdnn_baas_api::ErrorBody)))]
pub(crate) async fn seed_submit<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path((platform, profile, engine)): Path<(String, String, String)>,
    Query(q): Query<SeedQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let owner = s.owner(&headers)?;
    if is_multipart(&headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "this route takes the model (or bundle) as the raw body: curl --data-binary \
             @model.onnx URL; a multipart form (curl -F model=@model.onnx -F platform=... \
             -F profile=... -F engine=...) goes to POST /v1/jobs",
        ));
    }
    let ask = Ask {
        platform,
        profile,
        engine,
        options: q.options()?,
        device: q.device,
        // The bytes tell a bundle from a model.
        subject: Some(if lpdnn_bundle::sniff(&body).is_some() {
            SubjectKind::Bundle
        } else {
            SubjectKind::Model
        }),
    };
    let job = s.accept(owner, ask, body).await?;
    s.answer(job, q.wait).await
}

/// Whether the body is a multipart form.
pub(crate) fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| m.type_() == mime::MULTIPART && m.subtype() == mime::FORM_DATA)
}

/// `POST /v1/jobs`'s query.
#[derive(Deserialize)]
pub(crate) struct SubmitQuery {
    wait: Option<u64>,
}

/// The text fields of `POST /v1/jobs`.
const TEXT_FIELDS: &[&str] = &[
    "platform",
    "profile",
    "engine",
    "device",
    "threads",
    "number",
    "duration",
    "warmup",
    "input_shape",
    "layers",
    "check_against",
];

/// `POST /v1/jobs`, multipart: a `model` or a `bundle` file, `platform`,
/// `profile`, `engine`, `device`, and the options `threads`, `number`,
/// `duration` (seconds), `warmup` (iterations), `input_shape` (repeat).
#[utoipa::path(post, path = "/v1/jobs", tag = "jobs",
    params(("wait" = Option<u64>, Query, description = "seconds to wait for the result (at most 600)")),
    request_body(content = String, content_type = "multipart/form-data",
        description = "model or bundle (a file), platform, profile, engine, device, threads, number, \
            duration, warmup, input_shape (repeat)"),
    responses((status = 202, body = lpdnn_baas_api::Accepted), (status = 401, body = lpdnn_baas_api::ErrorBody),
        (status = 404, body = lpdnn_baas_api::ErrorBody), (status = 413, description = "over --max-upload"),
        (status = 422, body = lpdnn_baas_api::ErrorBody), (status = 429, body = lpdnn_baas_api::ErrorBody)))]
pub(crate) async fn submit<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Query(q): Query<SubmitQuery>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let owner = s.owner(&headers)?;
    let mut ask = Ask::default();
    let mut file: Option<Bytes> = None;
    let mut seen: Vec<String> = Vec::new();
    let bad =
        |e: axum::extract::multipart::MultipartError| ApiError::new(e.status(), e.body_text());
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "model" || name == "bundle" {
            if file.is_some() {
                return Err(unprocessable("give one file: a model or a bundle, once"));
            }
            ask.subject = Some(if name == "model" {
                SubjectKind::Model
            } else {
                SubjectKind::Bundle
            });
            ask.options.name = field.file_name().and_then(lpdnn_baas_api::upload_name);
            file = Some(field.bytes().await.map_err(bad)?);
            continue;
        }
        if !TEXT_FIELDS.contains(&name.as_str()) {
            return Err(unprocessable(format!(
                "unknown field '{name}'; fields: model or bundle (a file), {}",
                TEXT_FIELDS.join(", ")
            )));
        }
        if name != "input_shape" && seen.contains(&name) {
            return Err(unprocessable(format!("field '{name}' is given twice")));
        }
        let text = field.text().await.map_err(bad)?;
        if text.len() > 256 {
            return Err(unprocessable(format!(
                "field '{name}' is longer than 256 bytes"
            )));
        }
        let number = |what: &str| -> Result<u64, ApiError> {
            text.trim()
                .parse()
                .map_err(|_| unprocessable(format!("{name} must be {what}, not '{text}'")))
        };
        match name.as_str() {
            "platform" => ask.platform = text.clone(),
            "profile" => ask.profile = text.clone(),
            "engine" => ask.engine = text.clone(),
            "device" => ask.device = Some(text.clone()),
            "threads" => ask.options.threads = Some(number("a whole number of threads")? as usize),
            "number" => ask.options.number = Some(number("a whole number of passes")?),
            "warmup" => ask.options.warmup = Some(number("a whole number of iterations")?),
            "layers" => ask.options.layers = Some(number("a whole number of profiled runs")?),
            "check_against" => ask.options.check_against = Some(our_engine(text.trim())?),
            "duration" => {
                ask.options.duration_s = Some(text.trim().parse().map_err(|_| {
                    unprocessable(format!("duration must be seconds, not '{text}'"))
                })?)
            }
            _ => ask.options.input_shapes.push(text.clone()),
        }
        seen.push(name);
    }
    for needed in ["platform", "profile", "engine"] {
        if !seen.iter().any(|s| s == needed) {
            return Err(unprocessable(format!("field '{needed}' is missing")));
        }
    }
    let Some(body) = file else {
        return Err(unprocessable(
            "no file: give a 'model' (ONNX, TFLite) or a 'bundle' (.tar or .zip of an app)",
        ));
    };
    let job = s.accept(owner, ask, body).await?;
    s.answer(job, q.wait).await
}
