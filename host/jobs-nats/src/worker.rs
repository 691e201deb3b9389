//! The worker's queue over NATS ([`NatsQueue`]): a worker connects out to
//! NATS only (fine behind NAT) and holds no database credentials. It
//! fetches **one** message at a time from its platform's durable consumer
//! (never a prefetched batch, whose ack timers would run out while the
//! first job runs), asks a front end for the job, sends in-progress acks
//! while it runs, and acks the message once the result is written (`Term`
//! when the job failed by the user's fault: it is never run again).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, PullConsumer};
use async_nats::jetstream::message::Acker;
use async_nats::jetstream::AckKind;
use futures_util::StreamExt;
use lpdnn_baas_api::{FailureKind, Job, WorkerInfo};
use lpdnn_jobs::{ContentStore, JobQueue, Lease, Outcome, StoreError};

use crate::bus::Bus;
use crate::front::Dispatch;
use crate::rpc::{Answer, Request};
use crate::{names, nats_error};

/// How long one fetch waits for a message at the server.
const FETCH_WAIT: Duration = Duration::from_secs(5);
/// How long a request waits for a front end's answer.
const ANSWER_WAIT: Duration = Duration::from_secs(10);
/// How long a result is offered to the front ends before the worker gives
/// up (they may be restarting, or their database).
const COMPLETE_FOR: Duration = Duration::from_secs(300);
/// Reports larger than this (bytes) go through the object store: a NATS
/// message holds 1 MiB by default.
const INLINE_REPORT: usize = 256 << 10;
/// Deliveries of one message before the server stops (a back-stop: the
/// store counts a job's runs and fails it after its last).
const MAX_DELIVER: i64 = 10;

/// A worker's queue: NATS JetStream for the jobs, the front ends for
/// their state.
pub struct NatsQueue {
    bus: Bus,
    /// The consumers opened, by platform and profile.
    consumers: tokio::sync::Mutex<HashMap<(String, String), PullConsumer>>,
    /// The message of each job this worker runs, to ack when it ends.
    held: Mutex<HashMap<String, Acker>>,
    /// The worker's offer, as its heartbeat puts it in the bucket.
    info: Mutex<Option<WorkerInfo>>,
}

impl NatsQueue {
    /// The queue on `bus`.
    pub fn new(bus: Bus) -> Self {
        NatsQueue {
            bus,
            consumers: Default::default(),
            held: Default::default(),
            info: Default::default(),
        }
    }

    async fn consumer(
        &self,
        platform: &str,
        profile: &str,
        lease: Duration,
    ) -> Result<PullConsumer, StoreError> {
        let key = (platform.to_owned(), profile.to_owned());
        let mut open = self.consumers.lock().await;
        if let Some(c) = open.get(&key) {
            return Ok(c.clone());
        }
        let name = names::consumer(platform, profile);
        let consumer: PullConsumer = self
            .bus
            .jobs
            .get_or_create_consumer(
                &name,
                pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: names::jobs_subject(platform, profile),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: lease,
                    max_deliver: MAX_DELIVER,
                    ..Default::default()
                },
            )
            .await
            .map_err(nats_error)?;
        open.insert(key, consumer.clone());
        Ok(consumer)
    }

    /// Asks a front end.
    async fn ask(&self, request: &Request) -> Result<Answer, StoreError> {
        let body = serde_json::to_vec(request).map_err(|e| StoreError::Remote(e.to_string()))?;
        let reply = tokio::time::timeout(
            ANSWER_WAIT,
            self.bus.client.request(request.subject(), body.into()),
        )
        .await
        .map_err(|_| StoreError::Remote("no front end answered within 10 s".into()))?
        .map_err(nats_error)?;
        let answer: Answer = serde_json::from_slice(&reply.payload)
            .map_err(|e| StoreError::Remote(format!("a front end's answer: {e}")))?;
        match answer {
            Answer::Failed { message } => Err(StoreError::Remote(message)),
            Answer::LeaseLost => Err(StoreError::LeaseLost(match request {
                Request::Renew { lease, .. }
                | Request::Sandbox { lease, .. }
                | Request::Complete { lease, .. } => lease.job.clone(),
                Request::Claim { job, .. } => job.clone(),
            })),
            a => Ok(a),
        }
    }

    /// Puts the worker's offer in the bucket (its heartbeat).
    async fn beat(&self) -> Result<(), StoreError> {
        let info = self.info.lock().ok().and_then(|i| i.clone());
        let Some(info) = info else {
            return Ok(());
        };
        let body = serde_json::to_vec(&info).map_err(|e| StoreError::Remote(e.to_string()))?;
        self.bus
            .workers
            .put(names::worker_key(&info.id), body.into())
            .await
            .map_err(nats_error)?;
        Ok(())
    }

    /// The request that ends a run: a report larger than a message may
    /// be goes through the object store.
    async fn completion(&self, lease: &Lease, outcome: Outcome) -> Result<Request, StoreError> {
        let report = match outcome {
            Outcome::Passed { report } if report.len() > INLINE_REPORT => report,
            outcome => {
                return Ok(Request::Complete {
                    lease: lease.clone(),
                    outcome,
                    report_object: None,
                })
            }
        };
        let name = format!(
            "report.{}.{}.{}",
            names::token(&lease.job),
            lease.attempt,
            names::token(&lease.worker)
        );
        self.bus
            .uploads
            .put(name.as_str(), &mut report.as_bytes())
            .await
            .map_err(nats_error)?;
        Ok(Request::Complete {
            lease: lease.clone(),
            outcome: Outcome::Passed {
                report: String::new(),
            },
            report_object: Some(name),
        })
    }

    fn take_acker(&self, job: &str) -> Option<Acker> {
        self.held.lock().ok().and_then(|mut h| h.remove(job))
    }
}

