#!/usr/bin/env bash
# What a processor written outside Rust costs next to the Rust component it
# stands in for, side by side in one run, for the three third-party examples:
#
#   detection          (Rust) vs detection_c          (C,      examples/c-detection)
#   classification     (Rust) vs classification_js    (JS,     examples/js-classification)
#   audio_preprocess   (Rust) vs audio_preprocess_py  (Python, examples/python-audio-preprocess)
#
# Per component: its size; the build time of the other-language one (its
# build.sh run on a copy of its folder into a temporary file, tools already
# installed; the Rust ones are built by cargo with the workspace, so n/a);
# wasmtime's compile time (`lpdnn-host component compile` into a fresh cache
# folder, process wall and CPU time); and from `lpdnn-host benchmark` of the
# example app with the stage's component swapped (components precompiled, so
# no compilation in it): the stage's load (read + cached-code load +
# instantiate + configure), its first call, its warm call (steady-state
# per-call CPU time, median) and the component's peak linear memory. Every
# measurement is repeated REPS times (Rust and other alternating) and the
# median printed; ratios are other / Rust. Prints a markdown table.
#
#   benches/scripts/component-costs.sh [REPS] [SECONDS]
#
# REPS: repetitions of each measurement (default 5); SECONDS: steady-state
# duration of each benchmark run (default 2);
# LPDNN_HOST: the lpdnn-host binary (default: the release build, under
# $CARGO_TARGET_DIR when set);
# LPDNN_TOOLS: where the build tools are installed (default ~/.cache/lpdnn/tools);
# LPDNN_WIT: the WIT folder for the builds (default: this repository's wit/);
# SKIP_BUILD=1: do not time the builds.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
reps=${1:-5}
seconds=${2:-2}
bin=${LPDNN_HOST:-${CARGO_TARGET_DIR:-$root/target}/release/lpdnn-host}
bin=$(realpath "$bin")
export LPDNN_TOOLS=${LPDNN_TOOLS:-$HOME/.cache/lpdnn/tools}
export LPDNN_WIT=$(realpath "${LPDNN_WIT:-$root/wit}")
[ -x "$bin" ] || { echo "no lpdnn-host at $bin (set LPDNN_HOST)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
comp=$root/assets/components

# name | language | example app | input | stage | Rust component | other component | its sources
pairs=(
  "detection|C|face-detection|images/astronaut.png|postprocessor|detection.wasm|third-party/detection_c.wasm|c-detection"
  "classification|JavaScript|image-classification|images/chelsea.png|postprocessor|classification.wasm|third-party/classification_js.wasm|js-classification"
  "audio_preprocess|Python|voice-activity|audio/speech.wav|preprocessor|audio_preprocess.wasm|third-party/audio_preprocess_py.wasm|python-audio-preprocess"
)

# timed CMD...: runs CMD (output discarded), prints its wall and CPU
# (user + system, its children included) time in ms.
timed() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
if r.returncode:
    sys.stderr.write(r.stderr.decode(errors="replace"))
    sys.exit(f"failed ({r.returncode}): {' '.join(sys.argv[1:])}")
print(f"{wall * 1e3:.3f} {(u.ru_utime + u.ru_stime) * 1e3:.3f}")
PY
}

# app SRC DST STAGE COMPONENT: SRC with absolute paths, STAGE's component replaced.
app() {
  python3 - "$@" <<'PY'
import json, os, sys
src, dst, stage, component = sys.argv[1:]
here = os.path.dirname(os.path.abspath(src))
a = json.load(open(src))
fix = lambda p: p if os.path.isabs(p) else os.path.normpath(os.path.join(here, p))
for s in ("preprocessor", "postprocessor"):
    a[s]["component"] = fix(a[s]["component"])
a[stage]["component"] = component
for k, v in a["model"].items():
    if isinstance(v, str):
        a["model"][k] = fix(v)
    elif isinstance(v, dict) and "file" in v:
        v["file"] = fix(v["file"])
if "labels" in a:
    a["labels"] = fix(a["labels"])
json.dump(a, open(dst, "w"), indent=2)
PY
}

