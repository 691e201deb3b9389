#!/usr/bin/env bash
# Cross-builds lpdnn-host and its engine libraries for another target, into
# $LPDNN_CACHE/targets/TRIPLE/{bin,lib}, where `lpdnn-host package` takes them.
# Idempotent: a second run only rebuilds what changed.
#
# usage: scripts/cross.sh aarch64 | armv7 | riscv64
#   aarch64  aarch64-unknown-linux-gnu (Raspberry Pi 4, Jetson, i.MX8M, Atlas 200 DK):
#            lpdnn-host (LNE inside) and libncnn (from its source archive, after
#            scripts/setup.sh --all) linked by zig against glibc 2.27, so that they
#            load on Ubuntu 18.04 and later; ONNX Runtime 1.32.0 and LiteRT 2.3.0 from
#            their aarch64 wheels (all pinned in scripts/requirements/downloads.txt)
#   armv7    armv7-unknown-linux-gnueabihf (STM32MP1, Raspberry Pi OS 32-bit): lpdnn-host
#            with LNE; components on wasmtime's Pulley interpreter
#   riscv64  riscv64gc-unknown-linux-gnu: lpdnn-host with LNE
# Needs Debian's cross compilers and qemu-user (installed when missing, as root).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LPDNN_CACHE:-$HOME/.cache/lpdnn}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
say() { printf '\033[1m[cross]\033[0m %s\n' "$*" >&2; }

case ${1:-} in
aarch64) triple=aarch64-unknown-linux-gnu gnu=aarch64-linux-gnu debs="gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross" ;;
armv7) triple=armv7-unknown-linux-gnueabihf gnu=arm-linux-gnueabihf debs="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross" ;;
riscv64) triple=riscv64gc-unknown-linux-gnu gnu=riscv64-linux-gnu debs="gcc-riscv64-linux-gnu libc6-dev-riscv64-cross" ;;
*)
  sed -n "2,15p" "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
out=$cache/targets/$triple

missing=()
for p in $debs qemu-user; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${missing[*]}"
    log=$(mktemp)
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
      >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
    rm -f "$log"
  else
    echo "cross: install them, then run this again: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
