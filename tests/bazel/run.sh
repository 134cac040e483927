#!/usr/bin/env bash
# The Bazel check (scripts/test.sh runs it; see bazel-compat/README.md):
#   1. static: every .proto under protos/ and every client source is in a
#      Bazel target, with deps matching the imports (check_coverage.py),
#      and the check itself fails on an uncovered file (--self-test);
#   2. Debian's Bazel 4.2.3 builds bazel-compat/consumer against herald's
#      BUILD.bazel files offline (no network namespace when unshare works),
#      with the system gRPC/protobuf (bazel-compat/system), plus heraldctl
#      and client/examples;
#   3. runs the consumer's gMock test, then the consumer example and the
#      Bazel-built heraldctl against a heraldd on 127.0.0.1:0.
# The Bazel output base is kept under .tools/bazel, so a rerun only rebuilds
# what changed. Env: HERALD_BUILD_DIR (default build/), BAZEL (default bazel).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BAZEL="${BAZEL:-bazel}"
BUILD_DIR="${HERALD_BUILD_DIR:-$ROOT/build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
passed=0 failed=0
step() { # <name> <command...>
  local name=$1 start=$SECONDS; shift
  echo "--- bazel: $name"
  if "$@"; then
    passed=$((passed + 1)); echo "--- ok: $name ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1)); echo "--- FAILED: $name ($((SECONDS - start)) s)"
  fi
}
finish() {
  echo "bazel: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit $?
}

# 1. Static coverage check, and a check that it catches an uncovered file.
step "BUILD files cover every .proto and client source" python3 "$HERE/check_coverage.py" --root "$ROOT"
step "the coverage check fails on uncovered files" python3 "$HERE/check_coverage.py" --root "$ROOT" --self-test

if ! command -v "$BAZEL" >/dev/null; then
  echo "tests/bazel: $BAZEL not found (scripts/install-deps.sh installs bazel-bootstrap)" >&2
  failed=$((failed + 1)); finish
fi

# 2. A consumer workspace: bazel-compat/consumer's BUILD.bazel and sources
# with the WORKSPACE of bazel-compat/system (Bazel 4.2.3 has no Bzlmod, so
# the consumer's MODULE.bazel and .bazelrc are for current Bazel only).
WS="$ROOT/.tools/bazel-compat/workspace"
mkdir -p "$WS"
find "$WS" -mindepth 1 -maxdepth 1 ! -name 'bazel-*' -exec rm -rf {} +
sed "s|@HERALD_ROOT@|$ROOT|g" "$ROOT/bazel-compat/system/WORKSPACE.example" > "$WS/WORKSPACE"
for f in "$ROOT"/bazel-compat/consumer/BUILD.bazel "$ROOT"/bazel-compat/consumer/*.cc; do
  ln -s "$f" "$WS/$(basename "$f")"
done

STARTUP=(--batch --nohome_rc "--output_user_root=$ROOT/.tools/bazel")
# --incompatible_strict_action_env: actions see a fixed PATH, so the cache
# holds whatever PATH the caller has (make test prepends .tools/bin).
FLAGS=(--jobs=2 --incompatible_strict_action_env --nosandbox_debug --color=no --curses=no --noshow_progress
       --cxxopt=-std=c++20 --host_cxxopt=-std=c++20)
TARGETS=(//:herald_bazel_example //:herald_mock_test @herald//client:heraldctl @herald//client:example)
# Offline for certain: no network namespace at all, when this machine lets us
# make one (root, or unprivileged user namespaces); the build is offline by
# construction either way (every repository is local).
OFFLINE=()
if unshare --net --map-root-user true 2>/dev/null; then
  OFFLINE=(unshare --net --map-root-user)
elif unshare --net true 2>/dev/null; then
  OFFLINE=(unshare --net)
fi
bazel_build() {
  (cd "$WS" && "${OFFLINE[@]}" "$BAZEL" "${STARTUP[@]}" build "${FLAGS[@]}" "${TARGETS[@]}")
}
VERSION=$(dpkg-query -W -f='${Version}' bazel-bootstrap 2>/dev/null || "$BAZEL" --version 2>/dev/null | head -1 || true)
step "Bazel ${VERSION:-?} builds the consumer offline (${OFFLINE[*]:-no network namespace available})" bazel_build
BIN="$WS/bazel-bin"
if [ ! -x "$BIN/herald_bazel_example" ]; then finish; fi

# 3. Run what it built.
step "gMock test with @herald//client:mocks" "$BIN/herald_mock_test"

if [ ! -x "$BUILD_DIR/server/heraldd" ] && [ -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake --build "$BUILD_DIR" --target heraldd -j2 >/dev/null || true
fi
if [ ! -x "$BUILD_DIR/server/heraldd" ]; then
  echo "tests/bazel: $BUILD_DIR/server/heraldd is missing (build herald with CMake first)" >&2
  failed=$((failed + 1)); finish
fi
DATA=$(mktemp -d)
HERALDD_PID=""
cleanup() {
  if [ -n "$HERALDD_PID" ]; then kill "$HERALDD_PID" 2>/dev/null || true; wait "$HERALDD_PID" 2>/dev/null || true; fi
  rm -rf "$DATA"
}
trap cleanup EXIT
start_heraldd() {
  rm -rf "$DATA/data" "$DATA/address"
  "$BUILD_DIR/server/heraldd" --listen_address=127.0.0.1:0 --address_file="$DATA/address" \
    --metrics_address= --allow_loopback_targets=true --data_dir="$DATA/data" --log_format=text --log_level=warn \
    2>"$DATA/heraldd.log" &
  HERALDD_PID=$!
  for _ in $(seq 100); do
    [ -s "$DATA/address" ] && [ -s "$DATA/data/admin.token" ] && return 0
    kill -0 "$HERALDD_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill "$HERALDD_PID" 2>/dev/null || true; wait "$HERALDD_PID" 2>/dev/null || true
  HERALDD_PID=""
  return 1
}
# Another build may be relinking heraldd right now ("Text file busy"): retry.
for attempt in $(seq 30); do
  start_heraldd && break
  [ "$attempt" = 30 ] || sleep 2
done
if [ -z "$HERALDD_PID" ]; then
  echo "tests/bazel: heraldd did not start:" >&2; cat "$DATA/heraldd.log" >&2
  failed=$((failed + 1)); finish
fi
export HERALD_ADDR HERALD_TOKEN_FILE="$DATA/data/admin.token"
HERALD_ADDR=$(cat "$DATA/address")
step "consumer example against heraldd at $HERALD_ADDR" "$BIN/herald_bazel_example"
heraldctl_info() {
  local ctl="$BIN/external/herald/client/heraldctl" out version
  version=$(sed -n 's/^project(herald VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
  out=$("$ctl" version) && echo "$out" && [ "$out" = "heraldctl $version" ] || return 1
  out=$("$ctl" info) && echo "$out" && grep -q "^version: *$version\$" <<<"$out"
}
step "Bazel-built heraldctl against heraldd" heraldctl_info
finish
