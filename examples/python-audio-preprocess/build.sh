#!/usr/bin/env bash
# Builds the Python audio pre-processor into a WebAssembly component.
#
#   ./build.sh [OUT.wasm]      (default: ./python_audio_preprocess.wasm)
#
# Needs python3 (3.9 or later) with its venv module; installs componentize-py,
# pinned and hash-checked by requirements.lock, into
# ${LPDNN_TOOLS:-~/.cache/lpdnn/tools}/componentize-py-0.25.1 when missing.
# The WIT package comes from ${LPDNN_WIT:-../../wit} (relative to this folder).
set -euo pipefail

# What this folder builds (`lpdnn-host component new` writes these lines).
world=audio-preprocessor
source=app.py
name=python_audio_preprocess
wit_default=../../wit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(realpath -m "${1:-$here/$name.wasm}")"
wit="${LPDNN_WIT:-$wit_default}"
case "$wit" in /*) ;; *) wit="$here/$wit" ;; esac
tools="${LPDNN_TOOLS:-$HOME/.cache/lpdnn/tools}"
version=0.25.1
venv="$tools/componentize-py-$version"
cpy="$venv/bin/componentize-py"

say() { echo "build.sh: $*"; }

[ -f "$wit/processing.wit" ] || { echo "build.sh: no processing.wit in $wit (set LPDNN_WIT)" >&2; exit 1; }

# 1. apt: python3 with venv (Debian splits venv/ensurepip into python3-venv).
if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing python3 python3-venv (apt)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    else
        echo "build.sh: needs python3 with venv; run: sudo apt-get install -y python3 python3-venv" >&2
        exit 1
    fi
fi

# 2. componentize-py, pinned and hash-checked, in its own venv.
if [ "$("$cpy" --version 2>/dev/null || true)" != "componentize-py $version" ]; then
    say "installing componentize-py $version into $venv"
    mkdir -p "$tools"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        --require-hashes --no-deps --only-binary=:all: -r "$here/requirements.lock" \
        || { rm -rf "$venv"; exit 1; }
    [ "$("$cpy" --version)" = "componentize-py $version" ]
fi

# 3. The component. Build from a copy so no __pycache__ lands in the sources,
#    and without VIRTUAL_ENV so no site-packages is bundled.
say "componentize-py $version: $source -> $out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/$source" "$work/"
mkdir -p "$(dirname "$out")"
(cd "$work" && env -u VIRTUAL_ENV -u PYTHONPATH "$cpy" -q -d "$wit" -w "$world" \
    componentize -p "$work" "${source%.py}" -o "$out")
say "done: $out ($(stat -c %s "$out") bytes)"
