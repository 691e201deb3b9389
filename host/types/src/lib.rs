//! The concepts every lpdnn-host crate shares, one type each, with no
//! dependency beyond serde: the engines, the app, the benchmark, the report,
//! the job store and the HTTP service all name them the same way.

#![warn(missing_docs)]

mod engine;
mod format;
mod stage;

pub use engine::{EngineName, UnknownEngineName};
pub use format::{format_key, ModelFormat};
pub use stage::Stage;

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a model runs: what an app asks for, an engine offers, a platform
/// has, a job names and a result records.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// The host (application) CPU.
    #[default]
    Cpu,
    /// A GPU (CUDA, Vulkan, ...).
    Gpu,
    /// A neural processing unit or deep-learning accelerator (Ascend, ...).
    Npu,
}

impl Device {
    /// Every device, in this order.
    pub const ALL: [Device; 3] = [Device::Cpu, Device::Gpu, Device::Npu];

    /// The name in app files, descriptors and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Gpu => "gpu",
            Device::Npu => "npu",
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Device::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| format!("unknown device '{s}' (cpu, gpu or npu)"))
    }
}

/// An error and its causes on one line, each cause once (a message that
/// already quotes its cause is not repeated).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    for cause in std::iter::successors(Some(e), |e| e.source()) {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}
