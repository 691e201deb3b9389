//! Sweeps: one upload over several platforms, profiles, engines, devices
//! or thread counts becomes a job group (`POST /v1/sweeps`); the group
//! and its comparison report (`GET /v1/groups/{id}[/report]`).
//!
//! Every name is checked first (an unknown platform, profile or engine
//! refuses the whole sweep, as a typo should); then each cell is checked
//! as `POST /v1/jobs` checks a job. A cell that cannot run there (the
//! engine is not offered on that platform, does not take the model, ...)
//! is kept, refused, with why; the others are queued together.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lpdnn_baas_api::{
    Cell, CellView, Device, Group, GroupLinks, GroupView, JobOptions, JobResult, JobStatus,
    SubjectKind, MAX_SWEEP_CELLS,
};
use lpdnn_jobs::{JobQueue, JobStore, NewCell, NewGroup, StoreError};
use lpdnn_report::{CellOutcome, Placement, SweepCell};
use serde::Deserialize;
use serde_json::json;

use crate::error::{unprocessable, ApiError, Query};
use crate::handlers::jobs::{rendered, ResultQuery};
use crate::handlers::submit::{
    check_options, is_multipart, our_engine, our_platform, Ask, BundleChecks, SeedQuery,
};
use crate::state::Service;

/// `POST /v1/sweeps`'s query: the seed route's, with `platform`,
/// `profile`, `engine`, `device` and `threads` taking comma-separated
/// lists.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SweepQuery {
    platform: String,
    profile: String,
    engine: String,
    device: Option<String>,
    threads: Option<String>,
    number: Option<u64>,
    duration: Option<f64>,
    warmup: Option<u64>,
    input_shape: Option<String>,
    name: Option<String>,
    layers: Option<u64>,
    check_against: Option<String>,
}

/// The distinct entries of a comma-separated list, in order (422 naming
/// the field when it has none).
fn list(field: &str, text: &str) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o == item) {
            out.push(item.to_owned());
        }
    }
    if out.is_empty() {
        return Err(unprocessable(format!(
            "{field} names nothing: give NAME[,NAME...]"
        )));
    }
    Ok(out)
}

/// `POST /v1/sweeps?platform=a,b&profile=p&engine=x,y[&device=..][&threads=1,4]`,
/// the model or bundle as the body: one job per cell of platforms ×
/// profiles × engines × devices × threads, as one group.
#[utoipa::path(post, path = "/v1/sweeps", tag = "sweeps",
    params(("platform" = String, Query, description = "platforms, comma-separated"),
        ("profile" = String, Query, description = "profiles, comma-separated"),
        ("engine" = String, Query, description = "engines, comma-separated (the seed's names or ours)"),
        ("device" = Option<String>, Query, description = "devices, comma-separated (default cpu)"),
        ("threads" = Option<String>, Query, description = "engine threads, comma-separated"),
        ("number" = Option<u64>, Query), ("duration" = Option<f64>, Query), ("warmup" = Option<u64>, Query),
        ("input_shape" = Option<String>, Query, description = "NAME=1,3,224,224, several separated by ;"),
        ("name" = Option<String>, Query, description = "the model's file name"),
        ("layers" = Option<u64>, Query, description = "profiled runs for per-layer times (1 to 1000)"),
        ("check_against" = Option<String>, Query, description = "an engine of the same worker to check the outputs against")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "the model (ONNX, TFLite) or an app bundle (.tar, .tar.gz, .zip)"),
    responses((status = 202, body = GroupView, description = "queued; Location: /v1/groups/{id}"),
        (status = 401, body = lpdnn_baas_api::ErrorBody),
        (status = 404, body = lpdnn_baas_api::ErrorBody, description = "an unknown platform, profile or engine"),
        (status = 413, description = "over --max-upload"),
        (status = 422, body = lpdnn_baas_api::ErrorBody, description = "options no benchmark runs with, too many cells, or no cell that can run"),
        (status = 429, body = lpdnn_baas_api::ErrorBody)))]
