//! `lpdnn-serve`: the Benchmark-as-a-Service front end alone. It runs no
//! benchmark: workers (`lpdnn-host worker --server ...`) connect to it.

use std::process::ExitCode;

use clap::Parser;

/// Serve Benchmark as a Service (the HTTP API and the job store); benchmarks
/// run on workers that connect to it (`lpdnn-host worker --server URL`).
#[derive(Parser)]
#[command(name = "lpdnn-serve", version)]
struct Cli {
    #[command(flatten)]
    serve: lpdnn_serve::ServeArgs,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("LPDNN_LOG"))
        .with_writer(std::io::stderr)
        .init();
    match lpdnn_serve::serve(Cli::parse().serve, |_| Ok(None)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", lpdnn_types::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
