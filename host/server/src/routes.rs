//! The routes: the uploads behind their token, quota and size checks,
//! every other route behind the token check, the workers' behind theirs.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use lpdnn_jobs::{JobQueue, JobStore, StoreError};

use crate::error::ApiError;
use crate::handlers::{devices, events, export, jobs, service, submit, sweeps, workers};
use crate::state::{Presented, Service};

/// The API's routes over `service`.
pub fn router<S: JobStore + JobQueue>(service: Arc<Service<S>>) -> Router {
    let limit = service.config.max_upload_bytes;
    let uploads = Router::new()
        .route(
            "/bonseyes_baas/{platform}/{profile}/{engine}",
            post(submit::seed_submit::<S>),
        )
        .route("/v1/jobs", post(submit::submit::<S>))
        .route("/v1/sweeps", post(sweeps::submit_sweep::<S>))
        .layer(DefaultBodyLimit::max(limit))
        .route_layer(axum::middleware::from_fn_with_state(
            service.clone(),
            count_uploads::<S>,
        ));
    // Every other route: a token that is presented must be valid (the
    // uploads check theirs in `count_uploads`, where the answer is counted).
    let rest = Router::new()
        .route("/v1/jobs", get(jobs::list::<S>))
        .route("/v1/jobs/{id}", get(jobs::job::<S>))
        .route("/v1/jobs/{id}/events", get(events::events::<S>))
        .route("/v1/jobs/{id}/runs", get(jobs::runs::<S>))
        .route("/v1/jobs/{id}/result", get(jobs::result::<S>))
        .route("/v1/jobs/{id}/cancel", post(jobs::cancel::<S>))
        .route("/v1/jobs/{id}/retry", post(jobs::retry::<S>))
        .route("/v1/groups/{id}", get(sweeps::group::<S>))
        .route("/v1/groups/{id}/report", get(sweeps::report::<S>))
        .route("/v1/devices", get(devices::devices::<S>))
        .route("/v1/export", get(export::export::<S>))
        .merge(workers::routes(service.clone()))
        .route("/metrics", get(service::metrics::<S>))
        .route("/health", get(service::health))
        .route("/openapi.json", get(service::openapi))
        .route("/", get(service::page))
        .route_layer(axum::middleware::from_fn_with_state(
            service.clone(),
            valid_token::<S>,
        ));
    Router::new().merge(uploads).merge(rest).with_state(service)
}

/// `401` for a request that presents a token that is not one of the
/// service's, whatever the route (public ones too).
async fn valid_token<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    request: Request,
    next: Next,
) -> Response {
    if s.presented(request.headers()) == Presented::Invalid {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the bearer token is not valid here (Authorization: Bearer TOKEN)",
        )
        .into_response();
    }
    next.run(request).await
}

/// Before an upload's body is read: its token (401) and its owner's quota
/// (429). After: its answer is counted for `/metrics`.
async fn count_uploads<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    request: Request,
    next: Next,
) -> Response {
    // The token is read first: the request's body must not be held
    // across an await.
    let owner = s.owner(request.headers());
    let early = async {
        let owner = owner?;
        if s.jobs.active_for(&owner).await? >= s.config.quota {
            return Err(ApiError::from(StoreError::Quota {
                owner,
                quota: s.config.quota,
            }));
        }
        Ok(())
    };
    let response = match early.await {
        Ok(()) => next.run(request).await,
        Err(e) => {
            // Read what the client sends, keeping none of it, so that it
            // hears the answer rather than a reset connection.
            use futures_util::StreamExt;
            let mut body = request.into_body().into_data_stream();
            let mut read = 0usize;
            while let Some(Ok(chunk)) = body.next().await {
                read += chunk.len();
                if read > s.config.max_upload_bytes {
                    break;
                }
            }
            e.into_response()
        }
    };
    s.counters.upload(response.status().as_u16());
    response
}
