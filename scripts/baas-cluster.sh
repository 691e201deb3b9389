#!/usr/bin/env bash
# Benchmark as a Service as a cluster of containers on this machine, from
# our images only: NATS, PostgreSQL, two front ends (lpdnn-serve), two
# x86_64 workers and a Raspberry Pi 4 worker (its aarch64 image run by
# qemu-user through binfmt_misc).
#
#   scripts/baas-cluster.sh up      make the images (once), start it all, wait for the workers
#   scripts/baas-cluster.sh status  the containers and the workers the service sees
#   scripts/baas-cluster.sh down    stop it and remove its containers and volumes
#
# Then, on either front end (8080 and 8081):
#   curl --data-binary @assets/models/face_detection_short_range.onnx \
#     "http://127.0.0.1:8080/bonseyes_baas/raspberry-pi-4b/default/onnxruntime?wait=600"
#
# It needs podman and runc (scripts/setup.sh --all installs them), lpdnn-host
# and lpdnn-serve built (the set-up builds them), and scripts/cross.sh aarch64
# for the Pi worker (left out, with a word, without it). Settings, all
# optional: LPDNN_CLUSTER_PORT (first front end, 8080), LPDNN_CLUSTER_NATS_PORT
# (14222), LPDNN_CLUSTER_PG_PORT (15432), LPDNN_CLUSTER_LEASE (a worker's lease,
# seconds, 30), LPDNN_CLUSTER_X86_WORKERS (2), LPDNN_HOST (the lpdnn-host
# binary), LPDNN_PODMAN_ROOT (an image store of its own instead of podman's).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LPDNN_CACHE:-$HOME/.cache/lpdnn}
state=$cache/cluster
images=$cache/images/cluster
port=${LPDNN_CLUSTER_PORT:-8080}
nats_port=${LPDNN_CLUSTER_NATS_PORT:-14222}
pg_port=${LPDNN_CLUSTER_PG_PORT:-15432}
lease=${LPDNN_CLUSTER_LEASE:-30}
x86_workers=${LPDNN_CLUSTER_X86_WORKERS:-2}
label=ai.lpdnn.cluster=$port

say() { printf '\033[1m[cluster]\033[0m %s\n' "$*" >&2; }
die() {
  echo "baas-cluster: $*" >&2
  exit 1
}

podman_cmd=(podman --runtime runc --events-backend file)
if [ -n "${LPDNN_PODMAN_ROOT:-}" ]; then
  podman_cmd+=(--root "$LPDNN_PODMAN_ROOT/store" --runroot "$LPDNN_PODMAN_ROOT/run")