pub(crate) async fn submit_sweep<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Query(q): Query<SweepQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let owner = s.owner(&headers)?;
    if is_multipart(&headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "this route takes the model (or bundle) as the raw body: curl --data-binary \
             @model.onnx 'URL?platform=a,b&profile=default&engine=x,y'",
        ));
    }
    // Names first: a typo refuses the whole sweep.
    let mut engines = Vec::new();
    for name in list("engine", &q.engine)? {
        let engine = our_engine(&name)?;
        if !engines.iter().any(|(e, _)| *e == engine) {
            engines.push((engine, name));
        }
    }
    let mut devices = Vec::new();
    for d in list("device", q.device.as_deref().unwrap_or("cpu"))? {
        let device = d
            .parse::<Device>()
            .map_err(|_| unprocessable(format!("device '{d}' is not one of cpu, gpu, npu")))?;
        if !devices.contains(&device) {
            devices.push(device);
        }
    }
    let threads: Vec<Option<usize>> = match &q.threads {
        None => vec![None],
        Some(t) => list("threads", t)?
            .iter()
            .map(|n| {
                n.parse().map(Some).map_err(|_| {
                    unprocessable(format!(
                        "threads must be whole numbers of threads, not '{n}'"
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let catalog = s.catalog().await?;
    let mut registered: BTreeMap<&str, bool> = BTreeMap::new();
    for (w, alive) in &catalog {
        *registered.entry(&w.platform).or_default() |= *alive;
    }
    let mut platforms: Vec<String> = Vec::new();
    for name in list("platform", &q.platform)? {
        let platform = our_platform(&name, &registered)?;
        if !platforms.contains(&platform) {
            platforms.push(platform);
        }
    }
    let profiles = list("profile", &q.profile)?;
    for profile in &profiles {
        let somewhere = catalog
            .iter()
            .any(|(w, _)| platforms.contains(&w.platform) && &w.profile == profile);
        if !somewhere {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "unknown profile '{profile}': none of {} has it",
                    platforms.join(", ")
                ),
            ));
        }
    }
    let count = platforms.len() * profiles.len() * engines.len() * devices.len() * threads.len();
    if count > MAX_SWEEP_CELLS {
        return Err(unprocessable(format!(
            "a sweep has at most {MAX_SWEEP_CELLS} cells; this one has {count} ({} platform(s) \
             × {} profile(s) × {} engine(s) × {} device(s) × {} thread count(s))",
            platforms.len(),
            profiles.len(),
            engines.len(),
            devices.len(),
            threads.len()
        )));
    }
    // The seed route's options, the same for every cell.
    let options = SeedQuery {
        device: None,
        wait: None,
        threads: None,
        number: q.number,
        duration: q.duration,
        warmup: q.warmup,
        input_shape: q.input_shape,
        name: q.name,
        layers: q.layers,
        check_against: q.check_against,
    }
    .options()?;
    for &t in &threads {
        check_options(&JobOptions {
            threads: t,
            ..options.clone()
        })?;
    }
    let subject = if lpdnn_bundle::sniff(&body).is_some() {
        SubjectKind::Bundle
    } else {
        SubjectKind::Model
    };
    // Each cell checked as a job is.
    let mut bundles = BundleChecks::default();
    let mut cells = Vec::with_capacity(count);
    for platform in &platforms {
        for profile in &profiles {
            for (engine, asked) in &engines {
                for &device in &devices {
                    for &threads in &threads {
                        let cell = Cell {
                            platform: platform.clone(),
                            profile: profile.clone(),
                            engine: *engine,
                            device,
                            threads,
                        };
                        let ask = Ask {
                            platform: platform.clone(),
                            profile: profile.clone(),
                            engine: asked.clone(),
                            device: Some(device.to_string()),
                            options: JobOptions {
                                threads,
                                ..options.clone()
                            },
                            subject: Some(subject),
                        };
                        cells.push(match s.check(&catalog, ask, &body, &mut bundles).await {
                            Ok(spec) => Ok((cell, spec)),
                            Err(e) if e.status().is_client_error() => Err((cell, e.message)),
                            Err(e) => return Err(e),
                        });
                    }
                }
            }
        }
    }
    if cells.iter().all(Result::is_err) {
        let why: Vec<_> = cells
            .iter()
            .filter_map(|c| c.as_ref().err())
            .map(|(c, why)| json!({"cell": c, "refused": why}))
            .collect();
        return Err(
            unprocessable("no cell of the sweep can run; `details` says why for each")
                .with(json!(why)),
        );
    }
    let sha256 = s.store_upload(&body).await?;
    let cells = cells
        .into_iter()
        .map(|c| match c {
            Ok((cell, mut spec)) => {
                spec.sha256 = sha256.clone();
                NewCell::Queued(cell, Box::new(s.new_job(spec, owner.clone())))
            }
            Err((cell, why)) => NewCell::Refused(cell, why),
        })
        .collect();
    let group = s.jobs.submit_group(NewGroup { owner, cells }).await?;
    let location = GroupLinks::of(&group.id).this;
    let view = s.group_view(group).await?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

impl<S: JobStore + JobQueue> Service<S> {
    /// The group, if the request's token owns it (another owner's is
    /// answered as absent, as a job is).
    async fn owned_group(&self, headers: &HeaderMap, id: &str) -> Result<Group, ApiError> {
        let owner = self.owner(headers)?;
        let group = self.jobs.group(id).await.map_err(|e| match e {
            StoreError::NotFound(_) => StoreError::NotFound(format!("group {id}")),
            e => e,
        })?;
        if !self.config.tokens.is_empty() && group.owner != owner {
            return Err(StoreError::NotFound(format!("group {id}")).into());
        }
        Ok(group)
    }

    /// The group as the API shows it: each cell with its job's state.
    async fn group_view(&self, group: Group) -> Result<GroupView, ApiError> {
        let catalog = self.catalog().await?;
        let mut cells = Vec::with_capacity(group.cells.len());
        for c in group.cells {
            let job = match &c.job {
                Some(id) => Some(self.view_in(self.jobs.get(id).await?, &catalog).await?),
                None => None,
            };
            cells.push(CellView {
                cell: c.cell,
                job,
                refused: c.refused,
            });
        }
        Ok(GroupView {
            status: GroupView::status_of(&cells),
            links: GroupLinks::of(&group.id),
            id: group.id,
            owner: group.owner,
            created_ms: group.created_ms,
            cells,
        })
    }
}

/// A group: its cells, each with its job's state or why it was refused.
#[utoipa::path(get, path = "/v1/groups/{id}", tag = "sweeps", params(("id" = String, Path, description = "the group's id")),
    responses((status = 200, body = GroupView), (status = 404, body = lpdnn_baas_api::ErrorBody)))]
pub(crate) async fn group<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<GroupView>, ApiError> {
    let group = s.owned_group(&headers, &id).await?;
    Ok(Json(s.group_view(group).await?))
}

/// A group's comparison report, once every cell ended: the passed cells'
/// runs side by side, each labelled by what varies (`lne @
/// raspberry-pi-4b`) with where it ran; the others as errors.
#[utoipa::path(get, path = "/v1/groups/{id}/report", tag = "sweeps",
    params(("id" = String, Path, description = "the group's id"),
           ("format" = Option<lpdnn_baas_api::ResultFormat>, Query, description = "json (default), csv or html")),
    responses((status = 200, description = "the report (schemas/benchmark.schema.json; each run's \
        `placement` says where it ran), its per-stage CSV, or its HTML"),
        (status = 404, body = lpdnn_baas_api::ErrorBody),
        (status = 409, body = lpdnn_baas_api::ErrorBody, description = "a cell is still queued or running, or none passed")))]
