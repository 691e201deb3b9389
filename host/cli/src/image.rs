//! `lpdnn-host image worker|server`: container images of the service's
//! parts, as OCI archives.

use std::path::PathBuf;

use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use lpdnn_image::Written;

/// Make a container image.
#[derive(Debug, Subcommand)]
#[command(after_help = "\
Examples:
  lpdnn-host package --platform raspberry-pi-4b --app examples/face-detection -o pi4
  lpdnn-host image worker pi4 -o lpdnn-worker-pi4.tar
  lpdnn-host image server -o lpdnn-serve.tar
  podman load -i lpdnn-worker-pi4.tar

The base layer holds Debian's C and C++ runtimes for the image's architecture,
made once with mmdebstrap (no image is pulled) and kept in the lpdnn cache.")]
pub enum ImageCommand {
    /// A worker from a deployment package: the package in /opt/lpdnn, run
    /// as `lpdnn-host worker` for its platform and profile by an
    /// unprivileged user (give LPDNN_NATS_URL or --server when you run it).
    Worker {
        /// The package folder (`lpdnn-host package`).
        package: PathBuf,
        /// The image archive to write.
        #[arg(long, short)]
        output: PathBuf,
        /// A root filesystem tar to use as base (default: Debian 12's
        /// runtimes for the package's architecture).
        #[arg(long, value_name = "ROOTFS.tar")]
        base: Option<PathBuf>,
    },
    /// The front end: `lpdnn-serve` on port 8080 (give LPDNN_NATS_URL and
    /// LPDNN_POSTGRES_URL, or keep its SQLite file in the volume).
    Server {
        /// The lpdnn-serve binary (default: the one beside this binary).
        #[arg(long = "bin", value_name = "PATH")]
        binary: Option<PathBuf>,
        /// The image archive to write.
        #[arg(long, short)]
        output: PathBuf,
        /// A root filesystem tar to use as base.
        #[arg(long, value_name = "ROOTFS.tar")]
        base: Option<PathBuf>,
    },
    /// NATS with JetStream, from the nats-server the set-up fetched (the
    /// service's queue beyond one machine).
    Nats {
        /// The nats-server binary (default: the lpdnn cache's bin/).
        #[arg(long = "bin", value_name = "PATH")]
        binary: Option<PathBuf>,
        /// The image archive to write.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// PostgreSQL 15 from Debian's packages (the service's store beyond one
    /// machine); give LPDNN_POSTGRES_PASSWORD at its first start.
    Postgres {
        /// The image archive to write.
        #[arg(long, short)]
        output: PathBuf,
    },
}

/// Runs `image`.
pub fn run(command: ImageCommand) -> Result<()> {
    let cache = lpdnn_engine_api::cache_dir();
    let plan = match command {
        ImageCommand::Worker {
            package,
            output,
            base,
        } => (
            lpdnn_image::worker_plan(&package, base.as_deref(), &cache)?,
            output,
        ),
        ImageCommand::Server {
            binary,
            output,
            base,
        } => {
            let binary = match binary {
                Some(b) => b,
                None => std::env::current_exe()?.with_file_name("lpdnn-serve"),
            };
            if !binary.is_file() {
                bail!(
                    "{} not found: build it (cargo build --release -p lpdnn-serve) or give --bin",
                    binary.display()
                );
            }
            let plan = lpdnn_image::server_plan(
                &binary,
                base.as_deref(),
                &cache,
                env!("CARGO_PKG_VERSION"),
                env!("LPDNN_GIT_COMMIT"),
            )?;
            (plan, output)
        }
        ImageCommand::Nats { binary, output } => {
            let binary = binary.unwrap_or_else(|| cache.join("bin/nats-server"));
            let version = Command::new(&binary)
                .arg("--version")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .with_context(|| {
                    format!(
                        "{} does not run: scripts/setup.sh --all fetches nats-server (or give --bin)",
                        binary.display()
                    )
                })?;
            // `nats-server: v2.11.4`
            let version = version.rsplit(" v").next().unwrap_or(&version).to_owned();
            (
                lpdnn_image::nats_plan(&binary, &version, None, &cache)?,
                output,
            )
        }
        ImageCommand::Postgres { output } => (
            lpdnn_image::postgres_plan(
                lpdnn_platforms::Arch::this()
                    .context("no PostgreSQL image for this architecture")?,
                &cache,
            )?,
            output,
        ),
    };
    let written = lpdnn_image::write(&plan.0, &plan.1)?;
    print_written(&written);
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn print_written(w: &Written) {
    println!(
        "{}: {} ({:.1} MiB: base {:.1}, {} {:.1})",
        w.path.display(),
        w.reference,
        mib(w.bytes),
        mib(w.layers[0]),
        if w.reference.starts_with("lpdnn-worker") {
            "package"
        } else {
            "server"
        },
        mib(w.layers[1]),
    );
    println!("  digest {}", w.digest);
    println!("Load it: podman load -i {}", w.path.display());
}
