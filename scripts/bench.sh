#!/usr/bin/env bash
# scripts/bench.sh — load test of FeatureVault and, in the same run, the
# same online reads against a plaintext Redis laid out as Feast's Redis
# online store, a do-nothing Connect server answering the same bytes, and a
# raw Tink decrypt loop (the physical limit); the server's CPU per request
# and its memory (RSS, anonymous and file-backed) at ENTITIES entities;
# bytes stored per value (an in-process store benchmark). Then a profiling
# pass, and the fvbench section at the top of BENCHMARKS.md ("Online reads
# over the network") is rewritten from the results (no other section is
# touched). Every target of issues 7 and 13 is evaluated in that one run.
#
# Not part of CI (it takes several minutes); cmd/fvbench's smoke test keeps
# the generator itself honest in CI.
#
# Everything runs on loopback, every load phase is bounded, and every
# process this script starts is stopped by its pid when it exits.
#
# Settings (environment):
#   ENTITIES=100000  CLIENTS=64  DURATION=6s  ROUNDS=3   the workload
#   DATA=DIR         reuse a data directory fvbench seeded before (default: a new temp dir)
#   OUT=.tmp/bench   where the JSON, logs and profiles go
#   PROFILE=1        also profile the server under load (fvbench serve + pprof)
#   WAIT_LOAD=1.0    wait (up to WAIT_MAX=600 s) for the 1-minute load average to drop
#                    below this before measuring: the machine is shared
#   UPDATE_MD=1      rewrite the fvbench section of BENCHMARKS.md
#   BUDGET=256MiB    featurevault serve --memory-budget
#   WRITES=1         also measure durable writes (fvbench run --phases writes)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ENTITIES=${ENTITIES:-100000}
CLIENTS=${CLIENTS:-64}
DURATION=${DURATION:-6s}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-.tmp/bench}
PROFILE=${PROFILE:-1}
WAIT_LOAD=${WAIT_LOAD:-1.0}
WAIT_MAX=${WAIT_MAX:-600}
UPDATE_MD=${UPDATE_MD:-1}
BUDGET=${BUDGET:-256MiB}

say() { printf '\n== %s\n' "$*"; }

# --- install what is missing -------------------------------------------------
if ! command -v redis-server >/dev/null; then
  say "installing redis-server (Debian package)"
  if [ "$(id -u)" -ne 0 ]; then
    echo "redis-server is missing and this is not root: apt-get install redis-server, then rerun" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
command -v go >/dev/null || { echo "go is not on PATH" >&2; exit 1; }

# --- build -------------------------------------------------------------------
say "building"
mkdir -p .tmp/bin "$OUT"
OUT=$(cd "$OUT" && pwd)
go build -o .tmp/bin/featurevault ./cmd/featurevault
go build -o .tmp/bin/fvbench ./cmd/fvbench
FV=$ROOT/.tmp/bin/featurevault
FVB=$ROOT/.tmp/bin/fvbench

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fvbench.XXXXXX")
DATA=${DATA:-$WORK/data}
COMMANDS=$OUT/commands.txt
: >"$COMMANDS"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# record: log a command exactly as run, shell-quoted (tokens never appear:
# they are read from files)
record() {
  local q
  q=$(printf '%q ' "$@")
  printf '%s\n' "${q% }" >>"$COMMANDS"
}

# start NAME PATTERN CMD...: start CMD in the background, wait for a line of
# its stdout matching PATTERN, and set STARTED_PID and STARTED_LINE.
start() {
  local name=$1 pattern=$2
  shift 2
  record "$@"
  sed -i '$ s/$/ \&/' "$COMMANDS"
  "$@" >"$OUT/$name.out" 2>"$OUT/$name.log" &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for _ in $(seq 1 300); do
    if STARTED_LINE=$(grep -m1 -E "$pattern" "$OUT/$name.out" 2>/dev/null); then
      return 0
    fi
    if ! kill -0 "$STARTED_PID" 2>/dev/null; then
      echo "$name exited; its log:" >&2
      cat "$OUT/$name.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "$name did not start within 30 s" >&2
  exit 1
}