impl JobQueue for NatsQueue {
    async fn claim(
        &self,
        worker: &str,
        platform: &str,
        profile: &str,
        lease: Duration,
    ) -> Result<Option<(Lease, Job)>, StoreError> {
        let consumer = self.consumer(platform, profile, lease).await?;
        let mut batch = consumer
            .fetch()
            .max_messages(1)
            .expires(FETCH_WAIT)
            .messages()
            .await
            .map_err(nats_error)?;
        let Some(message) = batch.next().await else {
            return Ok(None);
        };
        let (message, acker) = message.map_err(StoreError::Backend)?.split();
        let Ok(dispatch) = serde_json::from_slice::<Dispatch>(&message.payload) else {
            tracing::warn!("a message that names no job on {}", message.subject);
            let _ = acker.ack_with(AckKind::Term).await;
            return Ok(None);
        };
        let request = Request::Claim {
            worker: worker.to_owned(),
            job: dispatch.job.clone(),
            lease_ms: lease.as_millis() as u64,
        };
        match self.ask(&request).await {
            Ok(Answer::Taken { lease, job }) => {
                if let Ok(mut held) = self.held.lock() {
                    held.insert(lease.job.clone(), acker);
                }
                Ok(Some((lease, *job)))
            }
            // Spare deliveries: the store holds the job's truth.
            Ok(Answer::Held | Answer::Ended) => {
                let _ = acker.ack().await;
                Ok(None)
            }
            Ok(Answer::Exhausted) => {
                let _ = acker.ack_with(AckKind::Term).await;
                Ok(None)
            }
            Ok(other) => Err(StoreError::Remote(format!("a claim answered {other:?}"))),
            // No front end answered: the message is to be delivered again
            // in a second, not after a whole ack wait.
            Err(e) => {
                let _ = acker
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                    .await;
                Err(e)
            }
        }
    }

    async fn renew(
        &self,
        lease: &Lease,
        duration: Duration,
        progress: Option<&str>,
    ) -> Result<(), StoreError> {
        let acker = self.take_acker(&lease.job);
        if let Some(acker) = &acker {
            // The stream waits one more ack wait before delivering the
            // message again.
            let _ = acker.ack_with(AckKind::Progress).await;
        }
        if let (Some(acker), Ok(mut held)) = (acker, self.held.lock()) {
            held.insert(lease.job.clone(), acker);
        }
        // A long job is still a heartbeat.
        if let Err(e) = self.beat().await {
            tracing::warn!("heartbeat: {e}");
        }
        self.ask(&Request::Renew {
            lease: lease.clone(),
            duration_ms: duration.as_millis() as u64,
            progress: progress.map(str::to_owned),
        })
        .await
        .map(|_| ())
    }

    async fn record_sandbox(&self, lease: &Lease, sandbox: &str) -> Result<(), StoreError> {
        self.ask(&Request::Sandbox {
            lease: lease.clone(),
            sandbox: sandbox.to_owned(),
        })
        .await
        .map(|_| ())
    }

    /// Offers the result until a front end answers (or 5 min), then acks
    /// the message: `Term` for a failure of the user's.
    async fn complete(&self, lease: &Lease, outcome: Outcome) -> Result<bool, StoreError> {
        let terminate = matches!(
            outcome,
            Outcome::Failed {
                kind: FailureKind::UserError,
                ..
            }
        );
        let request = self.completion(lease, outcome).await?;
        let start = std::time::Instant::now();
        let written = loop {
            match self.ask(&request).await {
                Ok(Answer::Written { written }) => break written,
                Err(StoreError::LeaseLost(_)) => break false,
                Ok(other) => {
                    return Err(StoreError::Remote(format!(
                        "a completion answered {other:?}"
                    )))
                }
                Err(e) if start.elapsed() < COMPLETE_FOR => {
                    tracing::warn!("job {}: the result waits for a front end: {e}", lease.job);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e),
            }
        };
        if let Some(acker) = self.take_acker(&lease.job) {
            let kind = if terminate && written {
                AckKind::Term
            } else {
                AckKind::Ack
            };
            let _ = acker.ack_with(kind).await;
        }
        Ok(written)
    }

    async fn wait_for_work(&self, _timeout: Duration) {
        // The fetch itself waits at the server.
    }

    async fn register(&self, worker: &WorkerInfo) -> Result<(), StoreError> {
        if let Ok(mut info) = self.info.lock() {
            *info = Some(worker.clone());
        }
        self.beat().await
    }

    async fn worker_seen(&self, _worker: &str) -> Result<(), StoreError> {
        self.beat().await
    }

    async fn upload(&self, sha256: &str, cache: &ContentStore) -> Result<PathBuf, StoreError> {
        crate::fetch_upload(&self.bus, sha256, cache).await
    }
}
