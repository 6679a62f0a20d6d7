# scripts/benchlib.sh — helpers shared by scripts/bench-postgres.sh and
# scripts/bench-online.sh; sourced, not run. The sourcing script sets OUT
# (an existing directory, absolute), WAIT_LOAD and WAIT_MAX first.
#
#   say TEXT, note TEXT   print, and append to $OUT/summary.txt
#   build                 featurevault and fvbench into .tmp/bin; sets FV, FVB
#   start NAME PATTERN CMD...
#                         run CMD in the background (output in $OUT/NAME.out
#                         and .log), wait until one of them matches PATTERN;
#                         sets PID and LINE; every process started so is
#                         killed on exit
#   serve NAME ARGS...    start featurevault serve ARGS on a loopback port (no
#                         rate limit, warnings only); sets PID and URL
#   quiet                 wait (up to WAIT_MAX s) for the 1-minute load average
#                         to drop below WAIT_LOAD
#   cputime PID...        the CPU seconds the processes used so far

: >"$OUT/summary.txt"
say() { printf '\n== %s\n' "$*" | tee -a "$OUT/summary.txt"; }
note() { printf '%s\n' "$*" | tee -a "$OUT/summary.txt"; }

build() {
  say "building"
  mkdir -p .tmp/bin
  go build -o .tmp/bin/featurevault ./cmd/featurevault
  go build -o .tmp/bin/fvbench ./cmd/fvbench
  FV=$PWD/.tmp/bin/featurevault
  FVB=$PWD/.tmp/bin/fvbench
}

PIDS=()
stop_all() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}

start() {
  local name=$1 pattern=$2
  shift 2
  "$@" >"$OUT/$name.out" 2>"$OUT/$name.log" &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 300); do
    if LINE=$(grep -h -m1 -E "$pattern" "$OUT/$name.out" "$OUT/$name.log" 2>/dev/null); then
      return 0
    fi
    kill -0 "$PID" 2>/dev/null || { cat "$OUT/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "$name did not start within 30 s" >&2
  exit 1
}

serve() {
  local name=$1
  shift
  start "$name" 'serving on http' "$FV" serve --listen 127.0.0.1:0 --rate-limit 0 --log-level warn "$@"
  URL=$(grep -oE 'http://[0-9.:]+' <<<"$LINE")
}

quiet() {
  local waited=0
  while awk -v max="$WAIT_LOAD" '{exit !($1 > max)}' /proc/loadavg && [ "$waited" -lt "$WAIT_MAX" ]; do
    sleep 10
    waited=$((waited + 10))
  done
  note "load average before measuring: $(cut -d' ' -f1-3 /proc/loadavg)"
}

cputime() {
  local t=0 p
  for p in "$@"; do
    t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  awk -v t="$t" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", t/hz}'
}
