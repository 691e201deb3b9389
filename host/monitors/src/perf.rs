//! Memory bandwidth from the memory controllers' uncore counters
//! (`perf_event_open`, Intel `uncore_imc_*` CAS counts), where the kernel
//! exposes them and allows this user to read them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::channel::Channel;

/// One opened counter with its scale to MiB.
struct Counter {
    fd: libc::c_int,
    scale: f64,
}

impl Drop for Counter {
    fn drop(&mut self) {
        // SAFETY: `fd` was returned by perf_event_open and is closed once.
        unsafe { libc::close(self.fd) };
    }
}

impl Counter {
    fn read(&self) -> Option<u64> {
        let mut v = 0u64;
        // SAFETY: reads 8 bytes into a valid u64.
        let n = unsafe { libc::read(self.fd, (&mut v as *mut u64).cast(), 8) };
        (n == 8).then_some(v)
    }
}

/// `event=0x04,umask=0x03` → the perf `config` word (event | umask << 8).
fn parse_event(text: &str) -> Option<u64> {
    let mut config = 0u64;
    for part in text.trim().split(',') {
        let (k, v) = part.split_once('=')?;
        let v = u64::from_str_radix(v.trim_start_matches("0x"), 16).ok()?;
        match k {
            "event" => config |= v & 0xff,
            "umask" => config |= (v & 0xff) << 8,
            _ => return None,
        }
    }
    Some(config)
}

fn open(pmu: &Path, event: &str) -> Result<Counter, String> {
    let read = |f: &str| std::fs::read_to_string(pmu.join(f)).map(|s| s.trim().to_owned());
    let ty: u32 = read("type")
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{}/type unreadable", pmu.display()))?;
    let config = read(&format!("events/{event}"))
        .ok()
        .and_then(|s| parse_event(&s))
        .ok_or_else(|| format!("{}/events/{event} unreadable", pmu.display()))?;
    let scale: f64 = read(&format!("events/{event}.scale"))
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64.0 / (1024.0 * 1024.0));
    let cpu: libc::c_int = read("cpumask")
        .ok()
        .and_then(|s| s.split([',', '-']).next()?.parse().ok())
        .unwrap_or(0);
    // perf_event_attr (PERF_ATTR_SIZE_VER5, 112 bytes): type, size, config;
    // everything else zero (counting, enabled, no sampling).
    let mut attr = [0u64; 14];
    attr[0] = u64::from(ty) | ((std::mem::size_of_val(&attr) as u64) << 32);
    attr[1] = config;
    // SAFETY: attr is a valid, zero-padded perf_event_attr of the stated size.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            -1 as libc::pid_t,
            cpu,
            -1 as libc::c_int,
            0 as libc::c_ulong,
        )
    };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        let paranoid =
            std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid").unwrap_or_default();
        return Err(format!(
            "perf_event_open({}, {event}) failed: {err}; kernel.perf_event_paranoid is {} (system-wide counters need ≤ 0 or CAP_PERFMON)",
            pmu.display(),
            paranoid.trim()
        ));
    }
    Ok(Counter {
        fd: fd as libc::c_int,
        scale,
    })
}

/// The `memory_bandwidth` channel (MB/s, read + write), or why not.
pub(crate) fn memory_bandwidth() -> Result<Channel, String> {
    let root = "/sys/bus/event_source/devices";
    let mut pmus: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| format!("{root}: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("uncore_imc"))
        })
        .collect();
    pmus.sort();
    if pmus.is_empty() {
        return Err(format!(
            "no memory-controller PMU (uncore_imc*) in {root}: virtual machines and most Arm boards expose none"
        ));
    }
    let mut counters = Vec::new();
    for pmu in &pmus {
        for event in ["cas_count_read", "cas_count_write"] {
            if pmu.join("events").join(event).exists() {
                counters.push(open(pmu, event)?);
            }
        }
    }
    if counters.is_empty() {
        return Err(format!(
            "{root}/uncore_imc* have no cas_count_read/write events"
        ));
    }
    let mut last: Option<(Instant, Vec<u64>)> = None;
    Ok(Channel {
        name: "memory_bandwidth".into(),
        unit: "MB/s",
        source: format!(
            "perf uncore CAS counts (read + write) of {} memory controller(s)",
            pmus.len()
        ),
        read: Box::new(move || {
            let now = Instant::now();
            let values: Vec<u64> = counters.iter().map(|c| c.read()).collect::<Option<_>>()?;
            let rate = last.as_ref().map(|(t, prev)| {
                let mib: f64 = values
                    .iter()
                    .zip(prev)
                    .zip(&counters)
                    .map(|((v, p), c)| v.wrapping_sub(*p) as f64 * c.scale)
                    .sum();
                mib * 1.048576 / now.duration_since(*t).as_secs_f64().max(1e-6)
            });
            last = Some((now, values));
            rate
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncore_event_strings_parse() {
        assert_eq!(parse_event("event=0x04,umask=0x03\n"), Some(0x0304));
        assert_eq!(parse_event("event=0xff"), Some(0xff));
        assert_eq!(parse_event("config=1"), None);
    }
}
