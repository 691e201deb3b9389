//! A job: read it, list the caller's, get its report, cancel it, retry it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lpdnn_baas_api::{JobList, JobStatus, JobView, ResultFormat, RunList};
use lpdnn_jobs::{JobQueue, JobStore, NewJob, StoreError};
use serde::Deserialize;

use crate::error::{ApiError, Query};
use crate::state::Service;

/// A job: status, result, failure, attempts, worker, isolation, progress.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "the job's id")),
    responses((status = 200, body = JobView), (status = 404, body = lpdnn_baas_api::ErrorBody)))]
pub(crate) async fn job<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<JobView>, ApiError> {
    let job = s.owned(&headers, &id).await?;
    Ok(Json(s.view(job).await?))
}

/// A job's runs, first first: the worker of each, when it took the job,
/// and how the run ended (a lapsed run is one whose worker stopped
/// answering; the job ran again elsewhere).
#[utoipa::path(get, path = "/v1/jobs/{id}/runs", tag = "jobs", params(("id" = String, Path, description = "the job's id")),
    responses((status = 200, body = RunList), (status = 404, body = lpdnn_baas_api::ErrorBody)))]
pub(crate) async fn runs<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<RunList>, ApiError> {
    s.owned(&headers, &id).await?;
    Ok(Json(RunList {
        runs: s.jobs.runs(&id).await?,
    }))
}

/// `GET /v1/jobs`'s query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    limit: Option<u32>,
}

/// Most jobs `GET /v1/jobs` gives at once, and how many without `limit`.
const LIST_MAX: u32 = 1000;
const LIST_DEFAULT: u32 = 50;

/// The caller's jobs (its token's owner; `anonymous` without tokens),
/// newest first.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs",
    params(("limit" = Option<u32>, Query, description = "at most this many (default 50, 1 to 1000)")),
    responses((status = 200, body = JobList), (status = 401, body = lpdnn_baas_api::ErrorBody),
        (status = 422, body = lpdnn_baas_api::ErrorBody, description = "limit out of range")))]
pub(crate) async fn list<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Json<JobList>, ApiError> {
    let owner = s.owner(&headers)?;
    let limit = q.limit.unwrap_or(LIST_DEFAULT);
    if !(1..=LIST_MAX).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("limit must lie in 1..={LIST_MAX}, not {limit}"),
        ));
    }
    let jobs = s.jobs.jobs_of(&owner, limit).await?;
    let catalog = if jobs.iter().any(|j| j.status == JobStatus::Queued) {
        s.catalog().await?
    } else {
        Vec::new()
    };
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        out.push(s.view_in(job, &catalog).await?);
    }
    Ok(Json(JobList { jobs: out }))
}

/// `?format=` of a result.
#[derive(Deserialize)]
pub(crate) struct ResultQuery {
    #[serde(default)]
    pub(crate) format: ResultFormat,
}

/// A report in `format`: its JSON, its per-stage CSV or its HTML page.
pub(crate) fn rendered(
    report: &lpdnn_report::Report,
    format: ResultFormat,
) -> Result<Response, ApiError> {
    Ok(match format {
        ResultFormat::Json => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string(report).map_err(|e| ApiError::internal(e.to_string()))?,
        )
            .into_response(),
        ResultFormat::Csv => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            lpdnn_report::anchor_csv(report),
        )
            .into_response(),
        ResultFormat::Html => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            lpdnn_report::html_report(report),
        )
            .into_response(),
    })
}

/// A passed job's report.
#[utoipa::path(get, path = "/v1/jobs/{id}/result", tag = "jobs",
    params(("id" = String, Path, description = "the job's id"),
           ("format" = Option<ResultFormat>, Query, description = "json (default), csv or html")),
    responses((status = 200, description = "the report: the JSON of `benchmark --filename` \
        (schemas/benchmark.schema.json), its per-stage CSV, or its HTML"),
        (status = 409, body = lpdnn_baas_api::ErrorBody, description = "the job has no result (yet)")))]
pub(crate) async fn result<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
    Query(q): Query<ResultQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job = s.owned(&headers, &id).await?;
    match s.jobs.report(&id).await? {
        Some(report) if q.format == ResultFormat::Json => Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            report,
        )
            .into_response()),
        Some(report) => {
            let report: lpdnn_report::Report = serde_json::from_str(&report)
                .map_err(|e| ApiError::internal(format!("job {id}'s report: {e}")))?;
            rendered(&report, q.format)
        }
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "job {id} has no result: it is {}{}",
                job.status,
                job.message.map(|m| format!(" ({m})")).unwrap_or_default()
            ),
        )),
    }
}

/// Cancels a queued or running job.
#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", tag = "jobs", params(("id" = String, Path, description = "the job's id")),
    responses((status = 200, body = JobView), (status = 409, body = lpdnn_baas_api::ErrorBody)))]
pub(crate) async fn cancel<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<JobView>, ApiError> {
    s.owned(&headers, &id).await?;
    let job = s.jobs.cancel(&id).await?;
    Ok(Json(s.view(job).await?))
}

/// Runs a finished job again as a new job (`retry_of` names this one).
#[utoipa::path(post, path = "/v1/jobs/{id}/retry", tag = "jobs", params(("id" = String, Path, description = "the job's id")),
    responses((status = 202, body = lpdnn_baas_api::Accepted), (status = 409, body = lpdnn_baas_api::ErrorBody),
        (status = 429, body = lpdnn_baas_api::ErrorBody)))]
pub(crate) async fn retry<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let old = s.owned(&headers, &id).await?;
    if !matches!(old.status, JobStatus::Completed | JobStatus::Cancelled) {
        return Err(StoreError::Conflict {
            id,
            status: old.status,
            message: "only a completed or cancelled job can be retried".into(),
        }
        .into());
    }
    let job = s
        .jobs
        .submit(NewJob {
            spec: old.spec,
            owner: old.owner,
            max_attempts: s.config.max_attempts,
            queue_ttl: s.config.queue_ttl,
            retry_of: Some(id),
            quota: Some(s.config.quota),
        })
        .await?;
    s.answer(job, None).await
}
