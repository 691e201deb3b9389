#!/usr/bin/env bash
# Builds libncnn (shared, C API, CPU only) from the PyPI source archive into
# $LPDNN_CACHE/ncnn/{lib,include}. Never rebuilds when the library is there.
# Needs cmake and ninja (the set-up's venv has them) and a C++ compiler.
# Writes lib/libncnn.so.version, the release built (the archive's version), which
# lpdnn-host reports: ncnn_version() gives the build date unless cmake is told.
#
# usage: scripts/build-ncnn.sh [aarch64-unknown-linux-gnu]
#   With a target, cross-builds with zig's clang against glibc 2.27 (the wrappers
#   $ZIG_DIR/aarch64-cc and aarch64-c++ that scripts/cross.sh writes, which calls
#   this) into $LPDNN_CACHE/targets/TRIPLE/ncnn.
set -euo pipefail

cache=${LPDNN_CACHE:-$HOME/.cache/lpdnn}
version=1.0.20261020
target=${1:-}
flags=()
case $target in
"")
  prefix=$cache/ncnn
  # Left out of the x86 kernel variants: FMA4 and XOP (AMD's 2011-2015 cores
  # only) and AVX-512 BF16 (ncnn's bf16 storage, which lpdnn-host never turns
  # on): 83 of 496 files; the build took 8m22s against 10m45s on 2 cores.
  flags=(-DNCNN_FMA4=OFF -DNCNN_XOP=OFF -DNCNN_AVX512BF16=OFF)
  ;;
aarch64-unknown-linux-gnu)
  prefix=$cache/targets/$target/ncnn
  # zig's clang, its libc++ linked in and glibc 2.27's symbols, so that the
  # library loads on Ubuntu 18.04 and later with no libstdc++ of the board's;
  # ncnn's own OpenMP runtime (NCNN_SIMPLEOMP) instead of a libgomp the board
  # may lack. The ARMv8.2+ kernel variants (fp16 arithmetic, dot product, bf16,
  # i8mm, SVE) are left out: they double the build, and the Cortex-A53/A57/A72
  # of the Raspberry Pis and the Jetson Nano have none of them.
  zig_dir=${ZIG_DIR:?ZIG_DIR: scripts/cross.sh aarch64 sets it}
  flags=(-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64
    -DCMAKE_C_COMPILER="$zig_dir/aarch64-cc" -DCMAKE_CXX_COMPILER="$zig_dir/aarch64-c++"
    -DNCNN_SIMPLEOMP=ON
    -DNCNN_ARM82=OFF -DNCNN_ARM82DOT=OFF -DNCNN_ARM82FP16FML=OFF -DNCNN_ARM84BF16=OFF
    -DNCNN_ARM84I8MM=OFF -DNCNN_ARM86SVE=OFF -DNCNN_ARM86SVE2=OFF -DNCNN_ARM86SVEBF16=OFF
    -DNCNN_ARM86SVEI8MM=OFF -DNCNN_ARM86SVEF32MM=OFF)
  ;;
*)
  echo "build-ncnn: no cross build for $target" >&2
  exit 2
  ;;
esac
# The stamp names the toolchain too: a library from an earlier one is rebuilt.
stamp=$prefix/.built-$version${target:+-zig-glibc${GLIBC:?GLIBC: scripts/cross.sh aarch64 sets it}}

version_file=$prefix/lib/libncnn.so.version
if [ -f "$stamp" ] && [ -f "$prefix/lib/libncnn.so" ]; then
  # A library built before the version file existed: the stamp says which
  # archive it came from, so record that rather than rebuild.
  [ -f "$version_file" ] || echo "$version" >"$version_file"
  exit 0
fi
bin=${VENV_BIN:-$cache/venv/bin}
export PATH=$bin:$PATH
command -v cmake >/dev/null && command -v ninja >/dev/null || {
  echo "build-ncnn: cmake and ninja are needed (pip install cmake ninja)" >&2
  exit 1
}

src=$cache/ncnn-src${target:+-$target}
# Fetched and SHA-256-checked by the set-up (scripts/requirements/downloads.txt).
archive=$cache/wheels/ncnn-$version.tar.gz
[ -f "$archive" ] || {
  echo "build-ncnn: $archive is missing (scripts/setup.sh --all fetches it)" >&2
  exit 1
}
rm -rf "$src" && mkdir -p "$src"
tar xzf "$archive" -C "$src" --strip-components=1

log=$cache/ncnn-build${target:+-$target}.log
minutes=8
[ -z "$target" ] || minutes=4
printf '\033[1m[setup]\033[0m building libncnn %s%s (about %s minutes on 2 cores, once; log: %s)\n' \
  "$version" "${target:+ for $target}" "$minutes" "$log" >&2
(cd "$src" && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${flags[@]}" \
  -DCMAKE_INSTALL_PREFIX="$prefix.tmp" \
  -DNCNN_VULKAN=OFF -DNCNN_SHARED_LIB=ON -DNCNN_C_API=ON -DNCNN_BUILD_TOOLS=OFF \
  -DNCNN_BUILD_EXAMPLES=OFF -DNCNN_BUILD_BENCHMARK=OFF -DNCNN_BUILD_TESTS=OFF \
  -DNCNN_PYTHON=OFF -DNCNN_OPENMP=ON -DNCNN_VERSION="${version##*.}") >"$log" 2>&1 || {
  tail -20 "$log" >&2
  exit 1
}
# Ninja prints "[done/total] ..." per step: show every tenth of the way.
if ! cmake --build "$src/build" -j "$(nproc)" 2>&1 | tee -a "$log" |
  awk -F'[][/]' '/^\[[0-9]+\/[0-9]+\]/ { p = int(10 * $2 / $3); if (p > shown) { shown = p
    printf "[setup]   libncnn %d%% (%d/%d)\n", 10 * p, $2, $3 > "/dev/stderr" } }'; then
  tail -20 "$log" >&2
  exit 1
fi
rm -rf "$prefix.tmp" && cmake --install "$src/build" >>"$log"
# The install folder is swapped in whole, so a cut-off build never leaves a
# half library behind.
mv "$prefix.tmp/lib64" "$prefix.tmp/lib" 2>/dev/null || true
echo "$version" >"$prefix.tmp/lib/libncnn.so.version"
rm -rf "$prefix" && mv "$prefix.tmp" "$prefix"
touch "$stamp"
rm -rf "$src"
