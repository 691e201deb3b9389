//! `lpdnn-host package` and `package verify`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use lpdnn_package::{EngineFiles, Inputs};
use lpdnn_platforms::LibrarySource;

/// Build a deployment package, or check one.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "\
Examples:
  lpdnn-host package --platform x86_64-linux --app examples/face-detection -o pkg
  lpdnn-host package --platform raspberry-pi-4b --app examples/face-detection -o pi4
      (the aarch64 binary and libraries come from scripts/cross.sh aarch64)
  lpdnn-host package verify pi4

A package runs where it is unpacked: pkg/solutions/run-app.sh APP --input FILE,
benchmark-app.sh APP DATASET, start-worker.sh SERVER_URL."
)]
pub struct PackageArgs {
    #[command(subcommand)]
    command: Option<PackageCommand>,
    /// The platform: a name from `lpdnn-host platform list`, or a
    /// descriptor file.
    #[arg(long, required = true)]
    platform: Option<String>,
    /// The platform's profile: which engine libraries to carry.
    #[arg(long, default_value = "default")]
    profile: String,
    /// An app to carry (its app.json or folder); repeatable.
    #[arg(long = "app")]
    apps: Vec<PathBuf>,
    /// Carry only these engines of the profile (comma-separated).
    #[arg(long, value_delimiter = ',')]
    engines: Vec<String>,
    /// lpdnn-host for the platform's target (default: this binary for its
    /// own target, else the one scripts/cross.sh built into the cache).
    #[arg(long = "bin", value_name = "PATH")]
    binary: Option<PathBuf>,
    /// The package folder to create (new or empty).
    #[arg(long, short, required = true)]
    output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum PackageCommand {
    /// Check a package: every file's size and SHA-256 against package.yml,
    /// no stray file, binaries of the target's architecture, every app
    /// loadable and inside the package.
    Verify {
        /// The package folder.
        dir: PathBuf,
    },
}

/// Runs `package`.
pub fn run(args: PackageArgs) -> Result<()> {
    if let Some(PackageCommand::Verify { dir }) = args.command {
        let v = lpdnn_package::verify(&dir)?;
        println!(
            "{}: {} ({}, profile {}): {} files, {:.1} MiB, hashes match; {} app(s), engines {}; needs {}",
            dir.display(),
            v.package.name,
            v.package.target,
            v.package.profile,
            v.package.files.len(),
            v.bytes as f64 / (1024.0 * 1024.0),
            v.runtime.apps.len(),
            v.engines
                .engines
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            requires_text(&v.requires)
        );
        return Ok(());
    }
    let (Some(platform), Some(out)) = (args.platform, args.output) else {
        bail!("give --platform and -o (see `lpdnn-host package --help`)");
    };
    let d = crate::platform::resolve(&platform)?;
    if let Some(why) = &d.cannot_host {
        bail!("{} is a microcontroller: {why}", d.name);
    }
    let profile = d.profile(&args.profile).cloned().with_context(|| {
        let names: Vec<&str> = d.profiles.iter().map(|p| p.name.as_str()).collect();
        format!(
            "--profile: {} has no profile {:?} (it has {})",
            d.name,
            args.profile,
            names.join(", ")
        )
    })?;
    for e in &args.engines {
        if !profile.engines.iter().any(|p| &p.engine == e) {
            bail!(
                "--engines: {e} is not in profile {} of {}",
                profile.name,
                d.name
            );
        }
    }
    let host = env!("LPDNN_TARGET");
    let cache = lpdnn_engine_api::cache_dir();
    let binary = match args.binary {
        Some(b) => b,
        None if d.target_triple == host => std::env::current_exe()?,
        None => {
            let b = lpdnn_package::cross_binary(&d.target_triple, &cache);
            if !b.is_file() {
                bail!(
                    "lpdnn-host for {} not found at {}: build it with `scripts/cross.sh {}` (or give --bin)",
                    d.target_triple,
                    b.display(),
                    d.arch
                );
            }
            b
        }
    };
    let mut engines = Vec::new();
    for p in &profile.engines {
        if !args.engines.is_empty() && !args.engines.contains(&p.engine) {
            continue;
        }
        let files = match p.library {
            LibrarySource::Bundled => {
                let files = lpdnn_package::bundled_files(&p.engine, &d.target_triple, host, &cache);
                if let Some(missing) = files.iter().find(|f| !f.is_file()) {
                    let how = if d.target_triple == host {
                        "scripts/setup.sh --all".to_owned()
                    } else {
                        format!("scripts/cross.sh {}", d.arch)
                    };
                    bail!(
                        "profile {} of {} carries {} {}: {} not found; run {how}, or leave it out with --engines",
                        profile.name,
                        d.name,
                        p.engine,
                        p.version,
                        missing.display()
                    );
                }
                files
            }
            LibrarySource::Builtin | LibrarySource::System => Vec::new(),
        };
        let formats = lpdnn_engines::engine(&p.engine)
            .map(|e| e.info().formats)
            .unwrap_or_default();
        engines.push(EngineFiles {
            engine: p.engine.clone(),
            version: p.version.clone(),
            library: p.library,
            files,
            formats,
            note: p.note.clone(),
        });
    }
    let inputs = Inputs {
        platform: d.clone(),
        profile: profile.name.clone(),
        binary,
        engines,
        apps: args.apps,
        build: lpdnn_package::Build {
            version: env!("CARGO_PKG_VERSION").into(),
            commit: env!("LPDNN_GIT_COMMIT").into(),
        },
    };
    let built = lpdnn_package::build(&inputs, &out)?;
    let bytes: u64 = built.package.files.iter().map(|f| f.bytes).sum();
    println!(
        "{}: {} ({}), {} files, {:.1} MiB",
        out.display(),
        built.package.name,
        built.package.target,
        built.package.files.len(),
        bytes as f64 / (1024.0 * 1024.0)
    );
    for e in &inputs.engines {
        let lib = match e.library {
            LibrarySource::Bundled => "lib/",
            LibrarySource::Builtin => "in the binary",
            LibrarySource::System => "the board's own",
        };
        println!("  engine {:<12}{:<14}{lib}", e.engine, e.version);
    }
    for a in &built.package.files {
        if a.path.starts_with("apps/") && a.path.ends_with("/app.json") {
            println!("  app    {}", a.path);
        }
    }
    for n in &built.notes {
        println!("  note   {n}");
    }
    let r = &built.package.requires;
    println!(
        "  needs  {}{}",
        requires_text(r),
        d.os.as_ref()
            .map(|os| format!(
                " ({} has glibc {}, GLIBCXX_{})",
                os.name, os.glibc, os.libstdcxx
            ))
            .unwrap_or_default()
    );
    // The system libraries the board must have, wrapped to 100 columns.
    let mut line = String::from("  system");
    for l in &r.libraries {
        if line.len() + 1 + l.len() > 100 {
            println!("{line}");
            line = "        ".into();
        }
        line.push(' ');
        line.push_str(l);
    }
    if !r.libraries.is_empty() {
        println!("{line}");
    }
    println!(
        "Run it there: {0}/solutions/run-app.sh APP --input FILE; check it: lpdnn-host package verify {0}",
        out.display()
    );
    Ok(())
}

/// `glibc 2.28, GLIBCXX_3.4.22`: the newest symbol versions a package needs.
fn requires_text(r: &lpdnn_package::Needs) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &r.glibc {
        parts.push(format!("glibc {v}"));
    }
    if let Some(v) = &r.libstdcxx {
        parts.push(format!("GLIBCXX_{v}"));
    }
    if parts.is_empty() {
        "no glibc symbol version".into()
    } else {
        parts.join(", ")
    }
}
