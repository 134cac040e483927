#!/usr/bin/env bash
# Regenerates src/gen/ from protos/ (herald.v1 and the vendored google.rpc
# protos) with pinned generators: protoc from Debian (3.21) and ts-proto at
# the exact version in package.json / package-lock.json. Deterministic: the
# output depends only on the protos and those versions. Called by
# scripts/gen-sdk.sh (`make sdk`, and its --check drift test).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)

if ! command -v protoc >/dev/null; then
  echo "generate.sh: protoc not found (apt-get install protobuf-compiler)" >&2
  exit 1
fi
# Install the pinned generator when it is missing or not the locked version.
want=$(node -p 'require("./package-lock.json").packages["node_modules/ts-proto"].version')
have=$(node -p 'try { require("./node_modules/ts-proto/package.json").version } catch { "" }')
if [ "$want" != "$have" ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

OPTS=(
  outputServices=grpc-js   # typed grpc.Client subclasses for @grpc/grpc-js
  esModuleInterop=true
  env=node
  importSuffix=.js         # ESM: relative imports need the extension
  useDate=true             # google.protobuf.Timestamp <-> Date
  forceLong=number         # int64 ids as number (ids stay below 2^53)
  useExactTypes=false      # fromPartial accepts objects with extra keys
  outputJsonMethods=true   # fromJSON/toJSON (proto3 JSON mapping)
  outputPartialMethods=true
  unrecognizedEnum=true
)
opt=$(printf '%s\n' "${OPTS[@]}" | sed 's/ *#.*//' | paste -sd, -)

out=src/gen
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(
  cd "$ROOT/protos"
  protoc \
    --plugin=protoc-gen-ts_proto="$OLDPWD/node_modules/.bin/protoc-gen-ts_proto" \
    --ts_proto_out="$tmp" --ts_proto_opt="$opt" \
    -I . -I third_party \
    herald/v1/*.proto google/rpc/status.proto google/rpc/error_details.proto google/rpc/code.proto
)
rm -rf "$out"
mkdir -p "$out"
cp -R "$tmp"/. "$out"/
echo "generate.sh: wrote $(find "$out" -name '*.ts' | wc -l) files to sdk/typescript/$out" >&2
