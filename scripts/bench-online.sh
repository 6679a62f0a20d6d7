#!/usr/bin/env bash
# scripts/bench-online.sh — the Redis Cluster online tier beside the store it
# fronts and beside plaintext Redis, in one run, at ENTITIES entities × 50
# float64 values (issue 15's benchmark):
#
#   1. a 6-node Redis Cluster (3 primaries, 3 replicas, AOF on, node timeout
#      2 s: the test cluster's settings) and a plaintext redis-server, all on
#      loopback ports;
#   2. featurevault serve --online on a new Badger directory; fvbench seeds
#      it (the store and, through the outbox, the tier) and the plaintext
#      Redis the way Feast lays it out; then online reads at 1 and CLIENTS
#      clients on the server, on the no-op Connect server and on Redis;
#   3. the same server without --online (reads from Badger in process): the
#      same phases.
#
# Every figure is printed and written as JSON under OUT; the server's CPU per
# request comes from /proc (fvbench --server-pid), the cluster's from the
# sum of its six processes' /proc/PID/stat. Not part of CI (minutes of load).
# Everything runs on loopback; every process started here is stopped on exit.
#
# Settings (environment): ENTITIES=100000 CLIENTS=64 DURATION=6s ROUNDS=3
# OUT=.tmp/bench-online WAIT_LOAD=1.0 (wait up to WAIT_MAX=600 s for the
# 1-minute load average to drop below it before measuring).
set -euo pipefail
cd "$(dirname "$0")/.."

ENTITIES=${ENTITIES:-100000}
CLIENTS=${CLIENTS:-64}
DURATION=${DURATION:-6s}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-.tmp/bench-online}
WAIT_LOAD=${WAIT_LOAD:-1.0}
WAIT_MAX=${WAIT_MAX:-600}

for tool in redis-server redis-cli; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool is missing: apt-get install redis-server, then rerun" >&2
    exit 1
  fi
done

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# shellcheck source=scripts/benchlib.sh
. scripts/benchlib.sh
build

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fvbench-online.XXXXXX")
trap 'stop_all; rm -rf "$WORK"' EXIT
NODE_PIDS=()

say "1. a 6-node Redis Cluster and a plaintext redis-server on loopback"
BASE=$((20000 + RANDOM % 40000))
SEEDS=()
for i in 0 1 2 3 4 5; do
  port=$((BASE + i))
  dir=$WORK/node-$port
  mkdir -p "$dir"
  start "node-$port" 'Ready to accept connections' redis-server --port "$port" --bind 127.0.0.1 \
    --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 2000 \
    --dir "$dir" --save '' --appendonly yes --protected-mode no --daemonize no
  NODE_PIDS+=("$PID")
  SEEDS+=("127.0.0.1:$port")
done
redis-cli --cluster create "${SEEDS[@]}" --cluster-replicas 1 --cluster-yes >"$OUT/cluster-create.log"
for _ in $(seq 1 200); do
  if redis-cli -p "$BASE" cluster info | grep -q 'cluster_state:ok'; then
    break
  fi
  sleep 0.1
done
note "cluster: $(redis-cli -p "$BASE" cluster info | grep -E 'cluster_state|cluster_size' | tr -d '\r' | tr '\n' ' ')"
RPORT=$((BASE + 6))
start redis 'Ready to accept connections' redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK"
REDIS=127.0.0.1:$RPORT REDIS_PID=$PID
ONLINE=redis://${SEEDS[0]},${SEEDS[1]},${SEEDS[2]}

D=$WORK/data
say "2. featurevault serve --online: seed $ENTITIES entities, then online reads"
serve tier --data "$D" --online "$ONLINE"
TIER_PID=$PID
"$FVB" run --target "$URL" --token-file "$D/admin.token" --redis "$REDIS" --entities "$ENTITIES" --phases= --json "$OUT/seed.json" | tee -a "$OUT/summary.txt"
start noop 'noop serving on http' "$FVB" noop --target "$URL" --token-file "$D/admin.token" --entities "$ENTITIES" --listen 127.0.0.1:0 --lifetime 1h
NOOP_PID=$PID NOOP=$(grep -oE 'http://[0-9.:]+' <<<"$LINE")
"$FV" online status --server "$URL" --data "$D" | tee -a "$OUT/summary.txt"
quiet
c0=$(cputime "${NODE_PIDS[@]}")
"$FVB" run --target "$URL" --token-file "$D/admin.token" --entities "$ENTITIES" --phases compare,scale \
  --redis "$REDIS" --redis-pid "$REDIS_PID" --noop "$NOOP" --noop-pid "$NOOP_PID" --server-pid "$TIER_PID" \
  --clients "$CLIENTS" --duration "$DURATION" --rounds "$ROUNDS" --seed-json "$OUT/seed.json" --json "$OUT/tier.json" | tee -a "$OUT/summary.txt"
note "Redis Cluster CPU during step 2: $(awk -v a="$c0" -v b="$(cputime "${NODE_PIDS[@]}")" 'BEGIN{printf "%.2f", b-a}') s"
"$FV" online status --server "$URL" --data "$D" | tee -a "$OUT/summary.txt"
kill "$TIER_PID"
wait "$TIER_PID" 2>/dev/null || true

say "3. the same store without --online"
serve store --data "$D"
STORE_PID=$PID
quiet
"$FVB" run --target "$URL" --token-file "$D/admin.token" --entities "$ENTITIES" --phases compare,scale \
  --redis "$REDIS" --redis-pid "$REDIS_PID" --noop "$NOOP" --noop-pid "$NOOP_PID" --server-pid "$STORE_PID" \
  --clients "$CLIENTS" --duration "$DURATION" --rounds "$ROUNDS" --seed-json "$OUT/seed.json" --json "$OUT/store.json" | tee -a "$OUT/summary.txt"
note "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