pub(crate) async fn report<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
    Query(q): Query<ResultQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let group = s.owned_group(&headers, &id).await?;
    let mut cells = Vec::with_capacity(group.cells.len());
    let mut waiting = 0;
    for c in &group.cells {
        let mut placement = Placement {
            platform: c.cell.platform.clone(),
            profile: c.cell.profile.clone(),
            engine: c.cell.engine.to_string(),
            device: c.cell.device,
            threads: c.cell.threads,
            job: c.job.clone(),
            worker: None,
            host: None,
        };
        let Some(job_id) = &c.job else {
            let why = c.refused.as_deref().unwrap_or("not queued");
            cells.push(SweepCell {
                placement,
                outcome: CellOutcome::Failed(format!("refused at submission: {why}")),
            });
            continue;
        };
        let job = s.jobs.get(job_id).await?;
        placement.worker = job.worker.clone();
        let outcome = match (job.status, job.result) {
            (JobStatus::Completed, Some(JobResult::Passed)) => {
                let text = s.jobs.report(job_id).await?.ok_or_else(|| {
                    ApiError::internal(format!("job {job_id} passed without a report"))
                })?;
                let report = serde_json::from_str(&text)
                    .map_err(|e| ApiError::internal(format!("job {job_id}'s report: {e}")))?;
                CellOutcome::Passed(Box::new(report))
            }
            (JobStatus::Completed | JobStatus::Cancelled, _) => {
                let mut why = match (job.status, job.failure) {
                    (JobStatus::Cancelled, _) => "cancelled".to_owned(),
                    (_, Some(f)) => format!("failed ({f})"),
                    _ => "failed".to_owned(),
                };
                if let Some(m) = &job.message {
                    why.push_str(&format!(": {m}"));
                }
                CellOutcome::Failed(why)
            }
            _ => {
                waiting += 1;
                continue;
            }
        };
        cells.push(SweepCell { placement, outcome });
    }
    if waiting > 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "group {id}: {waiting} of its {} cell(s) are still queued or running; its \
                 report comes once every cell ended",
                group.cells.len()
            ),
        ));
    }
    let report = lpdnn_report::sweep_report(cells).map_err(|m| {
        ApiError::new(
            StatusCode::CONFLICT,
            format!("group {id} has no report: {m}"),
        )
    })?;
    rendered(&report, q.format)
}
