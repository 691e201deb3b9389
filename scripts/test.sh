#!/usr/bin/env bash
# The project's test command: set up everything the tests need (idempotent;
# see scripts/setup.sh --all), then run every test: the host workspace (real
# apps, hostile components, bad input, CLI) and the processor components' own
# unit tests, natively.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LPDNN_CACHE:-$HOME/.cache/lpdnn}

"$root/scripts/setup.sh" --all
cd "$root"
cargo test --release --workspace
host=$(rustc -vV | sed -n 's/^host: //p')
(cd components && CARGO_TARGET_DIR=$cache/components-target cargo test --release --target "$host")
