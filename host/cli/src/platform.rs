//! `lpdnn-host platform list | show | detect`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Result};
use clap::Subcommand;
use lpdnn_platforms::{Descriptor, Facts, Kind, RailSource};

/// Platform descriptors: the boards lpdnn-host knows and this machine.
#[derive(Debug, Subcommand)]
pub enum PlatformCommand {
    /// List every descriptor: boards, servers, generic machines, and the
    /// microcontrollers that cannot host lpdnn-host (* marks this machine).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a descriptor: CPU, accelerators, engines and devices, detection
    /// rules, sensor paths, profiles and sources.
    Show {
        /// A descriptor's name (see `platform list`), or a descriptor file
        /// of your own (it is checked).
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Which descriptor describes this machine, and why (device-tree
    /// model, DMI product name, CPU model, driver files).
    Detect {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// A built-in descriptor by name, or a descriptor file.
pub fn resolve(name: &str) -> Result<Descriptor> {
    if name.ends_with(".json") || name.contains('/') {
        return Ok(Descriptor::load(Path::new(name))?);
    }
    if let Some(d) = Descriptor::named(name) {
        return Ok(d);
    }
    let names = Descriptor::builtin_names();
    let near = names
        .iter()
        .filter(|n| strsim::jaro_winkler(n, name) > 0.8 || n.contains(name))
        .copied()
        .collect::<Vec<_>>();
    if near.is_empty() {
        bail!("unknown platform {name:?} (see `lpdnn-host platform list`)");
    }
    bail!(
        "unknown platform {name:?}; did you mean {}? (see `lpdnn-host platform list`)",
        near.join(" or ")
    )
}

/// Runs a platform command.
pub fn run(command: PlatformCommand) -> Result<()> {
    match command {
        PlatformCommand::List { json } => {
            let all = Descriptor::builtin();
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                let here = lpdnn_platforms::Host::detect().descriptor;
                print!("{}", list(&all, here.as_deref()));
            }
        }
        PlatformCommand::Show { name, json } => {
            let d = resolve(&name)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                print!("{}", show(&d));
            }
        }
        PlatformCommand::Detect { json } => {
            let all = Descriptor::builtin();
            let facts = Facts::read(&all);
            let detection = lpdnn_platforms::detect(&facts, &all);
            if json {
                let v = serde_json::json!({
                    "descriptor": detection.descriptor,
                    "reason": detection.reason,
                    "emulated": facts.emulated(),
                    "facts": facts,
                    "rejected": detection.rejected.iter()
                        .map(|(n, w)| serde_json::json!({"name": n, "why": w}))
                        .collect::<Vec<_>>(),
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", detect_text(&facts, &detection));
            }
        }
    }
    Ok(())
}

fn mhz(m: u32) -> String {
    if m >= 1000 {
        format!("{:.2} GHz", f64::from(m) / 1000.0)
            .replace(".00 ", " ")
            .replace("0 GHz", " GHz")
    } else {
        format!("{m} MHz")
    }
}

fn cpu_line(d: &Descriptor) -> String {
    d.cpu.as_ref().map_or_else(
        || "any".into(),
        |c| {
            c.clusters
                .iter()
                .map(|k| {
                    let core = k.core.split(" (").next().unwrap_or(&k.core);
                    format!("{}x {core} {}", k.count, mhz(k.max_mhz))
                })
                .collect::<Vec<_>>()
                .join(" + ")
        },
    )
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

fn list(all: &[Descriptor], here: Option<&str>) -> String {
    let mut out = String::new();
    let row = |out: &mut String, d: &Descriptor, last: &str| {
        let mark = if Some(d.name.as_str()) == here {
            "*"
        } else {
            " "
        };
        let head = format!(
            "{mark}{:<21}{:<10}{:<24}",
            d.name,
            d.arch.as_str(),
            cut(&cpu_line(d), 23)
        );
        // The last column wraps under itself in a 100-column terminal.
        let opts = textwrap::Options::new(99 - head.chars().count()).break_words(false);
        for (i, l) in textwrap::wrap(last, opts).iter().enumerate() {
            let lead = if i == 0 {
                head.clone()
            } else {
                " ".repeat(head.chars().count())
            };
            let _ = writeln!(out, "{lead}{l}");
        }
    };
    let _ = writeln!(
        out,
        " {:<21}{:<10}{:<24}ENGINES (NON-CPU DEVICES)",
        "NAME", "ARCH", "CPU"
    );
    for d in all.iter().filter(|d| d.hosts_lpdnn()) {
        let engines: Vec<String> = d
            .engines
            .iter()
            .map(|e| {
                let gpu: Vec<&str> = e
                    .devices
                    .iter()
                    .filter(|d| **d != lpdnn_platforms::Device::Cpu)
                    .map(|d| d.as_str())
                    .collect();
                if gpu.is_empty() {
                    e.engine.clone()
                } else {
                    format!("{}({})", e.engine, gpu.join(","))
                }
            })
            .collect();
        row(&mut out, d, &engines.join(" "));
    }
    let _ = writeln!(
        out,
        "\nMicrocontrollers (cannot host lpdnn-host; `platform show NAME` says why):"
    );
    for d in all.iter().filter(|d| !d.hosts_lpdnn()) {
        let mem = d
            .memory_kib
            .map_or(String::new(), |k| format!("{k} KiB of memory, no MMU"));
        row(&mut out, d, &mem);
    }
    match here {
        Some(h) => {
            let _ = writeln!(
                out,
                "\n* this machine ({h}; `lpdnn-host platform detect` says why)"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "\nNo descriptor describes this machine's architecture."
            );
        }
    }
    out
}

fn wrap(out: &mut String, indent: &str, text: &str) {
    let opts = textwrap::Options::new(98)
        .initial_indent(indent)
        .subsequent_indent(indent);
    for l in textwrap::wrap(text, opts) {
        let _ = writeln!(out, "{l}");
    }
}

/// `text` after `head`, wrapped under itself.
fn wrap_first(out: &mut String, head: &str, text: &str) {
    let pad = " ".repeat(head.chars().count());
    let opts = textwrap::Options::new(98)
        .initial_indent(head)
        .subsequent_indent(&pad)
        .break_words(true);
    for l in textwrap::wrap(text, opts) {
        let _ = writeln!(out, "{l}");
    }
}

fn show(d: &Descriptor) -> String {
    let mut out = String::new();
    let kind = match d.kind {
        Kind::Generic => "generic machine",
        Kind::Board => "board",
        Kind::Server => "server",
        Kind::Microcontroller => "microcontroller",
    };
    let _ = writeln!(out, "{} — {} ({kind})", d.name, d.title);
    wrap(&mut out, "  ", &d.description);
    let _ = writeln!(
        out,
        "\narch          {} (Rust target {})",
        d.arch, d.target_triple
    );
    if let Some(why) = &d.cannot_host {
        wrap(
            &mut out,
            "              ",
            &format!("cannot host lpdnn-host: {why}"),
        );
    }
    if let Some(c) = &d.cpu {
        let threads = c
            .threads
            .map_or(String::new(), |t| format!(", {t} threads"));
        let _ = writeln!(
            out,
            "cpu           {}: {} core(s){threads}",
            c.model, c.cores
        );
        for k in &c.clusters {
            let min = k
                .min_mhz
                .map_or(String::new(), |m| format!("{} – ", mhz(m)));
            let _ = writeln!(
                out,
                "              {}x {} {min}{}",
                k.count,
                k.core,
                mhz(k.max_mhz)
            );
        }
    }
    if let Some(k) = d.memory_kib {
        let mem = if k >= 1 << 20 && k % (1 << 20) == 0 {
            format!("{} GiB", k >> 20)
        } else if k % 1024 == 0 {
            format!("{} MiB", k >> 10)
        } else {
            format!("{k} KiB")
        };
        let _ = writeln!(out, "memory        {mem}");
    }
    if let Some(os) = &d.os {
        let _ = writeln!(
            out,
            "os            {}: glibc {}, libstdc++ up to GLIBCXX_{}",
            os.name, os.glibc, os.libstdcxx
        );
    }
    for a in &d.accelerators {
        let note = a
            .note
            .as_deref()
            .map_or(String::new(), |n| format!(" — {n}"));
        let line = format!("{} {}{note}", a.kind.as_str(), a.name);
        wrap_first(&mut out, "accelerator   ", &line);
    }
    if !d.engines.is_empty() {
        let _ = writeln!(out, "\nengines");
        for e in &d.engines {
            let devices: Vec<&str> = e.devices.iter().map(|d| d.as_str()).collect();
            let _ = writeln!(out, "  {:<12}{}", e.engine, devices.join(", "));
            if let Some(n) = &e.note {
                wrap(&mut out, "              ", n);
            }
        }
    }
    if !d.detect.is_empty() {
        let _ = writeln!(out, "\ndetected by");
        let rules = [
            ("device-tree model", &d.detect.device_tree_model),
            ("DMI product", &d.detect.dmi_product_name),
            ("CPU model", &d.detect.cpu_model),
            ("file exists", &d.detect.files),
        ];
        for (what, list) in rules.iter().filter(|(_, l)| !l.is_empty()) {
            let _ = writeln!(out, "  {what:<18}{}", list.join(" | "));
        }
    }
    let s = &d.sensors;
    if !(s.thermal.is_empty()
        && s.power.is_empty()
        && s.gpu_load.is_empty()
        && s.npu_load.is_empty())
        || s.note.is_some()
    {
        let _ = writeln!(out, "\nsensors");
        for t in &s.thermal {
            let _ = writeln!(out, "  thermal       {t}");
        }
        for r in &s.power {
            let total = if r.total { " (total)" } else { "" };
            let at = match r.source() {
                Some(RailSource::Power(p, u)) => format!("{p} [{}]", u.as_str()),
                Some(RailSource::VoltageCurrent(v, c)) => format!("{v} [mV] × {c} [mA]"),
                None => String::new(),
            };
            wrap_first(
                &mut out,
                "  power         ",
                &format!("{}{total}: {at}", r.name),
            );
        }
        for (what, files) in [("gpu load", &s.gpu_load), ("npu load", &s.npu_load)] {
            for f in files {
                let _ = writeln!(out, "  {what:<14}{} (×{})", f.path, f.scale);
            }
        }
        if let Some(n) = &s.note {
            wrap(&mut out, "  ", &format!("note: {n}"));
        }
    }
    for p in &d.profiles {
        let _ = writeln!(out, "\nprofile {}", p.name);
        wrap(&mut out, "  ", &p.description);
        for e in &p.engines {
            let _ = writeln!(
                out,
                "  {:<12}{:<9}{}",
                e.engine,
                e.library.as_str(),
                e.version
            );
        }
    }
    if !d.sources.is_empty() {
        let _ = writeln!(out, "\nsources");
        for s in &d.sources {
            wrap(&mut out, "  ", &format!("{}: {}", s.about, s.url));
        }
    }
    out
}

fn detect_text(facts: &Facts, detection: &lpdnn_platforms::Detection) -> String {
    let mut out = String::new();
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
    let _ = writeln!(out, "this machine");
    let _ = writeln!(
        out,
        "  architecture       {}",
        facts.arch.map_or("unknown".into(), |a| a.to_string())
    );
    if facts.emulated() {
        let _ = writeln!(
            out,
            "  kernel             {} — user-mode emulation (qemu-user): timings are not the target's",
            show(&facts.kernel_arch)
        );
    }
    let _ = writeln!(
        out,
        "  device-tree model  {}",
        show(&facts.device_tree_model)
    );
    let _ = writeln!(
        out,
        "  DMI product name   {}",
        show(&facts.dmi_product_name)
    );
    let _ = writeln!(out, "  CPU model          {}", show(&facts.cpu_model));
    match &detection.descriptor {
        Some(d) => {
            let _ = writeln!(out, "\nplatform {d}");
        }
        None => {
            let _ = writeln!(out, "\nno platform");
        }
    }
    wrap(&mut out, "  ", &format!("because {}", detection.reason));
    if !detection.rejected.is_empty() {
        let _ = writeln!(out, "\nboards of this architecture that did not match");
        for (n, why) in &detection.rejected {
            wrap(&mut out, "  ", &format!("{n}: {why}"));
        }
    }
    out
}
