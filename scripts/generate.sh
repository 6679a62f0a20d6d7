#!/usr/bin/env bash
# Regenerates the protobuf and Connect code under proto/ from the .proto files.
# Works offline: buf is installed from the Go module proxy into .tmp/bin, and
# the plugins run through `go tool` as pinned in go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."
BUF_VERSION=v1.75.0
export GOBIN="$PWD/.tmp/bin"
if [ ! -x "$GOBIN/buf" ] || ! "$GOBIN/buf" --version 2>/dev/null | grep -q "${BUF_VERSION#v}"; then
  go install "github.com/bufbuild/buf/cmd/buf@${BUF_VERSION}"
fi
find proto -name '*.pb.go' -delete
find proto -type d -name '*connect' -exec rm -rf {} +
"$GOBIN/buf" lint
"$GOBIN/buf" generate
