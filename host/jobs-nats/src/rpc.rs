//! The workers' requests to the front ends, over NATS request–reply: a
//! worker holds NATS credentials only, never the database's. Each request
//! is JSON on `lpdnn.rpc.<kind>`; any front end of the queue group answers
//! it against the store.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lpdnn_baas_api::Job;
use lpdnn_jobs::{Claimed, DispatchStore, Lease, Outcome, StoreError};
use serde::{Deserialize, Serialize};

use crate::bus::Bus;
use crate::names;

/// A worker's request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub(crate) enum Request {
    /// Take job `job` (its message was delivered) under a lease.
    Claim {
        /// The worker.
        worker: String,
        /// The job.
        job: String,
        /// The lease's length, ms.
        lease_ms: u64,
    },
    /// Renew a lease, with the run's progress.
    Renew {
        /// The lease.
        lease: Lease,
        /// The lease's length from now, ms.
        duration_ms: u64,
        /// The latest progress (JSON).
        progress: Option<String>,
    },
    /// Record the run's isolation measures.
    Sandbox {
        /// The lease.
        lease: Lease,
        /// What applied (JSON).
        sandbox: String,
    },
    /// The run's end.
    Complete {
        /// The lease.
        lease: Lease,
        /// How it ended.
        outcome: Outcome,
        /// A report too large for a message, put in the object store
        /// under this name (the outcome's report is then empty).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        report_object: Option<String>,
    },
}

impl Request {
    /// Its subject.
    pub(crate) fn subject(&self) -> String {
        names::rpc_subject(match self {
            Request::Claim { .. } => "claim",
            Request::Renew { .. } => "renew",
            Request::Sandbox { .. } => "sandbox",
            Request::Complete { .. } => "complete",
        })
    }
}

/// A front end's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub(crate) enum Answer {
    /// The job is the worker's.
    Taken {
        /// Its lease.
        lease: Lease,
        /// The job.
        job: Box<Job>,
    },
    /// Another worker holds it.
    Held,
    /// It ended; nothing to run.
    Ended,
    /// It had its runs and failed as `infra_error`.
    Exhausted,
    /// Done.
    Done,
    /// The result was written (or not: the lease was lost).
    Written {
        /// Whether it was.
        written: bool,
    },
    /// The lease is lost (lapsed, or the job was cancelled).
    LeaseLost,
    /// The front end could not answer (its database failed, …).
    Failed {
        /// Why.
        message: String,
    },
}

/// Answers one request against `store`.
async fn answer<S: DispatchStore>(bus: &Bus, store: &S, request: Request) -> Answer {
    let result = match request {
        Request::Claim {
            worker,
            job,
            lease_ms,
        } => store
            .claim_job(&worker, &job, lease(lease_ms))
            .await
            .map(|c| match c {
                Claimed::Taken(lease, job) => Answer::Taken { lease, job },
                Claimed::Held => Answer::Held,
                Claimed::Ended(_) => Answer::Ended,
                Claimed::Exhausted => Answer::Exhausted,
            }),
        Request::Renew {
            lease: l,
            duration_ms,
            progress,
        } => {
            if progress.as_ref().is_some_and(|p| p.len() > 4096) {
                return Answer::Failed {
                    message: "progress is at most 4096 bytes".into(),
                };
            }
            store
                .renew(&l, lease(duration_ms), progress.as_deref())
                .await
                .map(|()| Answer::Done)
        }
        Request::Sandbox { lease, sandbox } => store
            .record_sandbox(&lease, &sandbox)
            .await
            .map(|()| Answer::Done),
        Request::Complete {
            lease,
            outcome,
            report_object: None,
        } => store
            .complete(&lease, outcome)
            .await
            .map(|written| Answer::Written { written }),
        Request::Complete {
            lease,
            report_object: Some(name),
            ..
        } => {
            let report = match large_report(bus, &name).await {
                Ok(report) => report,
                Err(message) => return Answer::Failed { message },
            };
            let written = store.complete(&lease, Outcome::Passed { report }).await;
            if written.is_ok() {
                let _ = bus.uploads.delete(&name).await;
            }
            written.map(|written| Answer::Written { written })
        }
    };
    match result {
        Ok(a) => a,
        Err(StoreError::LeaseLost(_)) => Answer::LeaseLost,
        Err(e) => Answer::Failed {
            message: e.to_string(),
        },
    }
}

/// The report a worker put in the object store.
async fn large_report(bus: &Bus, name: &str) -> Result<String, String> {
    use tokio::io::AsyncReadExt;
    let mut object = bus
        .uploads
        .get(name)
        .await
        .map_err(|e| format!("the report {name}: {e}"))?;
    let mut report = String::new();
    object
        .read_to_string(&mut report)
        .await
        .map_err(|e| format!("the report {name}: {e}"))?;
    Ok(report)
}

/// A lease's length as asked, within 1 s – 10 min.
fn lease(ms: u64) -> Duration {
    Duration::from_millis(ms.clamp(1000, 600_000))
}

/// Answers the workers' requests until the connection closes: each in a
/// task of its own, so a slow database call holds up no other.
pub async fn respond<S: DispatchStore>(
    bus: Bus,
    store: Arc<S>,
) -> Result<(), async_nats::SubscribeError> {
    let mut requests = bus
        .client
        .queue_subscribe(names::RPC_SUBJECTS, names::RPC_GROUP.into())
        .await?;
    while let Some(message) = requests.next().await {
        let (bus, store) = (bus.clone(), store.clone());
        tokio::spawn(async move {
            let Some(reply) = message.reply else {
                return;
            };
            let answer = match serde_json::from_slice::<Request>(&message.payload) {
                Ok(request) => answer(&bus, store.as_ref(), request).await,
                Err(e) => Answer::Failed {
                    message: format!("a request the front end cannot read: {e}"),
                },
            };
            let body = serde_json::to_vec(&answer).unwrap_or_default();
            if let Err(e) = bus.client.publish(reply, body.into()).await {
                tracing::warn!("cannot answer a worker: {e}");
            }
        });
    }
    Ok(())
}
