#!/usr/bin/env bash
# Regenerates sdk/go/heraldv1 from protos/herald/v1 with pinned generators.
# Deterministic: the same protos, protoc and plugin versions give the same
# bytes. Called by scripts/gen-sdk.sh (`make sdk`) and its drift check.
#
# Pinned generators (keep in step with go.mod's google.golang.org/protobuf
# and google.golang.org/grpc):
#   protoc-gen-go       google.golang.org/protobuf/cmd/protoc-gen-go        v1.36.12
#   protoc-gen-go-grpc  google.golang.org/grpc/cmd/protoc-gen-go-grpc       v1.6.2
#   protoc              Debian 12's protobuf-compiler (libprotoc 3.21.12)
# google/rpc/*.proto are not generated: their Go types come from
# google.golang.org/genproto/googleapis/rpc (see go.mod).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2
PROTOC_VERSION="libprotoc 3.21.12"

GO="$(command -v go || true)"
[ -n "$GO" ] || GO=/usr/local/go/bin/go
[ -x "$GO" ] || { echo "sdk/go/generate.sh: go not found" >&2; exit 1; }
PROTOC="${PROTOC:-$(command -v protoc || true)}"
[ -n "$PROTOC" ] || { echo "sdk/go/generate.sh: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
if [ "$("$PROTOC" --version)" != "$PROTOC_VERSION" ]; then
  echo "sdk/go/generate.sh: need $PROTOC_VERSION, found $("$PROTOC" --version)" >&2
  exit 1
fi

TOOLS="$ROOT/.tools/bin"
mkdir -p "$TOOLS"
# Installs a plugin unless the binary there already reports the pinned version.
install_plugin() { # <binary> <package> <version> <expected --version output>
  local bin=$1 pkg=$2 version=$3 want=$4
  if [ -x "$TOOLS/$bin" ] && [ "$("$TOOLS/$bin" --version 2>/dev/null)" = "$want" ]; then
    return
  fi
  echo "sdk/go/generate.sh: go install $pkg@$version"
  GOBIN="$TOOLS" GOFLAGS=-mod=mod "$GO" install "$pkg@$version"
}
install_plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go \
  "$PROTOC_GEN_GO_VERSION" "protoc-gen-go $PROTOC_GEN_GO_VERSION"
install_plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc \
  "$PROTOC_GEN_GO_GRPC_VERSION" "protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC_VERSION#v}"

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
cd "$ROOT"
# Sorted file list so the invocation (and so the output) never depends on
# directory order.
mapfile -t PROTOS < <(LC_ALL=C ls protos/herald/v1/*.proto | sed 's|^protos/||' | LC_ALL=C sort)
"$PROTOC" -I protos -I protos/third_party \
  --plugin=protoc-gen-go="$TOOLS/protoc-gen-go" \
  --plugin=protoc-gen-go-grpc="$TOOLS/protoc-gen-go-grpc" \
  --go_out="$OUT" --go_opt=module=github.com/heraldhq/herald/sdk/go \
  --go-grpc_out="$OUT" --go-grpc_opt=module=github.com/heraldhq/herald/sdk/go \
  "${PROTOS[@]}"

# Replace the generated files (and only them) so a removed proto leaves no
# stale file behind.
mkdir -p "$HERE/heraldv1"
find "$HERE/heraldv1" -maxdepth 1 -name '*.pb.go' -delete
cp "$OUT"/heraldv1/*.go "$HERE/heraldv1/"
echo "sdk/go/generate.sh: generated $(ls "$OUT"/heraldv1 | wc -l) files in sdk/go/heraldv1"
