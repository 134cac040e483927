#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test suite herald has,
# then prints a pass/fail summary. Exit status 0 only if every suite passed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}

./scripts/install-deps.sh || { echo "install-deps failed"; exit 1; }
export PATH="$ROOT/.tools/bin:$PATH"

declare -a NAMES=() RESULTS=() TIMES=()
run_suite() {
  local name=$1; shift
  local start=$SECONDS
  echo "=== $name: $*"
  if "$@"; then RESULTS+=("PASS"); else RESULTS+=("FAIL"); fi
  NAMES+=("$name"); TIMES+=($((SECONDS - start)))
}

run_suite "build" bash -c "cmake -S . -B '$BUILD_DIR' -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build '$BUILD_DIR' -j$JOBS"
run_suite "buf lint" .tools/node_modules/.bin/buf lint
if [ "${RESULTS[0]}" = PASS ]; then
  run_suite "ctest" ctest --test-dir "$BUILD_DIR" -j"$JOBS" --output-on-failure --timeout 600
  run_suite "python e2e" ./scripts/pytest.sh tests/e2e tests/render
  run_suite "bench quick (smoke, no thresholds)" env BENCH_SKIP_DEPS=1 HERALDD="$ROOT/$BUILD_DIR/server/heraldd" JOBS="$JOBS" tests/bench/run.sh --quick
  run_suite "bazel" env HERALD_BUILD_DIR="$ROOT/$BUILD_DIR" tests/bazel/run.sh
  run_suite "crash test (short)" env BUILD_DIR="$BUILD_DIR" ./scripts/crash-test.sh --kills 5 --seconds 30
  run_suite "asan+ubsan unit tests" ./scripts/asan-test.sh
  run_suite "fuzz smoke (30 s per target)" ./scripts/fuzz.sh --seconds 30
  # Each SDK brings its own suite (installs its toolchain deps, runs against
  # a heraldd it starts from $BUILD_DIR).
  for lang in python go typescript; do
    if [ -x "sdk/$lang/test.sh" ]; then
      run_suite "sdk $lang" env HERALD_BUILD_DIR="$ROOT/$BUILD_DIR" "sdk/$lang/test.sh"
    fi
  done
  if ls sdk/*/generate.sh >/dev/null 2>&1; then
    run_suite "sdk generation drift" ./scripts/gen-sdk.sh --check
  fi
fi

echo
echo "================ herald test summary ================"
failed=0
for i in "${!NAMES[@]}"; do
  printf '%-24s %-5s %5ss\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${TIMES[$i]}"
  [ "${RESULTS[$i]}" = PASS ] || failed=1
done
echo "====================================================="
if [ $failed = 0 ]; then echo "ALL PASSED"; else echo "SOME SUITES FAILED"; fi
exit $failed
