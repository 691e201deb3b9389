//! `GET /openapi.json`: the API's description, made by utoipa from the
//! handlers' annotations and the types the server, workers and client
//! share. (The workers' routes are internal and left out.)

use lpdnn_baas_api::{
    FailureKind, Job, JobList, JobOptions, JobResult, JobSpec, JobStatus, Progress, SubjectKind,
    WorkerEngine, WorkerInfo,
};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "lpdnn-host Benchmark as a Service",
        description = "Upload a model or an app bundle, name platform, profile, engine and device, \
            get the benchmark back. docs/baas.md describes states, limits and the dataset. With \
            tokens configured, every route but /health, /openapi.json and the page needs one, and \
            a token that is not valid is refused (401) everywhere."
    ),
    paths(
        crate::submit::seed_submit,
        crate::submit::submit,
        crate::list,
        crate::job,
        crate::events::events,
        crate::result,
        crate::cancel,
        crate::retry,
        crate::devices,
        crate::export,
        crate::metrics,
        crate::health,
    ),
    components(schemas(
        Job,
        JobList,
        JobSpec,
        JobOptions,
        JobStatus,
        JobResult,
        FailureKind,
        SubjectKind,
        Progress,
        WorkerInfo,
        WorkerEngine,
        crate::ErrorBody,
        crate::Accepted,
    ))
)]
pub(crate) struct ApiDoc;
