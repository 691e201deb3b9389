#!/usr/bin/env bash
# The project's test command: set up everything the tests need (idempotent;
# see scripts/setup.sh --all, and scripts/cross.sh aarch64), then run every test:
# the host workspace (real apps, hostile components, bad input, CLI, the aarch64
# package under qemu, the service on SQLite and on NATS + PostgreSQL, its container
# images in podman and the cluster made of them) and the
# processor components' own unit tests, natively.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LPDNN_CACHE:-$HOME/.cache/lpdnn}

"$root/scripts/setup.sh" --all
# The aarch64 build, its engine libraries and qemu-user, for the tests that run
# the aarch64 deployment package under emulation (host/cli/tests/emulated.rs);
# they fail rather than skip when it is missing.
"$root/scripts/cross.sh" aarch64
export LPDNN_REQUIRE_CROSS=1
cd "$root"
cargo test --release --workspace
# The service's end-to-end suite again on the distributed back end: each
# `serve` on a real nats-server and PostgreSQL started for it (see
# host/cli/tests/common/baas.rs).
# --workspace, not -p lpdnn-cli: the same features as above, so nothing is rebuilt.
LPDNN_TEST_BAAS=cluster cargo test --release --workspace --test baas_api --test baas_workers \
  --test serve --test web_page
host=$(rustc -vV | sed -n 's/^host: //p')
(cd components && CARGO_TARGET_DIR=$cache/components-target cargo test --release --target "$host")
