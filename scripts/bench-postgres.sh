#!/usr/bin/env bash
# scripts/bench-postgres.sh — the embedded store beside the shared
# PostgreSQL store, in one run, at ENTITIES entities × 50 float64 values:
#
#   1. featurevault serve on a new Badger directory; fvbench seeds it and
#      measures online reads (1 and 64 clients);
#   2. the server stops and `featurevault migrate --from DIR --to postgres://…
#      --verify` copies that store (data, keystore, audit) into a PostgreSQL
#      this script starts on a loopback port, and reads every entry back;
#   3. one server on the migrated store: the same fvbench phases;
#   4. three servers on it at once, CLIENTS/3 clients each.
#
# Every figure is printed and written as JSON under OUT; the server's CPU per
# request comes from /proc (fvbench --server-pid), PostgreSQL's from the sum
# of its processes' /proc/PID/stat. Not part of CI (minutes of load).
# Everything runs on loopback; every process started here is stopped on exit.
#
# Settings (environment): ENTITIES=100000 CLIENTS=63 DURATION=6s ROUNDS=3
# OUT=.tmp/bench-postgres PG_OPTIONS="-c name=value …" (more PostgreSQL
# settings) WAIT_LOAD=1.0 (wait up to WAIT_MAX=600 s for the
# 1-minute load average to drop below it before measuring).
set -euo pipefail
cd "$(dirname "$0")/.."

ENTITIES=${ENTITIES:-100000}
CLIENTS=${CLIENTS:-63}
DURATION=${DURATION:-6s}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-.tmp/bench-postgres}
WAIT_LOAD=${WAIT_LOAD:-1.0}
PG_OPTIONS=${PG_OPTIONS:-}
WAIT_MAX=${WAIT_MAX:-600}

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PGBIN" ]; then
  echo "PostgreSQL is missing: apt-get install postgresql, then rerun" >&2
  exit 1
fi
RUNAS=()
if [ "$(id -u)" -eq 0 ]; then
  RUNAS=(runuser -u postgres --)
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# shellcheck source=scripts/benchlib.sh
. scripts/benchlib.sh
build

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fvbench-pg.XXXXXX")
chmod 755 "$WORK"
PGDATA=$WORK/pg
cleanup() {
  stop_all
  if [ -f "$PGDATA/postmaster.pid" ]; then
    "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

pgcpu() { # PostgreSQL's CPU seconds so far (all its processes)
  # shellcheck disable=SC2046
  cputime $(pgrep -u postgres -f postgres || true)
}

say "starting PostgreSQL ($PGBIN) on loopback"
PGPORT=$((20000 + RANDOM % 40000))
mkdir -p "$PGDATA" && chown postgres "$PGDATA" 2>/dev/null || true
"${RUNAS[@]}" "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --no-instructions >/dev/null
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -w -l "$PGDATA/log" \
  -o "-c listen_addresses=127.0.0.1 -c port=$PGPORT -c max_connections=300 -c shared_buffers=256MB -c unix_socket_directories=$PGDATA $PG_OPTIONS" start >/dev/null
"${RUNAS[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres fvbench
PG="postgres://postgres@127.0.0.1:$PGPORT/fvbench?sslmode=disable"
note "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PGPORT, fsync on, shared_buffers=256MB $PG_OPTIONS"

B=$WORK/badger
say "1. embedded store: seed $ENTITIES entities, then online reads"
serve badger --data "$B"
"$FVB" run --target "$URL" --token-file "$B/admin.token" --entities "$ENTITIES" --phases= --json "$OUT/seed.json" | tee -a "$OUT/summary.txt"
quiet
"$FVB" run --target "$URL" --token-file "$B/admin.token" --entities "$ENTITIES" --phases compare,scale \
  --clients "$CLIENTS" --duration "$DURATION" --rounds "$ROUNDS" --server-pid "$PID" --json "$OUT/badger.json" | tee -a "$OUT/summary.txt"
kill "$PID"
wait "$PID" 2>/dev/null || true

say "2. migrate --verify into PostgreSQL"
note "store on disk: $(du -sh "$B" | cut -f1)"
start=$(date +%s.%N)
"$FV" migrate --from "$B" --to "$PG" --verify 2>&1 | tee -a "$OUT/summary.txt"
note "migrate took $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"

say "3. one server on the migrated PostgreSQL store"
KMS=local://$B/kms/root.json
serve pg1 --data "$WORK/s1" --store "$PG" --kms "$KMS" --member-id s1
P1=$PID U1=$URL
quiet
c0=$(pgcpu)
"$FVB" run --target "$U1" --token-file "$B/admin.token" --entities "$ENTITIES" --phases compare,scale \
  --clients "$CLIENTS" --duration "$DURATION" --rounds "$ROUNDS" --server-pid "$P1" --json "$OUT/pg1.json" | tee -a "$OUT/summary.txt"
note "PostgreSQL CPU during step 3: $(awk -v a="$c0" -v b="$(pgcpu)" 'BEGIN{printf "%.2f", b-a}') s"

say "4. three servers on it, $((CLIENTS / 3)) clients each, at once"
serve pg2 --data "$WORK/s2" --store "$PG" --kms "$KMS" --member-id s2
P2=$PID U2=$URL
serve pg3 --data "$WORK/s3" --store "$PG" --kms "$KMS" --member-id s3
P3=$PID U3=$URL
quiet
c0=$(pgcpu)
i=0
LOADS=()
for pair in "$P1 $U1" "$P2 $U2" "$P3 $U3"; do
  i=$((i + 1))
  read -r p u <<<"$pair"
  "$FVB" run --target "$u" --token-file "$B/admin.token" --entities "$ENTITIES" --phases scale \
    --clients $((CLIENTS / 3)) --duration "$DURATION" --rounds 1 --server-pid "$p" --json "$OUT/pg3-$i.json" >"$OUT/pg3-$i.txt" &
  LOADS+=($!)
done
for p in "${LOADS[@]}"; do wait "$p"; done
cat "$OUT"/pg3-*.txt | tee -a "$OUT/summary.txt"
note "PostgreSQL CPU during step 4: $(awk -v a="$c0" -v b="$(pgcpu)" 'BEGIN{printf "%.2f", b-a}') s"
note "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
