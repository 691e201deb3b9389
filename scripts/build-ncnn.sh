#!/usr/bin/env bash
# Builds libncnn (shared, C API, CPU only) from the PyPI source archive into
# $LPDNN_CACHE/ncnn/{lib,include}. Never rebuilds when the library is there.
# Needs cmake and ninja (the set-up's venv has them) and a C++ compiler.
set -euo pipefail

cache=${LPDNN_CACHE:-$HOME/.cache/lpdnn}
version=1.0.20261020
prefix=$cache/ncnn
stamp=$prefix/.built-$version

if [ -f "$stamp" ] && [ -f "$prefix/lib/libncnn.so" ]; then
  exit 0
fi
bin=${VENV_BIN:-$cache/venv/bin}
export PATH=$bin:$PATH
command -v cmake >/dev/null && command -v ninja >/dev/null || {
  echo "build-ncnn: cmake and ninja are needed (pip install cmake ninja)" >&2
  exit 1
}

src=$cache/ncnn-src
# Fetched and SHA-256-checked by the set-up (scripts/requirements/downloads.txt).
archive=$cache/wheels/ncnn-$version.tar.gz
[ -f "$archive" ] || {
  echo "build-ncnn: $archive is missing (scripts/setup.sh --all fetches it)" >&2
  exit 1
}
rm -rf "$src" && mkdir -p "$src"
tar xzf "$archive" -C "$src" --strip-components=1

printf '\033[1m[setup]\033[0m building libncnn %s (about 10 minutes on 2 cores, once; log: %s)\n' \
  "$version" "$cache/ncnn-build.log" >&2
cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$prefix.tmp" \
  -DNCNN_VULKAN=OFF -DNCNN_SHARED_LIB=ON -DNCNN_C_API=ON -DNCNN_BUILD_TOOLS=OFF \
  -DNCNN_BUILD_EXAMPLES=OFF -DNCNN_BUILD_BENCHMARK=OFF -DNCNN_BUILD_TESTS=OFF \
  -DNCNN_PYTHON=OFF -DNCNN_OPENMP=ON >"$cache/ncnn-build.log" 2>&1 || {
  tail -20 "$cache/ncnn-build.log" >&2
  exit 1
}
# Ninja prints "[done/total] ..." per step: show every tenth of the way.
if ! cmake --build "$src/build" -j "$(nproc)" 2>&1 | tee -a "$cache/ncnn-build.log" |
  awk -F'[][/]' '/^\[[0-9]+\/[0-9]+\]/ { p = int(10 * $2 / $3); if (p > shown) { shown = p
    printf "[setup]   libncnn %d%% (%d/%d)\n", 10 * p, $2, $3 > "/dev/stderr" } }'; then
  tail -20 "$cache/ncnn-build.log" >&2
  exit 1
fi
rm -rf "$prefix.tmp" && cmake --install "$src/build" >>"$cache/ncnn-build.log"
# The install folder is swapped in whole, so a cut-off build never leaves a
# half library behind.
mv "$prefix.tmp/lib64" "$prefix.tmp/lib" 2>/dev/null || true
rm -rf "$prefix" && mv "$prefix.tmp" "$prefix"
touch "$stamp"
rm -rf "$src"
