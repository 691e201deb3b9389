//! The live catalog of workers.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use lpdnn_baas_api::{DeviceCatalog, DeviceEntry};
use lpdnn_jobs::{now_ms, JobQueue, JobStore};

use crate::error::ApiError;
use crate::state::Service;

/// The live catalog of workers.
#[utoipa::path(get, path = "/v1/devices", tag = "devices",
    responses((status = 200, body = DeviceCatalog, description = "per worker its platform, \
        profile, version, engines, availability, queue depth and last heartbeat"),
        (status = 401, body = lpdnn_baas_api::ErrorBody, description = "tokens are configured and none valid was given")))]
pub(crate) async fn devices<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    headers: HeaderMap,
) -> Result<Json<DeviceCatalog>, ApiError> {
    s.reader(&headers)?;
    let mut out = Vec::new();
    let now = now_ms();
    for (w, seen, alive) in s.heard().await? {
        let depth = s.jobs.queued_for(&w.platform, &w.profile).await?;
        let at = std::time::UNIX_EPOCH + Duration::from_millis(seen.max(0) as u64);
        out.push(DeviceEntry {
            worker: w.id,
            platform: w.platform,
            profile: w.profile,
            version: w.version,
            engines: w.engines,
            machine: w.machine,
            descriptor: w.descriptor,
            available: alive,
            queue_depth: depth,
            last_seen: humantime::format_rfc3339_seconds(at).to_string(),
            seconds_since_seen: ((now - seen).max(0) as f64 / 1e3).round(),
        });
    }
    Ok(Json(DeviceCatalog { devices: out }))
}
