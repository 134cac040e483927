#!/usr/bin/env bash
# libFuzzer targets under ASan + UBSan (clang): event validation + rendering,
# the JSON writer, policy validation + address normalisation + globs, and
# configuration parsing. Builds them in $BUILD_FUZZ (default build-fuzz),
# then runs each for N seconds and prints executions and findings.
#
#   scripts/fuzz.sh [--seconds N] [target ...]     (default 600 s each)
#
# Targets run $JOBS (default 2) at a time. `make test` runs a 30-second
# smoke of each. Corpora grow in $BUILD_FUZZ/corpus/<target> between runs
# (seeded from tests/fuzz/corpus and, for fuzz_event, the events of
# tests/vectors/cases); a crash leaves its input in
# $BUILD_FUZZ/artifacts/<target>/ and fails the script.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_FUZZ=${BUILD_FUZZ:-build-fuzz}
SECS=600
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECS=$2; shift 2 ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
((${#TARGETS[@]})) || TARGETS=(fuzz_event fuzz_json_writer fuzz_policy fuzz_config)

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found (scripts/install-deps.sh installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi
if [ ! -f "$BUILD_FUZZ/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_FUZZ" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHERALD_FUZZ=ON -DHERALD_BUILD_TESTS=OFF \
    >/dev/null || exit 1
fi
cmake --build "$BUILD_FUZZ" -j"${JOBS:-2}" --target "${TARGETS[@]}" || exit 1

# Seeds: the events of the golden vectors, in the proto3 JSON mapping.
SEEDS="$BUILD_FUZZ/seeds"
mkdir -p "$SEEDS/fuzz_event"
python3 - "$ROOT/tests/vectors/cases" "$SEEDS/fuzz_event" <<'PY'
import json, pathlib, sys
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for case in sorted(src.glob("*.case.json")):
    event = json.loads(case.read_text())["event"]
    (dst / case.name.replace(".case.json", ".json")).write_text(json.dumps(event))
PY

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Runs one target; leaves its summary line in $BUILD_FUZZ/<target>.summary
# and exits non-zero on a finding.
run_target() {
  local t=$1
  local corpus="$BUILD_FUZZ/corpus/$t" artifacts="$BUILD_FUZZ/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  local dirs=("$corpus")
  [ -d "tests/fuzz/corpus/$t" ] && dirs+=("tests/fuzz/corpus/$t")
  [ -d "$SEEDS/$t" ] && dirs+=("$SEEDS/$t")
  local log="$BUILD_FUZZ/$t.log"
  "$BUILD_FUZZ/tests/fuzz/$t" -max_total_time="$SECS" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dirs[@]}" >"$log" 2>&1
  local rc=$?
  local execs cov size
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  size=$(ls "$corpus" | wc -l)
  if [ $rc -ne 0 ]; then
    printf '%-18s FAIL  execs=%s  see %s\n' "$t" "${execs:-?}" "$log" >"$BUILD_FUZZ/$t.summary"
    { echo "=== $t FAILED ($rc); log: $log"; tail -40 "$log"; } >&2
    return 1
  fi
  printf '%-18s ok    execs=%-10s cov=%-6s corpus=%s\n' "$t" "${execs:-?}" "${cov:-?}" "$size" >"$BUILD_FUZZ/$t.summary"
}

# Each fuzzer is single-threaded: run as many at once as there are jobs.
failed=0
running=0
for t in "${TARGETS[@]}"; do
  echo "=== $t: ${SECS}s"
  run_target "$t" &
  running=$((running + 1))
  if [ "$running" -ge "${JOBS:-2}" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
echo
echo "fuzz summary (${SECS}s each):"
for t in "${TARGETS[@]}"; do
  printf '  %s' "$(cat "$BUILD_FUZZ/$t.summary" 2>/dev/null || echo "$t: no result")"
  echo
done
exit $failed
