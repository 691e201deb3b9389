//! Benchmark as a Service: the HTTP API.
//!
//! - The seed's route, unchanged: `POST /bonseyes_baas/{platform}/{profile}/{engine}?device=cpu|gpu`
//!   with the model as the body → `202` and `Location: /v1/jobs/{id}`; `?wait=SECONDS` answers
//!   with the result when it is ready in time.
//! - `POST /v1/jobs` (multipart: a model or an app bundle, and options),
//!   `GET /v1/jobs/{id}`, `GET /v1/jobs/{id}/events` (server-sent progress),
//!   `GET /v1/jobs/{id}/result?format=json|csv|html`, `POST /v1/jobs/{id}/cancel`,
//!   `POST /v1/jobs/{id}/retry`, `GET /v1/jobs` (the caller's jobs), `GET /v1/devices`,
//!   `POST /v1/sweeps` (one upload over several platforms, profiles, engines, devices or
//!   thread counts: a job group), `GET /v1/groups/{id}`, `GET /v1/groups/{id}/report`
//!   (the cells side by side, once every cell ended),
//!   `GET /v1/export?format=csv|jsonl&since=` (the profiling dataset), `GET /health`,
//!   `GET /metrics` (Prometheus).
//!
//! Everything is checked at upload, before anything is queued: the bearer
//! token (401), the body's size (413), the owner's quota of active jobs
//! (429), the platform, profile and engine (404, listing what exists), the
//! device (422, naming those offered), and the model's bytes against the
//! engine's formats (422).
//!
//! With tokens configured, only `/health`, `/openapi.json` and the page
//! are public; a request that presents a token that is not one of the
//! service's gets `401` on every route, public ones included. Tokens are
//! compared by SHA-256 digest in constant time.

#![warn(missing_docs)]

pub mod dataset;
mod error;
mod handlers;
mod metrics;
mod openapi;
mod routes;
mod state;

pub use error::ApiError;
pub use metrics::Counters;
pub use routes::router;
pub use state::{Config, Service};
