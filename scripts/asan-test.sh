#!/usr/bin/env bash
# The C++ unit tests (tests/unit: core, events, rendering, store, config,
# logging, sender, delivery engine) built with AddressSanitizer and
# UndefinedBehaviorSanitizer (g++, -DHERALD_SANITIZE=ON, -O0 -g1 with asserts
# on) in $BUILD_ASAN (default build-asan), run with ctest. Any sanitizer
# report fails the test that triggered it. `make test` runs this.
#
#   scripts/asan-test.sh [ctest args...]      e.g. -R Secret
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_ASAN=${BUILD_ASAN:-build-asan}
JOBS=${JOBS:-2}
if [ ! -f "$BUILD_ASAN/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_ASAN" -G Ninja -DHERALD_SANITIZE=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0 -g1" \
    >/dev/null
fi
start=$SECONDS
cmake --build "$BUILD_ASAN" -j"$JOBS" --target tests/unit/all
echo "asan-test: build took $((SECONDS - start)) s"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The throughput probes measure speed, which means nothing under ASan.
exec ctest --test-dir "$BUILD_ASAN/tests/unit" -j"$JOBS" --output-on-failure \
  --timeout 900 -E '_probe$' "$@"