fi
pod() { "${podman_cmd[@]}" "$@"; }
# What every container runs under: an unprivileged user (the image's), a
# read-only root, no capabilities, explicit rlimits (this machine kind
# refuses podman's defaults), the host's loopback network.
locked=(--detach --replace --label "$label" --network host --read-only --cap-drop all
  --security-opt no-new-privileges --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

host_bin() {
  local bin=${LPDNN_HOST:-}
  if [ -z "$bin" ]; then
    local target
    target=$(cd "$root" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    bin=$target/release/lpdnn-host
  fi
  [ -x "$bin" ] || die "lpdnn-host not found at $bin: run scripts/setup.sh --all (or set LPDNN_HOST)"
  [ -x "$(dirname "$bin")/lpdnn-serve" ] ||
    die "lpdnn-serve not found beside $bin: cargo build --release -p lpdnn-serve"
  echo "$bin"
}

# Makes image NAME.tar with `lpdnn-host ARGS` unless it is newer than the binary.
image() {
  local name=$1
  shift
  local tar=$images/$name.tar
  if [ ! -f "$tar" ] || [ "$bin" -nt "$tar" ]; then
    local out
    out=$("$bin" "$@" -o "$tar")
    printf '%s\n' "${out%%$'\n'*}" >&2
  fi
  pod load --quiet --input "$tar" >/dev/null
}

package_image() {
  local name=$1 platform=$2 out=$images/pkg-$1
  if [ ! -f "$images/$name.tar" ] || [ "$bin" -nt "$images/$name.tar" ]; then
    rm -rf "$out"
    (cd "$root" && "$bin" package --platform "$platform" --app examples/face-detection -o "$out" >/dev/null)
  fi
  image "$name" image worker "$out"
}

wait_for() { # WHAT SECONDS COMMAND...
  local what=$1 limit=$2
  shift 2
  local t=0
  until "$@" >/dev/null 2>&1; do
    t=$((t + 1))
    [ $t -le $((limit * 2)) ] || die "$what did not come up in $limit s"
    sleep 0.5
  done
}

workers_seen() { # N: at least N workers in the catalog
  curl -sf "http://127.0.0.1:$port/v1/devices" |
    python3 -c "import json,sys; sys.exit(len(json.load(sys.stdin)['devices']) < $1)"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

up() {
  bin=$(host_bin)
  for p in "$nats_port" "$pg_port" "$port" $((port + 1)); do
    port_free "$p" || die "port $p is in use (another cluster? scripts/baas-cluster.sh down; or set LPDNN_CLUSTER_PORT)"
  done
  mkdir -p "$images" "$state"
  chmod 700 "$state"
  local version
  version=$("$bin" --version | awk '{print $2}')
  say "making the images (once; into $images)"
  image serve image server
  image nats image nats
  image postgres image postgres
  package_image worker-x86_64 x86_64-linux
  local pi=no
  if [ -x "$cache/targets/aarch64-unknown-linux-gnu/bin/lpdnn-host" ] &&
    [ -f /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    package_image worker-pi4 raspberry-pi-4b
    pi=yes
  else
    say "no Raspberry Pi 4 worker: scripts/cross.sh aarch64 builds it"
  fi

  # The database's password, made once; given to containers in files, not argv.
  [ -s "$state/postgres-password" ] ||
    (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$state/postgres-password")
  local pw
  pw=$(cat "$state/postgres-password")
  (
    umask 077
    echo "LPDNN_POSTGRES_PASSWORD=$pw" >"$state/postgres.env"
    printf 'LPDNN_NATS_URL=nats://127.0.0.1:%s\nLPDNN_POSTGRES_URL=postgres://lpdnn:%s@127.0.0.1:%s/postgres\n' \
      "$nats_port" "$pw" "$pg_port" >"$state/serve.env"
    printf 'LPDNN_NATS_URL=nats://127.0.0.1:%s\n' "$nats_port" >"$state/worker.env"
  )

  say "starting NATS on $nats_port and PostgreSQL on $pg_port"
  local nats
  nats=$(pod images --format '{{.Repository}}:{{.Tag}}' --filter reference=lpdnn-nats | head -1)
  pod run "${locked[@]}" --name "lpdnn-nats-$port" "$nats" \
    --jetstream --store_dir /var/lib/lpdnn/nats -a 127.0.0.1 -p "$nats_port" >/dev/null
  pod run "${locked[@]}" --name "lpdnn-postgres-$port" --env-file "$state/postgres.env" lpdnn-postgres:15 \
    -p "$pg_port" -c listen_addresses=127.0.0.1 >/dev/null
  wait_for NATS 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$nats_port"
  wait_for PostgreSQL 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$pg_port"

  for i in 1 2; do
    local p=$((port + i - 1))
    say "starting front end $i on http://127.0.0.1:$p"
    pod run "${locked[@]}" --name "lpdnn-serve-$i-$port" --env-file "$state/serve.env" "lpdnn-serve:$version" \
      --bind "127.0.0.1:$p" --data /var/lib/lpdnn/data >/dev/null
  done
  wait_for "front end 1" 60 curl -sf "http://127.0.0.1:$port/health"
  wait_for "front end 2" 60 curl -sf "http://127.0.0.1:$((port + 1))/health"

  local n=0
  for i in $(seq 1 "$x86_workers"); do
    say "starting x86_64 worker $i"
    pod run "${locked[@]}" --name "lpdnn-worker-x86_64-$i-$port" --env-file "$state/worker.env" \
      --env "LPDNN_WORKER_NAME=x86_64-$i" "lpdnn-worker-x86_64-linux:$version" \
      worker --platform x86_64-linux --lease "$lease" >/dev/null
    n=$((n + 1))
  done
  if [ $pi = yes ]; then
    say "starting the Raspberry Pi 4 worker (aarch64 under qemu-user)"
    pod run "${locked[@]}" --name "lpdnn-worker-pi4-1-$port" --env-file "$state/worker.env" \
      --env LPDNN_WORKER_NAME=pi4-1 "lpdnn-worker-raspberry-pi-4b:$version" \
      worker --platform raspberry-pi-4b --lease "$lease" >/dev/null
    n=$((n + 1))
  fi
  wait_for "$n workers" 180 workers_seen "$n"
  say "up: http://127.0.0.1:$port and http://127.0.0.1:$((port + 1)), $n workers (SECONDS=$SECONDS)"
}

status() {
  pod ps --all --filter "label=$label" --format '{{.Names}}\t{{.Status}}\t{{.Image}}'
  curl -sf "http://127.0.0.1:$port/v1/devices" | python3 -c '
import json, sys
for d in json.load(sys.stdin)["devices"]:
    print("worker", d["worker"], d["platform"], "queued", d.get("queued", 0))' ||
    echo "the front end on $port does not answer"
}

down() {
  local ids
  ids=$(pod ps --all --quiet --filter "label=$label")
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    pod rm --force --volumes --time 5 $ids >/dev/null
  fi
  say "down"
}

case ${1:-} in
up) up ;;
status) status ;;
down) down ;;
*)
  sed -n '2,21s/^# \{0,1\}//p' "$0" >&2
  exit 2
  ;;
esac
