#!/usr/bin/env bash
# Soak: heraldd at a steady publish rate with WatchTasks streams and a
# receiver that flaps between 200 and 503; heraldd's RSS, open fds and
# threads are sampled every 10 s and must stay flat.
#
#   scripts/soak.sh [--minutes 30] [--rate 5000] [--watchers 100] [--csv FILE]
#
# Uses $BUILD_DIR (default build); builds soak and heraldd there if missing.
# Not part of `make test` (it runs for half an hour).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
MINUTES=30 RATE=5000 WATCHERS=100 CSV="$BUILD_DIR/soak.csv"
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --watchers) WATCHERS=$2; shift 2 ;;
    --csv) CSV=$2; shift 2 ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
BIN="$BUILD_DIR/tests/crash/soak"
if [ ! -x "$BIN" ] || [ ! -x "$BUILD_DIR/server/heraldd" ]; then
  [ -f "$BUILD_DIR/CMakeCache.txt" ] ||
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" -j"${JOBS:-2}" --target soak heraldd
fi
exec "$BIN" --minutes="$MINUTES" --rate="$RATE" --watchers="$WATCHERS" --csv="$CSV"
