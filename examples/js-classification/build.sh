#!/usr/bin/env bash
# Builds the JavaScript classification post-processor component.
#
#   ./build.sh [OUT.wasm]        (default: ./classification_js.wasm)
#
# Tools: @bytecodealliance/jco 1.35.0 + @bytecodealliance/componentize-js
# 0.23.0 (SpiderMonkey/StarlingMonkey, pre-initialised with wizer 10.0.0 from
# its npm platform package), installed with `npm ci` from package-lock.json
# (integrity-checked) into ${LPDNN_TOOLS:-~/.cache/lpdnn/tools}/componentize-js-0.23.0-<lock hash>.
# Needs Node.js >= 20.19 with npm. WIT: ${LPDNN_WIT:-../../wit}.
set -euo pipefail

# What this folder builds (`lpdnn-host component new` writes these lines).
world=postprocessor
source=processor.js
name=classification_js
wit_default=../../wit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(realpath -m "${1:-$here/$name.wasm}")"
wit="$(realpath -m "${LPDNN_WIT:-$here/$wit_default}")"
tools="${LPDNN_TOOLS:-$HOME/.cache/lpdnn/tools}"
tooldir="$tools/componentize-js-0.23.0"

say() { echo "build.sh: $*"; }
die() { echo "build.sh: error: $*" >&2; exit 1; }

[ -f "$wit/processing.wit" ] || die "no WIT package at $wit (set LPDNN_WIT to the folder holding processing.wit)"

# 1. Node.js >= 20.19 and npm. Debian 12's own `nodejs` package is 18.x,
#    which jco 1.35 (rolldown, commander 14) does not support.
need_node() {
  die "needs Node.js >= 20.19 and npm on PATH (found: $(node --version 2>/dev/null || echo none)).
  Debian 12's apt nodejs is 18.x, too old; install a Node.js 20 (e.g. the NodeSource
  nodejs_20.x .deb, which carries npm) and run again."
}
command -v node >/dev/null && command -v npm >/dev/null || need_node
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' || need_node

# 2. The pinned tools, once per lock (npm ci checks every package's
#    integrity hash), installed beside and moved in: two builds at once, or
#    two projects with different locks, never undo each other.
lock_sum="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
tooldir="$tooldir-${lock_sum:0:12}"
if [ ! -x "$tooldir/node_modules/.bin/jco" ]; then
  say "installing jco 1.35.0 + componentize-js 0.23.0 into $tooldir (npm ci)"
  mkdir -p "$tools"
  staging="$(mktemp -d "$tools/.componentize-js-XXXXXX")"
  cp "$here/package.json" "$here/package-lock.json" "$staging/"
  (cd "$staging" && nice -n 10 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) \
    || { rm -rf "$staging"; die "npm ci failed (in $staging)"; }
  mv -T "$staging" "$tooldir" 2>/dev/null || rm -rf "$staging" # another build won the race
else
  say "tools present: $tooldir"
fi

# 3. Componentize: SpiderMonkey + processor.js, snapshotted by wizer. No
#    wasi:http (the host links none); stdio, clocks and random stay (the host
#    provides them; stderr carries uncaught-exception messages).
say "componentizing $source (world $world) -> $out"
mkdir -p "$(dirname "$out")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/$source" "$work/"
cp -r "$wit" "$work/wit"
(cd "$work" && nice -n 10 "$tooldir/node_modules/.bin/jco" componentize "$source" \
  --wit wit --world-name "$world" --disable http fetch-event -o component.wasm >"$work/log" 2>&1) \
  || { cat "$work/log" >&2; die "jco componentize failed"; }
mv "$work/component.wasm" "$out"
say "wrote $out ($(stat -c %s "$out") bytes)"
