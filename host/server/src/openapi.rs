//! `GET /openapi.json`: the API's description, made by utoipa from the
//! handlers' annotations and the types the server, workers and client
//! share. (The workers' routes are internal and left out.)

use crate::handlers::{devices, events, export, jobs, service, submit, sweeps};
use lpdnn_baas_api::{
    Accepted, Cell, CellView, Device, DeviceCatalog, DeviceEntry, EngineName, ErrorBody,
    ExportFormat, ExportTable, FailureKind, GroupLinks, GroupView, Health, Job, JobLinks, JobList,
    JobOptions, JobResult, JobSpec, JobStatus, JobView, ModelFormat, Progress, ResultFormat, Run,
    RunEnd, RunList, SubjectKind, WorkerEngine,
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
        submit::seed_submit,
        submit::submit,
        jobs::list,
        jobs::job,
        jobs::runs,
        events::events,
        jobs::result,
        jobs::cancel,
        jobs::retry,
        sweeps::submit_sweep,
        sweeps::group,
        sweeps::report,
        devices::devices,
        export::export,
        service::metrics,
        service::health,
    ),
    components(schemas(
        Job,
        JobView,
        JobLinks,
        JobList,
        Run,
        RunEnd,
        RunList,
        JobSpec,
        JobOptions,
        JobStatus,
        JobResult,
        FailureKind,
        SubjectKind,
        Progress,
        WorkerEngine,
        DeviceCatalog,
        DeviceEntry,
        Device,
        EngineName,
        ModelFormat,
        ResultFormat,
        ExportFormat,
        ExportTable,
        Health,
        ErrorBody,
        Accepted,
        Cell,
        CellView,
        GroupView,
        GroupLinks,
    ))
)]
pub(crate) struct ApiDoc;
