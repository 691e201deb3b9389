//! Provenance read from the machine as a benchmark starts.

use lpdnn_platforms::Host;
use lpdnn_report::{Build, Provenance};

/// Reads the machine's state now.
pub fn collect(build: Build) -> Provenance {
    Provenance {
        lpdnn_host: build,
        host: Host::detect(),
        governor: governor(),
        affinity: affinity(),
        started_at: rfc3339_now(),
        command: std::env::args().collect(),
    }
}

fn governor() -> Option<String> {
    let mut govs: Vec<String> = std::fs::read_dir("/sys/devices/system/cpu/cpufreq")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("scaling_governor")).ok())
        .map(|s| s.trim().to_owned())
        .collect();
    govs.sort();
    govs.dedup();
    (!govs.is_empty()).then(|| govs.join(","))
}

fn affinity() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: sched_getaffinity fills the set it is given, of the size given.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if rc != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: the index is below CPU_SETSIZE.
        .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .collect()
}

/// Now as `YYYY-MM-DDThh:mm:ssZ`.
pub(crate) fn rfc3339_now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339() {
        let t = super::rfc3339_now();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
        assert!(t.as_str() > "2024-01-01", "{t}");
    }
}
