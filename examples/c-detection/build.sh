#!/usr/bin/env bash
# Builds the C detection post-processor into a WASI 0.2 component.
#
#   ./build.sh [OUT.wasm]          (default: ./detection.wasm)
#
# Debian 12 (bookworm) packages: clang 14 + lld 14 + wasi-libc (a preview-1
# sysroot) + jsmn. crates.io: wit-bindgen-cli (C bindings) and
# wasm-component-ld (clang's linker here: it runs wasm-ld, then turns the
# preview-1 module into a component with the preview-1 reactor adapter it
# embeds). Env: LPDNN_WIT (the WIT folder, default ../../wit),
# LPDNN_TOOLS (where crates are installed, default ~/.cache/lpdnn/tools).
set -euo pipefail

# What this folder builds (`lpdnn-host component new` writes these lines).
world=postprocessor
source=detection.c
name=detection
wit_default=../../wit

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/$name.wasm}
case $out in /*) ;; *) out=$PWD/$out ;; esac
wit=${LPDNN_WIT:-$here/$wit_default}
tools=${LPDNN_TOOLS:-$HOME/.cache/lpdnn/tools}

# Pinned versions.
apt_pkgs=(
  clang-14=1:14.0.6-12
  lld-14=1:14.0.6-12
  libclang-rt-14-dev-wasm32=1:14.0.6-12
  wasi-libc=0.0~git20220510.9886d3d-2
  libjsmn-dev=1.1.0-2
)
wit_bindgen_version=0.63.0      # the version lpdnn's own components use
component_ld_version=0.5.31

step() { printf '==> %s\n' "$*"; }

# 1. Debian packages.
missing=()
for p in "${apt_pkgs[@]}"; do
  # The same upstream version is enough (a point release bumps the revision).
  pkg=${p%%=*} want=${p#*=}
  have=$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$pkg" 2>/dev/null || true)
  [[ $have == "ii ${want%-*}-"* ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  line="apt-get install -y --no-install-recommends ${missing[*]}"
  if [[ $(id -u) != 0 ]]; then
    echo "missing Debian packages; run as root:  apt-get update && $line" >&2
    exit 1
  fi
  step "apt: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $line -qq >/dev/null || {
    echo "apt could not install ${missing[*]} (this is for Debian 12; after a point release," \
      "try the current versions: apt-get install ${missing[*]%%=*})" >&2
    exit 1
  }
fi
[ -f "$wit/processing.wit" ] || { echo "no processing.wit in $wit (set LPDNN_WIT)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"

# 2. Crates (cargo checks each crate against the checksums in the lock file
#    that --locked uses).
crate() {  # crate NAME VERSION BIN [cargo install flags...]
  local name=$1 version=$2 bin=$3 root=$tools/$1-$2
  shift 3
  if [[ ! -x $root/bin/$bin ]]; then
    command -v cargo >/dev/null || { echo "cargo is needed to install $name $version (rustup.rs or apt cargo)" >&2; exit 1; }
    step "cargo install $name $version -> $root" >&2
    # --debug: each runs for a fraction of a second on one WIT or module;
    # optimised, the two took 4.5 minutes to build on 2 cores.
    nice -n 10 cargo install -q --locked --debug --version "$version" --root "$root" "$@" "$name" >&2
  fi
  echo "$root/bin/$bin"
}
wit_bindgen=$(crate wit-bindgen-cli "$wit_bindgen_version" wit-bindgen --no-default-features --features c)
component_ld=$(crate wasm-component-ld "$component_ld_version" wasm-component-ld)

# 3. Bindings for the world.
gen=$here/gen
step "wit-bindgen c $wit (world $world)"
rm -rf "$gen"
log=$("$wit_bindgen" c "$wit" --world "$world" --out-dir "$gen" 2>&1) || { echo "$log" >&2; exit 1; }

# 4. Compile and link: wasm-component-ld runs wasm-ld, then wraps the
#    preview-1 reactor module into a component.
step "clang-14 -> $out"
clang-14 --target=wasm32-wasi -mexec-model=reactor -O2 -ffp-contract=off \
  -Wall -Wextra -Werror -I"$gen" \
  -fuse-ld="$component_ld" -Wl,--wasm-ld-path=/usr/bin/wasm-ld-14 -Wl,--wasi-adapter=reactor -Wl,--validate-component=true -Wl,--strip-debug \
  -o "$out" "$here/$source" "$gen/${world//-/_}.c" "$gen/${world//-/_}_component_type.o"
step "done: $out ($(stat -c %s "$out") bytes)"
