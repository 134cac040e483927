#!/usr/bin/env bash
# libFuzzer targets under ASan + UBSan (clang): event validation + rendering,
# the JSON writer, policy validation + address normalisation + globs, and
# configuration parsing. Builds them in $BUILD_FUZZ (default build-fuzz),
# then runs each for N seconds and prints executions and findings.
#
#   scripts/fuzz.sh [--seconds N] [target ...]     (default 600 s each)
#
# `make test` runs a 30-second smoke of each. Corpora grow in
# $BUILD_FUZZ/corpus/<target> between runs (seeded from tests/fuzz/corpus
# and, for fuzz_event, the events of tests/vectors/cases); a crash leaves
# its input in $BUILD_FUZZ/artifacts/<target>/ and fails the script.
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
failed=0
summary=()
for t in "${TARGETS[@]}"; do
  corpus="$BUILD_FUZZ/corpus/$t"
  artifacts="$BUILD_FUZZ/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  dirs=("$corpus")
  [ -d "tests/fuzz/corpus/$t" ] && dirs+=("tests/fuzz/corpus/$t")
  [ -d "$SEEDS/$t" ] && dirs+=("$SEEDS/$t")
  log="$BUILD_FUZZ/$t.log"
  echo "=== $t: ${SECS}s"
  "$BUILD_FUZZ/tests/fuzz/$t" -max_total_time="$SECS" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dirs[@]}" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  size=$(ls "$corpus" | wc -l)
  if [ $rc -ne 0 ]; then
    failed=1
    echo "FAILED ($rc); log: $log"; tail -40 "$log"
    summary+=("$(printf '%-18s FAIL  execs=%s  see %s' "$t" "${execs:-?}" "$log")")
  else
    summary+=("$(printf '%-18s ok    execs=%-10s cov=%-6s corpus=%s' "$t" "${execs:-?}" "${cov:-?}" "$size")")
  fi
done
echo
echo "fuzz summary (${SECS}s each):"
printf '  %s\n' "${summary[@]}"
exit $failed
