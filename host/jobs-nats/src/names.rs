//! Names on the NATS server: the jobs' stream and its subjects, the
//! consumers, the buckets, the workers' request subjects. A platform or
//! profile is one subject token, encoded so that no `.`, `*`, `>`,
//! whitespace or other character outside `[A-Za-z0-9_-]` reaches a subject,
//! a consumer's name or a key.

/// The work-queue stream of jobs waiting for a worker.
pub const JOBS_STREAM: &str = "LPDNN_JOBS";
/// The subjects of [`JOBS_STREAM`].
pub const JOBS_SUBJECTS: &str = "lpdnn.jobs.>";
/// The key-value bucket of live workers (entries expire with their
/// heartbeats).
pub const WORKERS_BUCKET: &str = "lpdnn-workers";
/// The object store of uploaded models and bundles, by SHA-256.
pub const UPLOADS_BUCKET: &str = "lpdnn-uploads";
/// The request subjects the front ends answer for workers, in one queue
/// group: `lpdnn.rpc.claim`, `lpdnn.rpc.renew`, …
pub const RPC_SUBJECTS: &str = "lpdnn.rpc.*";
/// The queue group of the front ends' responders.
pub const RPC_GROUP: &str = "lpdnn-serve";

/// `text` as one token: `[A-Za-z0-9_-]` kept, every other byte `=XX`
/// (hex), so distinct texts stay distinct.
pub fn token(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    if out.is_empty() {
        out.push('=');
    }
    out
}

/// The subject of jobs for `platform`/`profile`.
pub fn jobs_subject(platform: &str, profile: &str) -> String {
    format!("lpdnn.jobs.{}.{}", token(platform), token(profile))
}

/// The durable consumer shared by the workers of `platform`/`profile`.
pub fn consumer(platform: &str, profile: &str) -> String {
    format!("work_{}_{}", token(platform), token(profile))
}

/// A worker's key in [`WORKERS_BUCKET`].
pub fn worker_key(id: &str) -> String {
    token(id)
}

/// The subject of one kind of request.
pub fn rpc_subject(kind: &str) -> String {
    format!("lpdnn.rpc.{kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_carry_a_separator_or_a_wildcard() {
        for hostile in ["a.b", "*", ">", "a b", "x\ty", "", "rpi4/../x", "é"] {
            let t = token(hostile);
            assert!(
                t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-=".contains(&b)),
                "{hostile:?} → {t}"
            );
            assert_eq!(jobs_subject(hostile, "default").split('.').count(), 4);
        }
        assert_ne!(token("a.b"), token("a_b"));
        assert_ne!(token("a=2Eb"), token("a.b"));
        assert_eq!(jobs_subject("rpi4", "default"), "lpdnn.jobs.rpi4.default");
        assert_eq!(consumer("x86_64-linux", "p 1"), "work_x86_64-linux_p=201");
    }
}
