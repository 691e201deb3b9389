//! Images of the two servers the service runs on beyond one machine, so
//! that a cluster needs nothing but images: NATS (the pinned `nats-server`
//! release the set-up fetches, a static binary) and PostgreSQL (Debian's
//! `postgresql-15` and what it depends on). Both run as the unprivileged
//! [`USER`](crate::USER) and keep their data in the [`STATE`] volume.

use std::collections::BTreeMap;
use std::path::Path;

use lpdnn_platforms::Arch;

use crate::{
    base, base_or_debian, created_from, oci_labels, ImageError, Plan, PACKAGE_ROOT, STATE,
};

/// The port the NATS image listens on.
pub const NATS_PORT: u16 = 4222;

/// The port the PostgreSQL image listens on.
pub const POSTGRES_PORT: u16 = 5432;

/// PostgreSQL's entry point: makes the cluster on the first start (user
/// `lpdnn`, the password from `LPDNN_POSTGRES_PASSWORD`, SCRAM
/// authentication), then runs the server in the foreground.
const POSTGRES_ENTRY: &str = r#"#!/bin/sh
# PostgreSQL for lpdnn: the first start makes the cluster in $STATE/postgres
# (user lpdnn, password from LPDNN_POSTGRES_PASSWORD); every start runs the
# server in the foreground. Arguments are postgres's own (-p PORT, -c k=v).
set -eu
bin=/usr/lib/postgresql/15/bin
data=@STATE@/postgres
if [ ! -s "$data/PG_VERSION" ]; then
  if [ -z "${LPDNN_POSTGRES_PASSWORD:-}" ]; then
    echo "lpdnn-postgres: give LPDNN_POSTGRES_PASSWORD for the first start" >&2
    exit 2
  fi
  umask 077
  printf '%s\n' "$LPDNN_POSTGRES_PASSWORD" >/tmp/.pw
  "$bin/initdb" --pgdata="$data" --username=lpdnn --auth=scram-sha-256 \
    --pwfile=/tmp/.pw --no-locale --encoding=UTF8 >/tmp/initdb.log 2>&1 || {
    cat /tmp/initdb.log >&2
    exit 1
  }
  : >/tmp/.pw
fi
unset LPDNN_POSTGRES_PASSWORD
exec "$bin/postgres" -D "$data" -c listen_addresses='*' \
  -c unix_socket_directories=/tmp "$@"
"#;

/// The NATS image: `binary` (a static `nats-server`) with JetStream, its
/// store in the volume. `version` is the release it is.
pub fn nats_plan(
    binary: &Path,
    version: &str,
    base: Option<&Path>,
    cache: &Path,
) -> Result<Plan, ImageError> {
    let arch = lpdnn_package::elf_arch(binary)?.ok_or_else(|| ImageError::Base {
        path: binary.to_owned(),
        why: "not an ELF binary (the set-up puts nats-server in the lpdnn cache's bin/)".into(),
    })?;
    let base = base_or_debian(base, arch, cache)?;
    let created = created_from(binary)?;
    Ok(Plan {
        reference: format!("lpdnn-nats:{version}"),
        arch,
        base,
        files: BTreeMap::from([(format!("{PACKAGE_ROOT}/bin/nats-server"), binary.to_owned())]),
        scripts: BTreeMap::new(),
        owned_dirs: vec![STATE.into()],
        entrypoint: vec![format!("{PACKAGE_ROOT}/bin/nats-server")],
        cmd: vec![
            "--jetstream".into(),
            "--store_dir".into(),
            format!("{STATE}/nats"),
            "--port".into(),
            NATS_PORT.to_string(),
        ],
        env: vec![format!("HOME={STATE}")],
        volumes: vec![STATE.into()],
        ports: vec![format!("{NATS_PORT}/tcp")],
        labels: oci_labels(
            "lpdnn-nats",
            "NATS with JetStream: jobs, uploads and workers' presence",
            version,
            &created,
            "nats",
        ),
        created,
    })
}

/// The PostgreSQL image for `arch`: Debian's `postgresql-15` unpacked with
/// mmdebstrap into `cache`, started by an entry script.
pub fn postgres_plan(arch: Arch, cache: &Path) -> Result<Plan, ImageError> {
    let base = base::debian_rootfs(arch, &["postgresql-15", "dash"], cache)?;
    let created = created_from(&base)?;
    Ok(Plan {
        reference: "lpdnn-postgres:15".into(),
        arch,
        base,
        files: BTreeMap::new(),
        scripts: BTreeMap::from([(
            format!("{PACKAGE_ROOT}/bin/lpdnn-postgres"),
            POSTGRES_ENTRY.replace("@STATE@", STATE),
        )]),
        owned_dirs: vec![STATE.into()],
        entrypoint: vec![
            "/bin/dash".into(),
            format!("{PACKAGE_ROOT}/bin/lpdnn-postgres"),
        ],
        cmd: vec!["-p".into(), POSTGRES_PORT.to_string()],
        env: vec![
            format!("HOME={STATE}"),
            "PATH=/usr/lib/postgresql/15/bin:/usr/bin:/bin".into(),
        ],
        volumes: vec![STATE.into()],
        ports: vec![format!("{POSTGRES_PORT}/tcp")],
        labels: oci_labels(
            "lpdnn-postgres",
            "PostgreSQL 15 from Debian: the service's jobs, runs and results",
            "15",
            &created,
            "postgres",
        ),
        created,
    })
}
