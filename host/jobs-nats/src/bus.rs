//! The connection to NATS and what lives there: the jobs' work-queue
//! stream, the live workers' bucket, the uploads' object store. Each is
//! created by whoever comes first (a front end or a worker) with the same
//! settings, and found by the others.

use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store, stream};

use crate::names;
use crate::NatsError;

/// How NATS is set up for the service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A worker whose heartbeat is older than this leaves the catalog (the
    /// workers' bucket's time-to-live).
    pub worker_ttl: Duration,
    /// The window in which a job's message id is de-duplicated.
    pub duplicate_window: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            worker_ttl: Duration::from_secs(30),
            duplicate_window: Duration::from_secs(120),
        }
    }
}

/// A connection, its JetStream context and the service's stream and buckets.
#[derive(Clone)]
pub struct Bus {
    /// The connection (it reconnects by itself).
    pub client: async_nats::Client,
    /// Its JetStream context.
    pub js: jetstream::Context,
    /// The jobs' stream.
    pub jobs: stream::Stream,
    /// Live workers, by id, each entry its `WorkerInfo` as JSON.
    pub workers: kv::Store,
    /// Uploads by SHA-256.
    pub uploads: object_store::ObjectStore,
}

impl Bus {
    /// Connects to `url` (`nats://[user:password@]host:port`, several
    /// separated by commas) and finds or creates the stream and buckets.
    pub async fn connect(url: &str, settings: &Settings) -> Result<Self, NatsError> {
        let client = async_nats::ConnectOptions::new()
            .name("lpdnn-host")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| NatsError::Connect(url.to_owned(), e.to_string()))?;
        // Wait for the first connection (`retry_on_initial_connect` returns
        // at once), at most 30 s.
        let mut waited = Duration::ZERO;
        while client.connection_state() != async_nats::connection::State::Connected {
            if waited >= Duration::from_secs(30) {
                return Err(NatsError::Connect(
                    url.to_owned(),
                    "no answer within 30 s".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += Duration::from_millis(50);
        }
        let js = jetstream::new(client.clone());
        let jobs = js
            .get_or_create_stream(stream::Config {
                name: names::JOBS_STREAM.into(),
                subjects: vec![names::JOBS_SUBJECTS.into()],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                duplicate_window: settings.duplicate_window,
                ..Default::default()
            })
            .await
            .map_err(|e| NatsError::Setup(names::JOBS_STREAM, e.to_string()))?;
        let workers = match js.get_key_value(names::WORKERS_BUCKET).await {
            Ok(kv) => kv,
            Err(_) => {
                let created = js
                    .create_key_value(kv::Config {
                        bucket: names::WORKERS_BUCKET.into(),
                        history: 1,
                        max_age: settings.worker_ttl,
                        storage: stream::StorageType::File,
                        ..Default::default()
                    })
                    .await;
                match created {
                    Ok(kv) => kv,
                    // Created meanwhile by another process.
                    Err(e) => js
                        .get_key_value(names::WORKERS_BUCKET)
                        .await
                        .map_err(|_| NatsError::Setup(names::WORKERS_BUCKET, e.to_string()))?,
                }
            }
        };
        let uploads = match js.get_object_store(names::UPLOADS_BUCKET).await {
            Ok(os) => os,
            Err(_) => {
                let created = js
                    .create_object_store(object_store::Config {
                        bucket: names::UPLOADS_BUCKET.into(),
                        storage: stream::StorageType::File,
                        ..Default::default()
                    })
                    .await;
                match created {
                    Ok(os) => os,
                    Err(e) => js
                        .get_object_store(names::UPLOADS_BUCKET)
                        .await
                        .map_err(|_| NatsError::Setup(names::UPLOADS_BUCKET, e.to_string()))?,
                }
            }
        };
        Ok(Bus {
            client,
            js,
            jobs,
            workers,
            uploads,
        })
    }
}
