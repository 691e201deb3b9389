#!/usr/bin/env bash
# The cost of running a benchmark inside the worker's container against the
# same benchmark on the host, side by side: ROUNDS rounds, each one host run
# and one container run (order alternating) of the face model on ENGINE for
# SECONDS; prints each pair's steady inference means and the ratio of medians.
#
#   benches/scripts/container-overhead.sh IMAGE [ENGINE] [SECONDS] [ROUNDS]
#
# IMAGE: a worker image loaded in podman (lpdnn-worker-x86_64-linux:0.1.0);
# LPDNN_HOST: the host's lpdnn-host (default: the release build);
# LPDNN_PODMAN_ROOT: the image store (as scripts/baas-cluster.sh takes it);
# BENCH_ARGS: more benchmark options for both (e.g. "--threads 1").
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
image=${1:?give a worker image, e.g. lpdnn-worker-x86_64-linux:0.1.0}
engine=${2:-onnxruntime}
seconds=${3:-10}
rounds=${4:-5}
bin=${LPDNN_HOST:-$root/target/release/lpdnn-host}
pod=(podman --runtime runc --events-backend file)
[ -n "${LPDNN_PODMAN_ROOT:-}" ] && pod+=(--root "$LPDNN_PODMAN_ROOT/store" --runroot "$LPDNN_PODMAN_ROOT/run")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root/assets/models/face_detection_short_range.onnx" "$work/model.onnx"
chmod -R a+rwX "$work"
mean() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]; print(r["phases"]["steady"]["anchors"]["inference"]["real_ms"]["mean"])' "$1"; }
host_run() { "$bin" benchmark "$work/model.onnx" --engine "$engine" --duration "$seconds" ${BENCH_ARGS:-} --filename "$work/host.json" >/dev/null 2>&1; mean "$work/host.json"; }
container_run() {
  "${pod[@]}" run --rm --network none --read-only --cap-drop all --ulimit nofile=4096:4096 \
    --ulimit nproc=4096:4096 -v "$work:/work" "$image" \
    benchmark /work/model.onnx --engine "$engine" --duration "$seconds" ${BENCH_ARGS:-} --filename /work/container.json >/dev/null 2>&1
  mean "$work/container.json"
}
printf '%-6s %12s %12s %8s\n' round host_ms container_ms ratio
for i in $(seq 1 "$rounds"); do
  if [ $((i % 2)) = 1 ]; then h=$(host_run); c=$(container_run); else c=$(container_run); h=$(host_run); fi
  echo "$i $h $c" >>"$work/pairs"
  printf '%-6s %12.4f %12.4f %8.3f\n' "$i" "$h" "$c" "$(python3 -c "print($c/$h)")"
done
python3 - "$work/pairs" <<'PY'
import statistics, sys
rows = [tuple(map(float, l.split()[1:])) for l in open(sys.argv[1])]
h = statistics.median(r[0] for r in rows); c = statistics.median(r[1] for r in rows)
print(f"median  {h:12.4f} {c:12.4f} {c / h:8.3f}  (container / host, steady inference mean)")
PY
