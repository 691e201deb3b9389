//! The front end's back end: [`Cluster`] keeps jobs in a store (the
//! truth: PostgreSQL for several front ends) and hands them to workers
//! through the JetStream stream, uploads through the object store, the
//! live catalog from the workers' bucket. Beside it run the workers'
//! request responder ([`crate::rpc::respond`]) and a reconciler that
//! (re)publishes what the store says is queued but not yet in the stream.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv::Operation;
use async_nats::jetstream::message::PublishMessage;
use futures_util::StreamExt;
use lpdnn_baas_api::{Group, Job, Run, WorkerInfo};
use lpdnn_jobs::{
    now_ms, ContentStore, Count, DispatchStore, JobQueue, JobStore, Lease, NewCell, NewGroup,
    NewJob, Outcome, StoreError, Undispatched, Upload,
};

use crate::bus::Bus;
use crate::{names, nats_error};

/// How often the reconciler looks at the store.
const RECONCILE_EVERY: Duration = Duration::from_secs(1);
/// A queued job's message is published by the front end that took it; the
/// reconciler publishes it when that did not happen within this time (ms).
const PUBLISH_GRACE_MS: i64 = 2000;

/// A job's message on the stream: its id (the store holds the rest).
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Dispatch {
    pub(crate) job: String,
}

/// Jobs in a store, dispatched through NATS.
pub struct Cluster<S> {
    store: Arc<S>,
    bus: Bus,
    content: ContentStore,
}

impl<S: DispatchStore> Cluster<S> {
    /// The front end over `store`, with its uploads in `content` (a local
    /// cache of the object store).
    pub fn new(store: Arc<S>, bus: Bus, content: ContentStore) -> Self {
        Cluster {
            store,
            bus,
            content,
        }
    }

    /// Starts the workers' request responder and the reconciler; they run
    /// until the runtime ends.
    pub fn start(self: &Arc<Self>) {
        let (bus, store) = (self.bus.clone(), self.store.clone());
        tokio::spawn(async move {
            loop {
                if let Err(e) = crate::rpc::respond(bus.clone(), store.clone()).await {
                    tracing::warn!("the workers' responder stopped: {e}; starting it again");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = me.reconcile().await {
                    tracing::warn!("reconciling the queue: {e}");
                }
                tokio::time::sleep(RECONCILE_EVERY).await;
            }
        });
    }

    /// One pass of the reconciler: lapsed leases and queue times ended in
    /// the store, then every queued job not known to be in the stream
    /// published.
    pub async fn reconcile(&self) -> Result<(), StoreError> {
        let waiting = self
            .store
            .reconcile(now_ms() - PUBLISH_GRACE_MS, 500)
            .await?;
        for job in waiting {
            self.publish(&job).await?;
        }
        Ok(())
    }

    /// Publishes the job's message (its id `{job}.{attempts}`, so a second
    /// publish within the stream's duplicate window is dropped) and records
    /// it once the stream has it.
    async fn publish(&self, job: &Undispatched) -> Result<(), StoreError> {
        let body = serde_json::to_vec(&Dispatch {
            job: job.id.clone(),
        })
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
        self.bus
            .js
            .send_publish(
                names::jobs_subject(&job.platform, &job.profile),
                PublishMessage::build()
                    .payload(body.into())
                    .message_id(format!("{}.{}", job.id, job.attempts)),
            )
            .await
            .map_err(nats_error)?
            .await
            .map_err(nats_error)?;
        self.store.dispatched(&job.id, job.attempts).await
    }

    /// Publishes a job just queued; one that is not is accepted all the
    /// same: the reconciler publishes it later.
    async fn announce(&self, job: &Job) {
        let message = Undispatched {
            id: job.id.clone(),
            platform: job.spec.platform.clone(),
            profile: job.spec.profile.clone(),
            attempts: 0,
        };
        if let Err(e) = self.publish(&message).await {
            tracing::warn!("job {} is queued but not yet published: {e}", job.id);
        }
    }

    /// Puts the upload of `sha256` in the object store unless it is there.
    async fn share_upload(&self, sha256: &str) -> Result<(), StoreError> {
        if self.bus.uploads.info(sha256).await.is_ok() {
            return Ok(());
        }
        let path = self
            .content
            .path(sha256)
            .filter(|p| p.is_file())
            .ok_or_else(|| StoreError::NotFound(format!("upload {sha256}")))?;
        let mut file = tokio::fs::File::open(&path).await?;
        self.bus
            .uploads
            .put(sha256, &mut file)
            .await
            .map_err(nats_error)?;
        Ok(())
    }

    /// The workers whose heartbeat is in the bucket, with its time (ms).
    async fn live_workers(&self) -> Result<Vec<(WorkerInfo, i64)>, StoreError> {
        let mut keys = self.bus.workers.keys().await.map_err(nats_error)?;
        let mut found = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(nats_error)?;
            let Some(entry) = self.bus.workers.entry(key).await.map_err(nats_error)? else {
                continue;
            };
            if entry.operation != Operation::Put {
                continue;
            }
            match serde_json::from_slice::<WorkerInfo>(&entry.value) {
                Ok(info) => found.push((
                    info,
                    (entry.created.unix_timestamp_nanos() / 1_000_000) as i64,
                )),
                Err(e) => tracing::warn!("a worker's entry {} is not a worker: {e}", entry.key),
            }
        }
        Ok(found)
    }
}

