#!/usr/bin/env bash
# Repository hygiene checks, run by CI (.ci/run) on the repository at $1
# (default: the repository this script lives in). Each check prints what to
# fix and the script exits 1 if any failed:
#   1. no tracked file is an executable binary (ELF, Mach-O, PE or a
#      "#!"-less file with the executable bit that git sees as binary);
#   2. no tracked file is over 1 MiB unless its path is listed, one per
#      line, in .ci/large-files (data the project needs, never a build output);
#   3. `go mod tidy -diff` is empty: go.mod and go.sum say exactly what the
#      code imports.
set -uo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root" || exit 2

failed=0
limit=$((1024 * 1024))
allowed=""
if [ -f .ci/large-files ]; then
  allowed="$(grep -v '^[[:space:]]*\(#\|$\)' .ci/large-files || true)"
fi

while IFS= read -r -d '' path; do
  [ -f "$path" ] || continue
  magic="$(head -c 4 -- "$path" | od -An -tx1 | tr -d ' \n')"
  case "$magic" in
    7f454c46 | cffaedfe | cefaedfe | feedfacf | feedface | 4d5a*)
      echo "tracked binary: $path (remove it with 'git rm --cached' and add it to .gitignore)"
      failed=1
      continue
      ;;
  esac
  size="$(wc -c <"$path")"
  if [ "$size" -gt "$limit" ] && ! grep -qxF -- "$path" <<<"$allowed"; then
    echo "tracked file over 1 MiB: $path ($size bytes); remove it, or list it in .ci/large-files if it is data the project needs"
    failed=1
  fi
done < <(git ls-files -z)

if [ -f go.mod ]; then
  if ! tidy="$(go mod tidy -diff 2>&1)"; then
    echo "go.mod or go.sum is not tidy; run 'go mod tidy' and commit the result:"
    echo "$tidy"
    failed=1
  fi
fi

if [ "$failed" -ne 0 ]; then
  exit 1
fi
echo "repository checks passed"
