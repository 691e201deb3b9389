//! Benchmark as a Service across machines, on NATS JetStream: jobs wait in
//! a work-queue stream (one subject and one durable pull consumer per
//! platform and profile), uploads travel through the object store, live
//! workers heartbeat into a key-value bucket whose entries expire.
//!
//! - [`Cluster`]: the front end's back end over a [`lpdnn_jobs::DispatchStore`]
//!   (PostgreSQL when several front ends share it). The store stays the
//!   truth: a delivered message only says "job X may be waiting"; the store
//!   decides, by compare-and-set on the job's attempt, who runs it, so a
//!   message delivered twice runs nothing twice.
//! - [`NatsQueue`]: the worker's queue, NATS only.
//! - [`Bus`]: the connection and the stream and buckets.

#![warn(missing_docs)]

mod bus;
mod front;
pub mod names;
mod rpc;
mod worker;

use std::path::PathBuf;

use lpdnn_jobs::{ContentStore, StoreError};
use tokio::io::AsyncReadExt;

pub use bus::{Bus, Settings};
pub use front::Cluster;
pub use worker::NatsQueue;

/// Errors of setting NATS up.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// No connection.
    #[error("cannot connect to NATS at {0}: {1}")]
    Connect(String, String),
    /// A stream or bucket could not be found or created.
    #[error("NATS: cannot set up {0}: {1}")]
    Setup(&'static str, String),
}

/// A NATS error as the store's.
pub(crate) fn nats_error(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// The upload of `sha256` from `cache`, else fetched from the object store
/// into it; its bytes must hash to its name.
pub(crate) async fn fetch_upload(
    bus: &Bus,
    sha256: &str,
    cache: &ContentStore,
) -> Result<PathBuf, StoreError> {
    let Some(path) = cache.path(sha256) else {
        return Err(StoreError::NotFound(format!("upload {sha256}")));
    };
    if path.is_file() {
        return Ok(path);
    }
    let mut object = bus.uploads.get(sha256).await.map_err(nats_error)?;
    let mut bytes = Vec::new();
    object.read_to_end(&mut bytes).await?;
    let (got, _) = cache.put(&bytes)?;
    if got != sha256 {
        return Err(StoreError::Remote(format!(
            "upload {sha256} arrived with SHA-256 {got}"
        )));
    }
    Ok(path)
}