impl<S: DispatchStore> JobStore for Cluster<S> {
    async fn submit(&self, job: NewJob) -> Result<Job, StoreError> {
        // The bytes first: no job names an upload a worker cannot fetch.
        self.share_upload(&job.spec.sha256).await?;
        let job = self.store.submit(job).await?;
        self.announce(&job).await;
        Ok(job)
    }

    async fn submit_group(&self, group: NewGroup) -> Result<Group, StoreError> {
        for cell in &group.cells {
            if let NewCell::Queued(_, job) = cell {
                self.share_upload(&job.spec.sha256).await?;
            }
        }
        let group = self.store.submit_group(group).await?;
        for id in group.cells.iter().filter_map(|c| c.job.as_deref()) {
            self.announce(&self.store.get(id).await?).await;
        }
        Ok(group)
    }

    async fn group(&self, id: &str) -> Result<Group, StoreError> {
        self.store.group(id).await
    }

    async fn get(&self, id: &str) -> Result<Job, StoreError> {
        self.store.get(id).await
    }

    async fn report(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.store.report(id).await
    }

    async fn progress(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.store.progress(id).await
    }

    async fn cancel(&self, id: &str) -> Result<Job, StoreError> {
        self.store.cancel(id).await
    }

    async fn active_for(&self, owner: &str) -> Result<u64, StoreError> {
        self.store.active_for(owner).await
    }

    async fn jobs_of(&self, owner: &str, limit: u32) -> Result<Vec<Job>, StoreError> {
        self.store.jobs_of(owner, limit).await
    }

    async fn queued_for(&self, platform: &str, profile: &str) -> Result<u64, StoreError> {
        self.store.queued_for(platform, profile).await
    }

    async fn passed_since(&self, since_ms: i64) -> Result<Vec<(Job, String)>, StoreError> {
        self.store.passed_since(since_ms).await
    }

    async fn counts(&self) -> Result<Vec<Count>, StoreError> {
        self.store.counts().await
    }

    /// The workers heard through NATS, and those of the HTTP protocol
    /// registered in the store.
    async fn workers(&self) -> Result<Vec<(WorkerInfo, i64)>, StoreError> {
        let mut all = self.live_workers().await?;
        for (info, seen) in self.store.workers().await? {
            if !all.iter().any(|(w, _)| w.id == info.id) {
                all.push((info, seen));
            }
        }
        Ok(all)
    }

    async fn runs(&self, id: &str) -> Result<Vec<Run>, StoreError> {
        self.store.runs(id).await
    }

    async fn record_upload(&self, sha256: &str, bytes: u64) -> Result<(), StoreError> {
        self.store.record_upload(sha256, bytes).await
    }

    async fn upload_record(&self, sha256: &str) -> Result<Option<Upload>, StoreError> {
        self.store.upload_record(sha256).await
    }
}

/// The HTTP workers' protocol (`worker --server`), on the store itself.
impl<S: DispatchStore> JobQueue for Cluster<S> {
    async fn claim(
        &self,
        worker: &str,
        platform: &str,
        profile: &str,
        lease: Duration,
    ) -> Result<Option<(Lease, Job)>, StoreError> {
        self.store.claim(worker, platform, profile, lease).await
    }

    async fn renew(
        &self,
        lease: &Lease,
        duration: Duration,
        progress: Option<&str>,
    ) -> Result<(), StoreError> {
        self.store.renew(lease, duration, progress).await
    }

    async fn record_sandbox(&self, lease: &Lease, sandbox: &str) -> Result<(), StoreError> {
        self.store.record_sandbox(lease, sandbox).await
    }

    async fn complete(&self, lease: &Lease, outcome: Outcome) -> Result<bool, StoreError> {
        self.store.complete(lease, outcome).await
    }

    async fn wait_for_work(&self, timeout: Duration) {
        self.store.wait_for_work(timeout).await
    }

    async fn register(&self, worker: &WorkerInfo) -> Result<(), StoreError> {
        self.store.register(worker).await
    }

    async fn worker_seen(&self, worker: &str) -> Result<(), StoreError> {
        self.store.worker_seen(worker).await
    }

    /// The upload from this front end's cache, else from the object store
    /// (another front end took it), checked against its SHA-256.
    async fn upload(&self, sha256: &str, cache: &ContentStore) -> Result<PathBuf, StoreError> {
        crate::fetch_upload(&self.bus, sha256, cache).await
    }
}
