//! `GET /v1/jobs/{id}/events`: server-sent events while a job lives —
//! `status` (the job, as `GET /v1/jobs/{id}` shows it) each time its status
//! changes, `progress` (phase, iterations, fraction) while it runs; the
//! stream ends after the terminal status.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use lpdnn_baas_api::JobStatus;
use lpdnn_jobs::{JobQueue, JobStore};

use crate::error::ApiError;
use crate::state::Service;

/// How often the store is looked at.
const POLL: Duration = Duration::from_millis(250);

struct Watch<S> {
    service: Arc<Service<S>>,
    id: String,
    status: Option<String>,
    progress: Option<String>,
    done: bool,
}

impl<S: JobStore + JobQueue> Watch<S> {
    /// The next event, waiting for a change; `None` after the terminal one.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if self.done {
                return None;
            }
            let job = match self.service.jobs.get(&self.id).await {
                Ok(job) => job,
                Err(e) => {
                    self.done = true;
                    return Some(Event::default().event("error").data(e.to_string()));
                }
            };
            let running = job.status == JobStatus::Running;
            let terminal = matches!(job.status, JobStatus::Completed | JobStatus::Cancelled);
            let view = match self.service.view(job).await {
                Ok(v) => v,
                Err(e) => {
                    self.done = true;
                    return Some(Event::default().event("error").data(e.message));
                }
            };
            let status = view.job.status.to_string();
            if self.status.as_deref() != Some(&status) {
                self.status = Some(status);
                self.done = terminal;
                let data = serde_json::to_string(&view).unwrap_or_default();
                return Some(Event::default().event("status").data(data));
            }
            if running {
                if let Ok(Some(p)) = self.service.jobs.progress(&self.id).await {
                    if self.progress.as_deref() != Some(&p) {
                        self.progress = Some(p.clone());
                        return Some(Event::default().event("progress").data(p));
                    }
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// The job's life as server-sent events.
#[utoipa::path(get, path = "/v1/jobs/{id}/events", tag = "jobs",
    params(("id" = String, Path, description = "the job's id")),
    responses((status = 200, content_type = "text/event-stream",
        description = "`status` events (the job) and `progress` events (lpdnn_baas_api::Progress)")))]
pub(crate) async fn events<S: JobStore + JobQueue>(
    State(s): State<Arc<Service<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    s.owned(&headers, &id).await?;
    let watch = Watch {
        service: s,
        id,
        status: None,
        progress: None,
        done: false,
    };
    let events = stream::unfold(watch, |mut w| async move {
        let event = w.next().await?;
        Some((Ok(event), w))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
