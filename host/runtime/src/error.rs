//! Errors of the processor runtime.

use std::path::PathBuf;
use std::time::Duration;

/// Which kind of failure a processor reported about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessorErrorKind {
    /// A parameter from app.json is missing or invalid.
    InvalidParams,
    /// The input is corrupt, truncated, too large or of the wrong kind.
    InvalidInput,
    /// The tensors handed to the processor do not fit.
    InvalidTensor,
    /// Anything else.
    Internal,
}

impl std::fmt::Display for ProcessorErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProcessorErrorKind::InvalidParams => "invalid params",
            ProcessorErrorKind::InvalidInput => "invalid input",
            ProcessorErrorKind::InvalidTensor => "invalid tensor",
            ProcessorErrorKind::Internal => "internal error",
        })
    }
}

/// Errors of loading or calling a processor component. Every variant names
/// the component file.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The component file cannot be read.
    #[error("cannot read component {path}: {source}")]
    Io {
        /// The component file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid WebAssembly component.
    #[error("component {path} is not a valid WebAssembly component: {message}")]
    Compile {
        /// The component file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The component does not implement the world the app needs it for, or
    /// imports something the sandbox does not grant.
    #[error(
        "component {path} is not a {world} (lpdnn:processing@{}): {message}",
        crate::WIT_VERSION
    )]
    WrongWorld {
        /// The component file.
        path: PathBuf,
        /// The world it was loaded as.
        world: String,
        /// Why it does not fit.
        message: String,
    },
    /// The component was built against a version of the WIT package this
    /// host does not speak.
    #[error("component {path} was built against lpdnn:processing@{component}, this host speaks lpdnn:processing@{host}; rebuild it against {host} (compatible: same major version, or same minor for 0.x)")]
    Version {
        /// The component file.
        path: PathBuf,
        /// The version it was built against.
        component: String,
        /// The version the host speaks.
        host: &'static str,
    },
    /// The processor reported an error about its parameters or input.
    #[error("component {path}: {kind}: {}", untrusted(.message))]
    Processor {
        /// The component file.
        path: PathBuf,
        /// What went wrong.
        kind: ProcessorErrorKind,
        /// The processor's explanation.
        message: String,
    },
    /// The call ran past its deadline and was interrupted.
    #[error("component {path} ran past its {limit:?} deadline and was stopped")]
    Timeout {
        /// The component file.
        path: PathBuf,
        /// The deadline.
        limit: Duration,
    },
    /// The component tried to grow its memory past the cap.
    #[error("component {path} exceeded its memory limit of {limit} bytes (asked for {requested})")]
    MemoryLimit {
        /// The component file.
        path: PathBuf,
        /// The cap.
        limit: usize,
        /// The size it asked for.
        requested: usize,
    },
    /// The component wrote more to stderr in one call than the host keeps.
    #[error("component {path} wrote more than its stderr limit of {limit} bytes in one call and was stopped; it began: {}", untrusted(.head))]
    StderrLimit {
        /// The component file.
        path: PathBuf,
        /// The limit (`Limits::stderr_bytes`).
        limit: usize,
        /// The first line of what it wrote, shortened.
        head: String,
    },
    /// The component handed the host more data in one call than
    /// `Limits::output_bytes` allows.
    #[error("component {path} returned more than {limit} bytes in one call, the most the host copies out of a component, and was stopped")]
    OutputLimit {
        /// The component file.
        path: PathBuf,
        /// The limit in bytes (`Limits::output_bytes`).
        limit: usize,
    },
    /// The component crashed (trap or panic).
    #[error("component {path} crashed: {message}{}", stderr_suffix(.stderr))]
    Trap {
        /// The component file.
        path: PathBuf,
        /// The trap.
        message: String,
        /// What the component wrote to stderr (a panic message, say).
        stderr: String,
    },
    /// The component returned something the host refuses (e.g. a tensor
    /// whose data does not match its shape).
    #[error("component {path} returned invalid output: {}", untrusted(.message))]
    InvalidOutput {
        /// The component file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The runtime itself could not be set up.
    #[error("cannot set up the WebAssembly runtime: {0}")]
    Setup(String),
}

use lpdnn_engine_api::untrusted;

fn stderr_suffix(stderr: &str) -> String {
    let s = stderr.trim();
    if s.is_empty() {
        String::new()
    } else {
        format!("; component stderr: {}", untrusted(s))
    }
}

#[cfg(test)]
mod tests {
    use lpdnn_engine_api::untrusted;

    #[test]
    fn escapes_and_bounds_what_a_component_says() {
        // Clear the screen, move home, a right-to-left override.
        let s = untrusted("\x1b[2J\x1b[Hall tests passed\u{202E}!\r\nnext");
        assert!(!s.chars().any(|c| c.is_control()), "{s}");
        assert_eq!(
            s,
            "\\u{1b}[2J\\u{1b}[Hall tests passed\\u{202e}!\\u{d}⏎next"
        );
        let long = untrusted(&"x".repeat(50_000));
        assert!(
            long.ends_with("… (48000 more characters)"),
            "{}",
            &long[long.len() - 40..]
        );
    }
}
