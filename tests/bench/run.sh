#!/usr/bin/env bash
# herald's benchmark harness (issue 8): builds heraldd (Release) and the bench
# driver into build-bench, runs every workload on 127.0.0.1 next to its
# same-run reference, prints the table and writes
# tests/bench/results/<UTC timestamp>.json (with a description of the machine).
#
#   tests/bench/run.sh                 full run (the sizes of docs/benchmarks.md)
#   tests/bench/run.sh --quick         every workload scaled down (~1 minute)
#   tests/bench/run.sh --workloads=throughput,latency [--throughput_events=N ...]
#
# Environment:
#   BENCH_BUILD_DIR   build directory (default build-bench)
#   HERALDD           use this heraldd binary instead of building one
#   BENCH_COMMIT      the commit that binary was built from (for the results)
#   BENCH_SKIP_DEPS   1: do not run scripts/install-deps.sh
#   JOBS              parallel build jobs (default 2)
# Exit status: 0 when every workload ran (no timing thresholds are checked).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD_DIR=${BENCH_BUILD_DIR:-build-bench}
JOBS=${JOBS:-2}

if [ "${BENCH_SKIP_DEPS:-0}" != 1 ]; then
  ./scripts/install-deps.sh
fi
# wrk (the reference load generator) is not among the project's build deps.
if ! command -v wrk >/dev/null; then
  echo "bench: apt installing wrk"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

cmake -S tests/bench -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
if [ -n "${HERALDD:-}" ]; then
  targets=(herald_bench)
else
  targets=(heraldd herald_bench)
  HERALDD="$ROOT/$BUILD_DIR/herald/server/heraldd"
fi
cmake --build "$BUILD_DIR" -j"$JOBS" --target "${targets[@]}"

mode=full
for arg in "$@"; do [ "$arg" = --quick ] && mode=quick; done
mkdir -p tests/bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
result="tests/bench/results/$stamp.json"
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

status=0
"$BUILD_DIR/herald_bench" --heraldd="$HERALDD" --out="$lines" "$@" || status=$?

python3 tests/bench/report.py --lines "$lines" --out "$result" --mode "$mode" \
  --heraldd "$HERALDD" --started "$started" --load-before "$load_before" \
  --commit "${BENCH_COMMIT:-}" || status=$?
echo "results: $result"
exit $status
