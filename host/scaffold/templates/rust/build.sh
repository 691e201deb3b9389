#!/usr/bin/env bash
# Builds this Rust processor into a WebAssembly component (target
# wasm32-wasip2: rustc makes the component itself).
#
#   ./build.sh [OUT.wasm]        (default: ./{{name}}.wasm)
#
# Needs Rust (rustup.rs); adds the wasm32-wasip2 target when rustup has it not.
set -euo pipefail

name={{name}}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(realpath -m "${1:-$here/$name.wasm}")"

command -v cargo >/dev/null || { echo "build.sh: cargo is needed (https://rustup.rs)" >&2; exit 1; }
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "build.sh: rustup target add wasm32-wasip2"
  rustup target add wasm32-wasip2
fi
echo "build.sh: cargo build --release --target wasm32-wasip2"
(cd "$here" && cargo build -q --release --target wasm32-wasip2)
target=$(cd "$here" && cargo metadata -q --format-version 1 --no-deps | sed 's/.*"target_directory":"\([^"]*\)".*/\1/')
mkdir -p "$(dirname "$out")"
cp "$target/wasm32-wasip2/release/${name//-/_}.wasm" "$out"
echo "build.sh: wrote $out ($(stat -c %s "$out") bytes)"