log() { printf '%s\n' "$*" >&2; }
: >"$work/rows"   # one line per measurement: pair side metric value

# 1. Sizes.
for p in "${pairs[@]}"; do
  IFS='|' read -r name lang example input stage rust other src <<<"$p"
  echo "$name rust size $(stat -c %s "$comp/$rust")" >>"$work/rows"
  echo "$name other size $(stat -c %s "$comp/$other")" >>"$work/rows"
done

# 2. Build times of the other-language components (one untimed build first,
#    so missing tools get installed and the file cache is warm).
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  for p in "${pairs[@]}"; do
    IFS='|' read -r name lang example input stage rust other src <<<"$p"
    log "build: $src x $reps"
    for i in $(seq 0 "$reps"); do
      rm -rf "$work/src" "$work/built.wasm"
      cp -r "$root/examples/$src" "$work/src"
      rm -rf "$work/src/gen" "$work/src/node_modules"
      t=$(timed bash "$work/src/build.sh" "$work/built.wasm")
      [ "$i" = 0 ] || echo "$name other build $t" >>"$work/rows"
    done
    rm -rf "$work/src" "$work/built.wasm"
  done
fi

# 3. wasmtime compile, each into a fresh cache folder.
for p in "${pairs[@]}"; do
  IFS='|' read -r name lang example input stage rust other src <<<"$p"
  log "compile: $rust, $other x $reps"
  for i in $(seq 1 "$reps"); do
    sides=(rust other); [ $((i % 2)) = 0 ] && sides=(other rust)
    for side in "${sides[@]}"; do
      f=$comp/$rust; [ "$side" = other ] && f=$comp/$other
      rm -rf "$work/fresh" && mkdir "$work/fresh"
      echo "$name $side compile $(timed "$bin" component compile "$f" --cache-dir "$work/fresh")" >>"$work/rows"
    done
  done
done
rm -rf "$work/fresh"

