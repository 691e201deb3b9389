//! [`RemoteQueue`]: the job queue of a service reached over HTTP, for
//! `lpdnn-host worker --server URL`. The worker's loop is the same as the
//! embedded worker's; only the queue is remote.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lpdnn_baas_api::{Job, WorkerInfo};
use lpdnn_jobs::{ContentStore, JobQueue, Lease, Outcome, StoreError};
use serde_json::{json, Value};

use crate::{Client, ClientError};

/// How long a claim waits at the service for a job.
const CLAIM_WAIT: Duration = Duration::from_secs(10);

/// A service's queue, over HTTP.
#[derive(Clone)]
pub struct RemoteQueue {
    client: Arc<Client>,
}

impl RemoteQueue {
    /// The queue of the service at `url`, with a worker token.
    pub fn new(url: &str, token: Option<String>) -> Result<Self, ClientError> {
        Ok(RemoteQueue {
            client: Arc::new(Client::new(url, token)?),
        })
    }

    /// Runs a blocking call off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Client) -> Result<T, ClientError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let client = self.client.clone();
        tokio::task::spawn_blocking(move || call(&client))
            .await
            .map_err(|e| StoreError::Remote(e.to_string()))?
            .map_err(|e| match e {
                ClientError::Status { code: 409, message } => StoreError::Remote(message),
                e => StoreError::Remote(e.to_string()),
            })
    }

    async fn post(&self, path: String, body: Value) -> Result<(u16, String), StoreError> {
        self.blocking(move |c| c.call_json(&path, &body)).await
    }
}

impl JobQueue for RemoteQueue {
    async fn claim(
        &self,
        worker: &str,
        platform: &str,
        profile: &str,
        lease: Duration,
    ) -> Result<Option<(Lease, Job)>, StoreError> {
        let path = format!("/v1/workers/{}/claim", crate::escape(worker));
        let (code, text) = self
            .post(
                path,
                json!({
                    "platform": platform,
                    "profile": profile,
                    "lease_ms": lease.as_millis() as u64,
                    "wait_ms": CLAIM_WAIT.as_millis() as u64,
                }),
            )
            .await?;
        if code == 204 {
            return Ok(None);
        }
        #[derive(serde::Deserialize)]
        struct Claimed {
            lease: Lease,
            job: Job,
        }
        let c: Claimed = serde_json::from_str(&text)
            .map_err(|e| StoreError::Remote(format!("a claim's answer: {e}")))?;
        Ok(Some((c.lease, c.job)))
    }

    async fn renew(
        &self,
        lease: &Lease,
        duration: Duration,
        progress: Option<&str>,
    ) -> Result<(), StoreError> {
        let body = json!({
            "lease": lease,
            "duration_ms": duration.as_millis() as u64,
            "progress": progress,
        });
        let client = self.client.clone();
        let job = lease.job.clone();
        tokio::task::spawn_blocking(move || client.call_json("/v1/leases/renew", &body))
            .await
            .map_err(|e| StoreError::Remote(e.to_string()))?
            .map(|_| ())
            .map_err(|e| match e {
                ClientError::Status { code: 409, .. } => StoreError::LeaseLost(job),
                e => StoreError::Remote(e.to_string()),
            })
    }

    async fn record_sandbox(&self, lease: &Lease, sandbox: &str) -> Result<(), StoreError> {
        self.post(
            "/v1/leases/sandbox".into(),
            json!({ "lease": lease, "sandbox": sandbox }),
        )
        .await
        .map(|_| ())
    }

    async fn complete(&self, lease: &Lease, outcome: Outcome) -> Result<bool, StoreError> {
        let (_, text) = self
            .post(
                "/v1/leases/complete".into(),
                json!({ "lease": lease, "outcome": outcome }),
            )
            .await?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| StoreError::Remote(format!("a completion's answer: {e}")))?;
        Ok(v["written"] == true)
    }

    async fn wait_for_work(&self, _timeout: Duration) {
        // The claim itself waits at the service.
    }

    async fn register(&self, worker: &WorkerInfo) -> Result<(), StoreError> {
        let body = serde_json::to_value(worker).map_err(|e| StoreError::Remote(e.to_string()))?;
        self.post("/v1/workers".into(), body).await.map(|_| ())
    }

    async fn worker_seen(&self, worker: &str) -> Result<(), StoreError> {
        let path = format!("/v1/workers/{}/heartbeat", crate::escape(worker));
        self.post(path, Value::Null).await.map(|_| ())
    }

    async fn upload(&self, sha256: &str, cache: &ContentStore) -> Result<PathBuf, StoreError> {
        if let Some(path) = cache.path(sha256).filter(|p| p.is_file()) {
            return Ok(path);
        }
        let path = format!("/v1/uploads/{}", crate::escape(sha256));
        let bytes = self.blocking(move |c| c.bytes(&path)).await?;
        let (got, _) = cache.put(&bytes)?;
        if got != sha256 {
            return Err(StoreError::Remote(format!(
                "upload {sha256} arrived with SHA-256 {got}"
            )));
        }
        cache
            .path(&got)
            .ok_or_else(|| StoreError::NotFound(format!("upload {sha256}")))
    }
}
