#!/usr/bin/env bash
# Installs everything herald needs to build and test on Debian 12.
# Idempotent: packages already present are skipped. Runs apt as root or via sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libabsl-dev nlohmann-json3-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev postgresql-15 postgresql-client-15
  libgtest-dev libgmock-dev libssl-dev prometheus-cpp-dev libcpp-httplib-dev nginx-light
  python3 python3-venv openssl procps jq
  bazel-bootstrap  # tests/bazel: Debian's Bazel 4.2.3 builds a Bazel consumer of herald offline
  clang libclang-rt-14-dev
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: apt installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Go tools used by tests (pinned).
export GOBIN="${GOBIN:-$PWD/.tools/bin}"
mkdir -p "$GOBIN"
GRPCURL_VERSION=v1.9.1
if [ ! -x "$GOBIN/grpcurl" ]; then
  if command -v go >/dev/null; then
    echo "install-deps: go install grpcurl@$GRPCURL_VERSION"
    go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
  else
    echo "install-deps: go not found; grpcurl tests will be skipped" >&2
  fi
fi

# buf (lint) from npm, pinned.
BUF_VERSION=1.47.2
if [ ! -x .tools/node_modules/.bin/buf ]; then
  if command -v npm >/dev/null; then
    echo "install-deps: npm install @bufbuild/buf@$BUF_VERSION"
    mkdir -p .tools
    npm install --silent --prefix .tools "@bufbuild/buf@$BUF_VERSION" >/dev/null
  fi
fi
echo "install-deps: done"