# 4. Benchmarks of the apps, every component precompiled into one cache.
mkdir -p "$work/cache" "$work/json"
for f in "$comp"/*.wasm "$comp"/third-party/*.wasm; do
  "$bin" component compile "$f" --cache-dir "$work/cache" >/dev/null
done
for p in "${pairs[@]}"; do
  IFS='|' read -r name lang example input stage rust other src <<<"$p"
  app "$root/examples/$example/app.json" "$work/$name-rust.json" "$stage" "$comp/$rust"
  app "$root/examples/$example/app.json" "$work/$name-other.json" "$stage" "$comp/$other"
  log "benchmark: $example with $rust, $other x $reps (${seconds} s each)"
  for i in $(seq 1 "$reps"); do
    sides=(rust other); [ $((i % 2)) = 0 ] && sides=(other rust)
    for side in "${sides[@]}"; do
      out=$work/json/$name-$side-$i.json
      "$bin" benchmark "$work/$name-$side.json" --dataset "$root/assets/$input" \
        --duration "$seconds" --monitor-interval 500 --cache-dir "$work/cache" --filename "$out" >/dev/null 2>"$work/err" \
        || { cat "$work/err" >&2; exit 1; }
      python3 - "$out" "$name" "$side" "$stage" >>"$work/rows" <<'PY'
import json, os, sys
out, name, side, stage = sys.argv[1:]
r = json.load(open(out))["runs"][0]
ph = r["phases"]
anchor = {"preprocessor": "preprocess", "postprocessor": "postprocess"}[stage]
comp = json.load(open(os.path.join(os.path.dirname(out), "..", f"{name}-{side}.json")))[stage]["component"]
mem = r["resources"][f"wasm_memory_peak.{os.path.basename(comp)}"]
steady = ph["steady"]["anchors"][anchor]
print(name, side, "load", ph["load_ms"][f"load.{stage}"])
print(name, side, "first", ph["first_inference_ms"][anchor])
print(name, side, "warm_cpu", steady["cpu_ms"]["p50"])
print(name, side, "warm_real", steady["real_ms"]["p50"])
print(name, side, "warm_n", steady["cpu_ms"]["n"])
print(name, side, "mem", mem["peak"])
print(name, side, "prediction", json.dumps(r["predictions"][0]["prediction"], sort_keys=True))
PY
    done
  done
done

# 5. The table: medians over the repetitions.
python3 - "$work/rows" "$reps" "$seconds" "${SKIP_BUILD:-0}" "$bin" "${pairs[@]}" <<'PY'
import json, statistics, sys
rows_file, reps, seconds, skip_build, binary, *pairs = sys.argv[1:]
rows = {}
for line in open(rows_file):
    name, side, metric, value = line.rstrip("\n").split(" ", 3)
    rows.setdefault((name, side, metric), []).append(value)
def nums(name, side, metric, col=0):
    return [float(v.split()[col]) for v in rows.get((name, side, metric), [])]
def med(name, side, metric, col=0):
    v = nums(name, side, metric, col)
    return statistics.median(v) if v else None
pairs = [p.split("|") for p in pairs]

def close(a, b):  # predictions equal within 1e-4 relative
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= 1e-4 * max(1.0, abs(a), abs(b))
    return a == b

ms = lambda v: "n/a" if v is None else (f"{v:.3f}" if v < 1 else f"{v:.1f}" if v < 1000 else f"{v:.0f}")
ratio = lambda o, r: "n/a" if not o or not r else f"{o / r:.2f}x"
header = ["metric"]
for name, lang, example, *_ in pairs:
    header += [f"{name} (Rust)", f"{name} ({lang})", f"{lang} / Rust"]
table = []
def row(label, metric, col=0, fmt=ms, rust_na=None, show_ratio=False):
    cells = [label]
    for name, *_ in pairs:
        r, o = med(name, "rust", metric, col), med(name, "other", metric, col)
        cells += [rust_na if (rust_na and r is None) else fmt(r), fmt(o), ratio(o, r) if show_ratio else ""]
    table.append(cells)
row("size (bytes)", "size", fmt=lambda v: f"{int(v):,}", show_ratio=True)
if skip_build != "1":
    row("build, wall ms", "build", 0, rust_na="n/a (cargo, workspace build)")
    row("build, CPU ms", "build", 1, rust_na="n/a (cargo, workspace build)")
row("wasmtime compile, wall ms", "compile", 0, show_ratio=True)
row("wasmtime compile, CPU ms", "compile", 1, show_ratio=True)
row("load: read + hash + cached code + instantiate + configure, wall ms", "load", show_ratio=True)
row("first call, wall ms", "first", show_ratio=True)
row("warm call, CPU ms (p50)", "warm_cpu", show_ratio=True)
row("warm call, wall ms (p50)", "warm_real", show_ratio=True)
row("peak linear memory, MiB", "mem", fmt=lambda v: "n/a" if v is None else f"{v:.2f}", show_ratio=True)
row("steady-state calls per run", "warm_n", fmt=lambda v: "n/a" if v is None else f"{int(v)}")
same = ["same prediction as Rust"]
for name, *_ in pairs:
    r = [json.loads(v) for v in rows.get((name, "rust", "prediction"), [])]
    o = [json.loads(v) for v in rows.get((name, "other", "prediction"), [])]
    same += ["", "yes" if r and o and all(close(r[0], x) for x in r + o) else "NO", ""]
table.append(same)
print("| " + " | ".join(header) + " |")
print("|" + "|".join(["---"] + ["--:"] * (len(header) - 1)) + "|")
for cells in table:
    print("| " + " | ".join(cells) + " |")
print()
print(f"Medians of {reps} repetitions of every measurement (Rust and other alternating); "
      f"builds {'not timed' if skip_build == '1' else f'{reps} timed after one untimed'}; "
      f"benchmark runs of {seconds} s steady state each, components precompiled; binary {binary}.")
PY