# qemu-user 7.2 (Debian 12) hands an Arm program the x86 host's /proc/cpuinfo, on
# which ONNX Runtime's and LiteRT's CPU detection crash; 8.2 and later emulate it.
# Debian 12's backports carry qemu 10.
if ! qemu-aarch64 --version 2>/dev/null | grep -Eq 'version ([89]\.[2-9]|[1-9][0-9])'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing qemu-user from bookworm-backports (qemu 8.2 or later emulates /proc/cpuinfo)"
    list=/etc/apt/sources.list.d/bookworm-backports.list
    grep -qs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/* ||
      echo "deb http://deb.debian.org/debian bookworm-backports main" >"$list"
    log=$(mktemp)
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      -t bookworm-backports qemu-user; } >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
    rm -f "$log"
  else
    echo "cross: qemu-user 8.2 or later is needed (Debian 12: sudo apt-get install -t bookworm-backports qemu-user)" >&2
    exit 1
  fi
fi
rustup target add "$triple" >/dev/null 2>&1 || true

install_file() { # SOURCE DEST
  if [ ! -f "$2" ] || ! cmp -s "$1" "$2"; then
    mkdir -p "$(dirname "$2")"
    cp "$1" "$2.tmp" && mv "$2.tmp" "$2"
  fi
}

# --- zig, for aarch64: Debian's cross compiler links against Debian 12's glibc 2.36,
# whose symbol versions (GLIBC_2.34, 2.35) a board on Ubuntu 18.04 or 20.04 lacks.
# zig carries every glibc version's symbol lists; cargo-zigbuild drives it for cargo.
glibc=2.27
zig_dir=$cache/tools/zig-0.15.2
if [ "$1" = aarch64 ]; then
  if [ ! -x "$zig_dir/zig" ] || [ ! -x "$zig_dir/cargo-zigbuild" ]; then
    python3 "$root/scripts/requirements/fetch.py" "$root/scripts/requirements/downloads.txt" "$cache/wheels" aarch64
    rm -rf "$zig_dir.tmp" && mkdir -p "$zig_dir.tmp"
    python3 - "$cache/wheels" "$zig_dir.tmp" <<'PY'
import os, shutil, sys, zipfile
wheels, dest = sys.argv[1], sys.argv[2]
zipfile.ZipFile(f"{wheels}/ziglang-0.15.2-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl").extractall(dest)
for name in os.listdir(f"{dest}/ziglang"):
    os.rename(f"{dest}/ziglang/{name}", f"{dest}/{name}")
z = zipfile.ZipFile(f"{wheels}/cargo_zigbuild-0.24.0-py3-none-manylinux_2_5_x86_64.manylinux1_x86_64.whl")
with z.open("cargo_zigbuild-0.24.0.data/scripts/cargo-zigbuild") as src, open(f"{dest}/cargo-zigbuild", "wb") as out:
    shutil.copyfileobj(src, out)
PY
    chmod +x "$zig_dir.tmp/zig" "$zig_dir.tmp/cargo-zigbuild"
    rm -rf "$zig_dir" && mv "$zig_dir.tmp" "$zig_dir"
  fi
  export PATH=$zig_dir:$PATH
  # zig's own cache (its libc++, the glibc stubs) in ours, not in ~/.cache/zig.
  export ZIG_GLOBAL_CACHE_DIR=$cache/zig-cache
  # C and C++ compilers for cmake (libncnn): zig's clang for the target and glibc.
  for lang in cc c++; do
    printf '#!/bin/sh\nexec %q %s -target aarch64-linux-gnu.%s "$@"\n' "$zig_dir/zig" "$lang" "$glibc" \
      >"$zig_dir/aarch64-$lang.tmp"
    chmod +x "$zig_dir/aarch64-$lang.tmp" && mv "$zig_dir/aarch64-$lang.tmp" "$zig_dir/aarch64-$lang"
  done
fi

# --- lpdnn-host -------------------------------------------------------------------
[ -f "$out/bin/lpdnn-host" ] || say "building lpdnn-host for $triple (about 15 minutes on 2 cores the first time)"
if [ "$1" = aarch64 ]; then
  (cd "$root" && cargo zigbuild --release --quiet -p lpdnn-cli --target "$triple.$glibc")
else
  upper=$(echo "$triple" | tr 'a-z-' 'A-Z_')
  export "CARGO_TARGET_${upper}_LINKER=$gnu-gcc"
  (cd "$root" && cargo build --release --quiet -p lpdnn-cli --target "$triple")
fi
# Stripped of any debug information (375 MB with line tables, a tenth without),
# should a build ask for it (CARGO_PROFILE_RELEASE_DEBUG): a board's disk is small.
built=$CARGO_TARGET_DIR/$triple/release/lpdnn-host
if [ ! -f "$out/bin/lpdnn-host" ] || [ "$built" -nt "$out/bin/lpdnn-host" ]; then
  mkdir -p "$out/bin"
  "$gnu-strip" --strip-debug -o "$out/bin/lpdnn-host.tmp" "$built"
  mv "$out/bin/lpdnn-host.tmp" "$out/bin/lpdnn-host"
fi

# --- Engine libraries from the target's wheels -------------------------------------
if [ "$1" = aarch64 ]; then
  python3 "$root/scripts/requirements/fetch.py" "$root/scripts/requirements/downloads.txt" "$cache/wheels" aarch64
  unzip_member() { # WHEEL MEMBER DEST
    if [ ! -f "$3" ]; then
      mkdir -p "$(dirname "$3")"
      python3 -c 'import sys, zipfile
sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' "$1" "$2" >"$3.tmp"
      mv "$3.tmp" "$3"
    fi
  }
  ort=$cache/wheels/onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_aarch64.whl
  unzip_member "$ort" onnxruntime/capi/libonnxruntime.so.1.32.0 "$out/lib/onnxruntime/libonnxruntime.so"
  unzip_member "$ort" onnxruntime/capi/libonnxruntime_providers_shared.so "$out/lib/onnxruntime/libonnxruntime_providers_shared.so"
  unzip_member "$cache/wheels/ai_edge_litert-2.3.0-cp311-cp311-manylinux_2_27_aarch64.whl" \
    ai_edge_litert/libLiteRt.so "$out/lib/litert/libLiteRt.so"
  echo 2.3.0 >"$out/lib/litert/version.txt"
  # libncnn from the same source archive as this machine's (scripts/build-ncnn.sh).
  python3 "$root/scripts/requirements/fetch.py" "$root/scripts/requirements/downloads.txt" "$cache/wheels" tests
  [ -x "$cache/venv/bin/cmake" ] || {
    echo "cross: cmake and ninja come from the set-up's venv: run scripts/setup.sh --all first" >&2
    exit 1
  }
  VENV_BIN=$cache/venv/bin LPDNN_CACHE=$cache ZIG_DIR=$zig_dir GLIBC=$glibc "$root/scripts/build-ncnn.sh" "$triple"
  install_file "$out/ncnn/lib/libncnn.so" "$out/lib/ncnn/libncnn.so"
  # The release built, which lpdnn-host reports (ncnn_version() is a date).
  install_file "$out/ncnn/lib/libncnn.so.version" "$out/lib/ncnn/libncnn.so.version"
fi
# --- binfmt_misc: the kernel hands aarch64 programs to qemu, so that a package's
# binary starts its own children (a BaaS worker's sandboxed benchmark) as on a
# board. Root only; where binfmt_misc cannot be mounted the tests say so and run
# the package through qemu-aarch64 explicitly. QEMU_LD_PREFIX names the sysroot.
if [ "$1" = aarch64 ] && [ "$(id -u)" = 0 ]; then
  bm=/proc/sys/fs/binfmt_misc
  [ -f $bm/register ] || mount -t binfmt_misc binfmt_misc $bm 2>/dev/null || true
  if [ -f $bm/register ] && [ ! -f $bm/qemu-aarch64 ]; then
    magic='\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
    mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
    echo ":qemu-aarch64:M::$magic:$mask:$(command -v qemu-aarch64):F" >$bm/register 2>/dev/null &&
      say "registered qemu-aarch64 with binfmt_misc" || say "binfmt_misc registration refused"
  fi
fi
say "$triple ready in $out: $(cd "$out" && find bin lib -type f 2>/dev/null | sort | tr '\n' ' ')"