stop() { # stop PID: stop a process this script started
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  echo "no free port found" >&2
  exit 1
}

# --- servers -----------------------------------------------------------------
say "starting featurevault serve on a temporary data directory"
start server 'serving on http' "$FV" serve --data "$DATA" --listen 127.0.0.1:0 --rate-limit 0 --memory-budget "$BUDGET"
SERVER_PID=$STARTED_PID
URL=$(grep -oE 'http://[0-9.:]+' <<<"$STARTED_LINE")
echo "server $URL (pid $SERVER_PID), data $DATA"

say "starting redis-server on loopback"
RPORT=$(free_port)
start redis 'Ready to accept connections' redis-server --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no --dir "$WORK"
REDIS_PID=$STARTED_PID
REDIS=127.0.0.1:$RPORT
echo "redis $REDIS (pid $REDIS_PID)"

say "seeding ($ENTITIES entities × 50 fields, skipped when present)"
SEED=("$FVB" run --target "$URL" --token-file "$DATA/admin.token" --redis "$REDIS" --entities "$ENTITIES" --phases= --json "$OUT/seed.json")
record "${SEED[@]}"
"${SEED[@]}" | tee "$OUT/seed.txt"

say "starting the noop Connect server (its own process)"
start noop 'noop serving on http' "$FVB" noop --target "$URL" --token-file "$DATA/admin.token" --entities "$ENTITIES" --listen 127.0.0.1:0 --lifetime 1h
NOOP_PID=$STARTED_PID
NOOP=$(grep -oE 'http://[0-9.:]+' <<<"$STARTED_LINE")

# --- wait for a quiet machine --------------------------------------------------
waited=0
while awk -v max="$WAIT_LOAD" '{exit !($1 > max)}' /proc/loadavg && [ "$waited" -lt "$WAIT_MAX" ]; do
  [ $((waited % 30)) -eq 0 ] && echo "load average $(cut -d' ' -f1-3 /proc/loadavg) > $WAIT_LOAD: waiting (up to ${WAIT_MAX}s)"
  sleep 5
  waited=$((waited + 5))
done
echo "measuring at load average $(cut -d' ' -f1-3 /proc/loadavg)"

# --- the measurement -----------------------------------------------------------
say "fvbench run"
RUN=("$FVB" run --target "$URL" --token-file "$DATA/admin.token" --entities "$ENTITIES"
  --redis "$REDIS" --noop "$NOOP" --server-pid "$SERVER_PID" --redis-pid "$REDIS_PID" --noop-pid "$NOOP_PID"
  --clients "$CLIENTS" --duration "$DURATION" --rounds "$ROUNDS" --seed-json "$OUT/seed.json" --json "$OUT/fvbench.json")
record "${RUN[@]}"
status=0
"${RUN[@]}" | tee "$OUT/fvbench.txt" || status=$?

# --- durable writes (issue 13): write throughput, reads beside a writer -------
# WRITES=0 skips it. Every write is acknowledged only once fsynced (group
# commit); see BENCHMARKS.md, "Durable writes".
if [ "${WRITES:-1}" = 1 ]; then
  say "fvbench run --phases writes"
  WR=("$FVB" run --target "$URL" --token-file "$DATA/admin.token" --entities "$ENTITIES"
    --noop "$NOOP" --server-pid "$SERVER_PID" --clients "$CLIENTS" --duration "$DURATION" --rounds "$ROUNDS"
    --phases writes --write-clients 8 --write-batch 500 --write-share 0.1 --json "$OUT/writes.json")
  record "${WR[@]}"
  "${WR[@]}" | tee "$OUT/writes.txt" || status=$?
fi

stop "$NOOP_PID"
stop "$SERVER_PID"

