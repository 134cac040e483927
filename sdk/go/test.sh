#!/usr/bin/env bash
# The Go SDK's suite (run by scripts/test.sh, i.e. `make test`): gofmt, go
# vet, and go test, whose tests start real heraldd processes from
# $HERALD_BUILD_DIR/server/heraldd (default <repo>/build) and read the shared
# vectors in tests/vectors. After the first module download it needs no
# network.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

GO="$(command -v go || true)"
[ -n "$GO" ] || GO=/usr/local/go/bin/go
[ -x "$GO" ] || { echo "sdk/go/test.sh: go not found" >&2; exit 1; }
# The quickstart test runs `go build` itself.
export PATH="$(dirname "$GO"):$PATH"

export HERALD_BUILD_DIR="${HERALD_BUILD_DIR:-$ROOT/build}"
case "$HERALD_BUILD_DIR" in /*) ;; *) HERALD_BUILD_DIR="$ROOT/$HERALD_BUILD_DIR" ;; esac
if [ ! -x "$HERALD_BUILD_DIR/server/heraldd" ]; then
  if [ -f "$HERALD_BUILD_DIR/CMakeCache.txt" ]; then
    echo "sdk/go/test.sh: building heraldd in $HERALD_BUILD_DIR"
    cmake --build "$HERALD_BUILD_DIR" --target heraldd -j2
  else
    echo "sdk/go/test.sh: $HERALD_BUILD_DIR/server/heraldd is missing; build it first (make build)" >&2
    exit 1
  fi
fi

cd "$HERE"
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
  echo "sdk/go/test.sh: not gofmt-formatted:" >&2
  echo "$unformatted" >&2
  exit 1
fi
"$GO" vet ./...
"$GO" test -count=1 -timeout 600s "$@" ./...
