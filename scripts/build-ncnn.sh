#!/usr/bin/env bash
# Builds libncnn (shared, C API, CPU only) from the PyPI source archive into
# $LPDNN_CACHE/ncnn/{lib,include}. Never rebuilds when the library is there.
# Needs cmake and ninja (the set-up's venv has them) and a C++ compiler.
set -euo pipefail

cache=${LPDNN_CACHE:-$HOME/.cache/lpdnn}
version=1.0.20261020
sha=ad8cdd63e9755cfa8e23b9b6d9ce46156077d80298a89e7c3ba325ffccfca200
url=https://files.pythonhosted.org/packages/b7/50/32b5172afe7d3e0dce410b7d8f4a5b7b84b942a0d69affbaedf669de52bc/ncnn-$version.tar.gz
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
archive=$cache/wheels/ncnn-$version.tar.gz
mkdir -p "$cache/wheels"
if [ ! -f "$archive" ]; then
  curl -sSfL -o "$archive.tmp" "$url"
  mv "$archive.tmp" "$archive"
fi
got=$(sha256sum "$archive" | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
  echo "build-ncnn: $archive: sha256 $got, expected $sha" >&2
  rm -f "$archive"
  exit 1
fi
rm -rf "$src" && mkdir -p "$src"
tar xzf "$archive" -C "$src" --strip-components=1

echo "[setup] building libncnn $version (about 10 minutes on 2 cores, once)" >&2
cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$prefix.tmp" \
  -DNCNN_VULKAN=OFF -DNCNN_SHARED_LIB=ON -DNCNN_C_API=ON -DNCNN_BUILD_TOOLS=OFF \
  -DNCNN_BUILD_EXAMPLES=OFF -DNCNN_BUILD_BENCHMARK=OFF -DNCNN_BUILD_TESTS=OFF \
  -DNCNN_PYTHON=OFF -DNCNN_OPENMP=ON >/dev/null
cmake --build "$src/build" -j "$(nproc)" >/dev/null
rm -rf "$prefix.tmp" && cmake --install "$src/build" >/dev/null
# The install folder is swapped in whole, so a cut-off build never leaves a
# half library behind.
mv "$prefix.tmp/lib64" "$prefix.tmp/lib" 2>/dev/null || true
rm -rf "$prefix" && mv "$prefix.tmp" "$prefix"
touch "$stamp"
rm -rf "$src"