# --- bytes per value (in process) ---------------------------------------------
say "bytes stored per value (store benchmark, in process)"
BPV=(go test ./store -run '^$' -bench 'BytesPerValue' -benchtime 1x)
record "${BPV[@]}"
"${BPV[@]}" | grep -E '^Benchmark' | tee "$OUT/in-process.txt" || status=$?

# --- profile -------------------------------------------------------------------
PROFILE_TOP=
if [ "$PROFILE" = 1 ]; then
  say "profiling: the same server in process with net/http/pprof (fvbench serve)"
  start profserver 'pprof on http' "$FVB" serve --data "$DATA" --listen 127.0.0.1:0 --pprof 127.0.0.1:0 --memory-budget "$(numfmt --from=auto "${BUDGET%B}")"
  PROF_PID=$STARTED_PID
  PURL=$(grep -oE 'http://[0-9.:]+' "$OUT/profserver.out" | head -1)
  PPROF=$(grep -oE 'http://[0-9.:]+' "$OUT/profserver.out" | tail -1)
  PROF=("$FVB" run --target "$PURL" --token-file "$DATA/admin.token" --entities "$ENTITIES" --clients "$CLIENTS"
    --phases profile --pprof "$PPROF" --profile-dir "$OUT/profiles" --server-pid "$PROF_PID" --json "$OUT/profile.json")
  record "${PROF[@]}"
  "${PROF[@]}" | tee "$OUT/profile.txt" || status=$?
  stop "$PROF_PID"
  PROFILE_TOP=$OUT/profile-top.txt
  : >"$PROFILE_TOP"
  for p in "$OUT"/profiles/cpu-*.pprof "$OUT"/profiles/allocs-*.pprof; do
    [ -s "$p" ] || continue
    opts=(-top -nodecount=25)
    case $p in *allocs-*) opts+=(-sample_index=alloc_space) ;; esac
    {
      echo "## $(basename "$p" .pprof)"
      go tool pprof "${opts[@]}" "$FVB" "$p" 2>/dev/null | sed -n '1,32p'
      echo
    } >>"$OUT/profiles-all.txt"
  done
  # for BENCHMARKS.md: where a single client's 1×50 read spends the server's
  # time (cumulative), and the hottest functions under --clients
  {
    echo "# online 1×50, 1 client: cumulative (go tool pprof -top -cum)"
    go tool pprof -top -cum -nodecount=45 "$FVB" "$OUT/profiles/cpu-online-1x50-c1.pprof" 2>/dev/null | sed -n '5,52p'
    echo
    echo "# online 1×50, $CLIENTS clients: flat (go tool pprof -top)"
    go tool pprof -top -nodecount=20 "$FVB" "$OUT/profiles/cpu-online-1x50-c$CLIENTS.pprof" 2>/dev/null | sed -n '5,27p'
  } >"$PROFILE_TOP"
  record go tool pprof -top -cum -nodecount=45 "$FVB" "$OUT/profiles/cpu-online-1x50-c1.pprof"
  record go tool pprof -top -nodecount=20 "$FVB" "$OUT/profiles/cpu-online-1x50-c$CLIENTS.pprof"
  echo "profiles in $OUT/profiles; tops in $OUT/profiles-all.txt"
fi

# --- BENCHMARKS.md -------------------------------------------------------------
if [ "$UPDATE_MD" = 1 ] && [ -s "$OUT/fvbench.json" ]; then
  say "rewriting the fvbench section of BENCHMARKS.md"
  md=("$FVB" markdown --in "$OUT/fvbench.json" --file BENCHMARKS.md --commands "$COMMANDS" --in-process "$OUT/in-process.txt"
    --server "\`featurevault serve --rate-limit 0 --memory-budget $BUDGET\` (sync writes on, as shipped), its own process; profiles from \`fvbench serve\` (the same server with net/http/pprof) in a second pass")
  [ -n "$PROFILE_TOP" ] && md+=(--profile "$PROFILE_TOP")
  "${md[@]}"
fi
exit "$status"
