#!/usr/bin/env bash
# scripts/fuzz.sh [DURATION] — run every native Go fuzz target
# (func FuzzX(f *testing.F)) of the module for DURATION each (default 10s;
# any -fuzztime value: 3s, 10m, 500x), one target at a time, and stop at
# the first failure with the command that reproduces it.
#
# Targets are found, not listed: the test binaries of the packages whose
# tests declare a func Fuzz... are asked for -test.list '^Fuzz' (as
# `go test -list '^Fuzz'` does), so a new target runs here (and in CI,
# which calls `scripts/fuzz.sh 2000x`) as soon as it exists. Prefer a
# count (2000x) for short runs: with go1.26 a duration can end in a bare
# "context deadline exceeded" and no failing input (golang/go#75804), a
# flake of the fuzz coordinator, not of the target.
# A failing input is written by go test under the package's
# testdata/fuzz/FuzzX/; once the bug is fixed, commit it with the fix so
# that plain `go test` replays it forever.
#
# Settings (environment):
#   FUZZ_PARALLEL=N       fuzzing workers per target (default: GOMAXPROCS)
#   FUZZ_TIMEOUT=1h       -test.timeout of one target, a safety net
#   FUZZ_MINIMIZE=5s      -fuzzminimizetime: how long to shrink a new input;
#                         short, so that minimizing large inputs (Arrow and
#                         Parquet files) does not eat the fuzzing time
#   FUZZ_RUN=REGEXP       only targets whose name matches (grep -E)
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-10s}
minimize=${FUZZ_MINIMIZE:-5s}
filter=${FUZZ_RUN:-.}
parallel=()
if [ -n "${FUZZ_PARALLEL:-}" ]; then
  parallel=(-test.parallel "$FUZZ_PARALLEL")
fi

# Packages with a fuzz target in their tests. Only these are built.
mapfile -t dirs < <(grep -rlE --include='*_test.go' --exclude-dir='.[!.]*' --exclude-dir=node_modules \
  '^func Fuzz[A-Z0-9_][A-Za-z0-9_]*\(' . | xargs -r -n1 dirname | sort -u)
if [ "${#dirs[@]}" -eq 0 ]; then
  echo "fuzz.sh: no fuzz targets found" >&2
  exit 1
fi

# Each package's instrumented test binary is built once (go test -c -fuzz)
# and asked for its targets (-test.list, what `go test -list` runs); each
# target then runs from the package's directory, so that its corpus under
# testdata/fuzz/ is read and a failing input is written there. Building
# per package rather than per target (as `go test -fuzz` would) saves a
# link per target, most of the cost of a short run.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log=$tmp/log
cache=$(go env GOCACHE)/fuzz
start=$SECONDS
count=0
for dir in "${dirs[@]}"; do
  pkg=$(go list "$dir")
  bin=$tmp/$count.test
  go test -c -fuzz=. -o "$bin" "$dir"
  mapfile -t names < <(cd "$dir" && "$bin" -test.list '^Fuzz' | grep -E '^Fuzz' | grep -E -- "$filter" || true)
  for name in "${names[@]}"; do
    count=$((count + 1))
    printf '\n== %s %s (%s)\n' "$pkg" "$name" "$duration"
    status=0
    (cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^${name}\$" -test.fuzztime "$duration" \
      -test.fuzzminimizetime "$minimize" -test.fuzzcachedir "$cache/$pkg" \
      -test.timeout "${FUZZ_TIMEOUT:-1h}" "${parallel[@]}") >"$log" 2>&1 || status=$?
    grep -E '^fuzz: elapsed' "$log" | tail -1 || true
    if [ "$status" -eq 0 ]; then
      continue
    fi
    echo
    echo "fuzz.sh: $name in $pkg failed:"
    grep -vE '^fuzz: elapsed' "$log"
    echo
    input=$(sed -nE 's/.*Failing input written to (testdata\/fuzz\/[^ ]+).*/\1/p' "$log" | tail -1)
    if [ -n "$input" ]; then
      echo "The failing input is $dir/$input. Reproduce with:"
      echo "  go test $dir -run '^${name}\$/^$(basename "$input")\$' -v"
      echo "Fix the code, then commit the input with the fix: go test replays it from then on."
    else
      echo "Reproduce with:"
      echo "  go test $dir -run '^\$' -fuzz '^${name}\$' -fuzztime $duration"
    fi
    exit 1
  done
done
printf '\nfuzz.sh: %d targets passed in %ds\n' "$count" $((SECONDS - start))
