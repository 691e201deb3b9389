//! The profiling dataset.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use lpdnn_baas_api::{ExportFormat, ExportTable};
use lpdnn_jobs::{JobQueue, JobStore};
use serde::Deserialize;

use crate::dataset;
use crate::error::{ApiError, Query};
use crate::state::Service;

/// `?format=csv|jsonl&since=` of the export.
#[derive(Deserialize)]
pub(crate) struct ExportQuery {
    #[serde(default)]
    format: ExportFormat,
    #[serde(default)]
    table: ExportTable,
    since: Option<String>,
}

/// The profiling dataset: a row per passed job finished at or after
/// `since` (RFC 3339, or milliseconds since the epoch), or with
/// `table=layers` a row per layer of those that timed their layers.
#[utoipa::path(get, path = "/v1/export", tag = "dataset",
    params(("format" = Option<ExportFormat>, Query, description = "csv (default) or jsonl"),
           ("table" = Option<ExportTable>, Query, description = "jobs (default) or layers"),
           ("since" = Option<String>, Query, description = "RFC 3339, or ms since 1970")),
    responses((status = 200, description = "one row per passed job, or per layer (columns: docs/baas.md)")))]
pub(crate) async fn export<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Query(q): Query<ExportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    s.owner(&headers)?;
    let format = q.format;
    let since = match q.since.as_deref() {
        None | Some("") => 0,
        Some(t) => t.parse::<i64>().or_else(|_| {
            humantime::parse_rfc3339_weak(t)
                .map(|t| {
                    t.duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as i64)
                })
                .map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "since '{t}': give a time as 2026-11-30T12:00:00Z or milliseconds \
                             since 1970 ({e})"
                        ),
                    )
                })
        })?,
    };
    let mut rows = Vec::new();
    let mut layers = Vec::new();
    for (job, report) in s.jobs.passed_since(since).await? {
        let Ok(report) = serde_json::from_str::<lpdnn_report::Report>(&report) else {
            continue;
        };
        if q.table == ExportTable::Layers {
            layers.extend(dataset::layer_rows(&job, &report));
            continue;
        }
        if let Some(row) = dataset::row(&job, &report) {
            let ops = report.runs[0]
                .static_metrics
                .as_ref()
                .map(|m| m.operators.clone())
                .unwrap_or_default();
            rows.push((row, ops));
        }
    }
    let csv = |text: Result<String, csv::Error>| {
        text.map(|t| ("text/csv; charset=utf-8", t))
            .map_err(|e| ApiError::internal(e.to_string()))
    };
    let (kind, body) = match (q.table, format) {
        (ExportTable::Jobs, ExportFormat::Csv) => {
            let rows: Vec<_> = rows.into_iter().map(|(r, _)| r).collect();
            csv(dataset::csv(&rows, dataset::COLUMNS))?
        }
        (ExportTable::Jobs, ExportFormat::Jsonl) => ("application/x-ndjson", dataset::jsonl(&rows)),
        (ExportTable::Layers, ExportFormat::Csv) => {
            csv(dataset::csv(&layers, dataset::LAYER_COLUMNS))?
        }
        (ExportTable::Layers, ExportFormat::Jsonl) => {
            let lines: String = layers
                .iter()
                .map(|l| serde_json::to_string(l).unwrap_or_default() + "\n")
                .collect();
            ("application/x-ndjson", lines)
        }
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                match q.table {
                    ExportTable::Jobs => {
                        format!("inline; filename=\"lpdnn-profiling.{}\"", format.as_str())
                    }
                    ExportTable::Layers => format!(
                        "inline; filename=\"lpdnn-profiling-layers.{}\"",
                        format.as_str()
                    ),
                },
            ),
        ],
        body,
    )
        .into_response())
}
