//! `GET /metrics`: the service in Prometheus's (OpenMetrics) text format —
//! jobs by status, result and failure kind, queue depth and worker
//! liveness per platform and profile (read from the store at each scrape),
//! and uploads by HTTP status since the server started.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use lpdnn_jobs::{JobQueue, JobStore};

use crate::error::ApiError;
use crate::state::Service;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    status: String,
    result: String,
    failure: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    platform: String,
    profile: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerLabels {
    worker: String,
    platform: String,
    profile: String,
}

/// What the server counts itself (the rest is read from the store).
#[derive(Default)]
pub struct Counters {
    uploads: Family<CodeLabels, Counter>,
}

impl Counters {
    /// An upload answered with `code`.
    pub fn upload(&self, code: u16) {
        self.uploads
            .get_or_create(&CodeLabels {
                code: code.to_string(),
            })
            .inc();
    }
}

impl<S: JobStore + JobQueue> Service<S> {
    /// The metrics, encoded.
    pub(crate) async fn metrics_text(&self) -> Result<String, ApiError> {
        // Read everything first: the registry is built without an await.
        let counts = self.jobs.counts().await?;
        let mut workers = Vec::new();
        for (w, up) in self.catalog().await? {
            let depth = self.jobs.queued_for(&w.platform, &w.profile).await?;
            workers.push((w, up, depth));
        }
        let mut registry = Registry::with_prefix("lpdnn");
        registry.register(
            "uploads",
            "Uploads (seed route and /v1/jobs) by HTTP status",
            self.counters.uploads.clone(),
        );
        let jobs = Family::<JobLabels, Gauge>::default();
        for (status, result, failure, n) in counts {
            jobs.get_or_create(&JobLabels {
                status: status.to_string(),
                result: result.map(|r| r.to_string()).unwrap_or_default(),
                failure: failure.map(|f| f.to_string()).unwrap_or_default(),
            })
            .set(n as i64);
        }
        registry.register("jobs", "Jobs by status, result and failure kind", jobs);
        let depth = Family::<QueueLabels, Gauge>::default();
        let alive = Family::<WorkerLabels, Gauge>::default();
        for (w, up, queued) in workers {
            depth
                .get_or_create(&QueueLabels {
                    platform: w.platform.clone(),
                    profile: w.profile.clone(),
                })
                .set(queued as i64);
            alive
                .get_or_create(&WorkerLabels {
                    worker: w.id,
                    platform: w.platform,
                    profile: w.profile,
                })
                .set(i64::from(up));
        }
        registry.register(
            "queue_depth",
            "Jobs waiting per platform and profile",
            depth,
        );
        registry.register(
            "worker_up",
            "1 when the worker was heard from within the worker timeout",
            alive,
        );
        let mut out = String::new();
        encode(&mut out, &registry).map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(out)
    }
}
