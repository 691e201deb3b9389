//! The handlers, by resource.

pub(crate) mod devices;
pub(crate) mod events;
pub(crate) mod export;
pub(crate) mod jobs;
pub(crate) mod service;
pub(crate) mod submit;
pub(crate) mod sweeps;
pub(crate) mod workers;
