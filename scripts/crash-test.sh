#!/usr/bin/env bash
# Crash test: heraldd under a publish-and-deliver load, killed with SIGKILL
# at random moments and restarted on the same data directory each time; then
# every acknowledged (event, target) must have been delivered at least once.
#
#   scripts/crash-test.sh [--kills N] [--seconds S] [--rate R] [--seed X] [--report FILE]
#                         [--store sqlite|postgres] [--replicas N] [--lease D]
#
# Defaults: one heraldd on SQLite, 20 kills over 60 s at 400 events/s (the
# full run recorded in docs/reliability.md). `make test` runs --kills 5
# --seconds 30. With --store postgres the script starts a throw-away
# PostgreSQL (scripts/postgres-test-cluster.sh, stopped at the end) and
# --replicas heraldd on it (default 2); each kill hits a random replica.
# Not in `make test`. --lease is the replicas' delivery_lease (default 5s;
# SQLite runs with heraldd's default, 60 s): how long a dead replica's
# claimed tasks wait, and how long before a kill a duplicate's first copy
# may have arrived to count as in flight at that kill.
# Uses $BUILD_DIR (default build): builds crash_test and heraldd there if
# they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
KILLS=20 SECS=60 RATE=400 SEED=0 REPORT="" STORE=sqlite REPLICAS=2 LEASE=5s
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) KILLS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --report) REPORT=$2; shift 2 ;;
    --store) STORE=$2; shift 2 ;;
    --replicas) REPLICAS=$2; shift 2 ;;
    --lease) LEASE=$2; shift 2 ;;
    -h|--help) sed -n 2,17p "$0"; exit 0 ;;
    *) echo "crash-test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
BIN="$BUILD_DIR/tests/crash/crash_test"
if [ ! -x "$BIN" ] || [ ! -x "$BUILD_DIR/server/heraldd" ]; then
  [ -f "$BUILD_DIR/CMakeCache.txt" ] ||
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" -j"${JOBS:-2}" --target crash_test heraldd
fi
args=(--kills="$KILLS" --seconds="$SECS" --rate="$RATE" --seed="$SEED")
[ -z "$REPORT" ] || args+=(--report="$REPORT")
case "$STORE" in
  sqlite) exec "$BIN" "${args[@]}" ;;
  postgres) ;;
  *) echo "crash-test.sh: --store must be sqlite or postgres" >&2; exit 2 ;;
esac
STATE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/herald-crash-pg.XXXXXX")
STATE=$STATE_DIR/cluster.state
trap 'scripts/postgres-test-cluster.sh stop "$STATE"; rm -rf "$STATE_DIR"' EXIT
# The watchdog stops the cluster even if this script is killed.
scripts/postgres-test-cluster.sh start "$STATE" --owner-pid $$ >/dev/null
# shellcheck disable=SC1090
. "$STATE"
if [ -n "${MISSING:-}" ]; then
  echo "crash-test.sh: $MISSING" >&2
  exit 1
fi
"$BIN" "${args[@]}" --postgres_dsn="$DSN" --replicas="$REPLICAS" \
  --delivery_lease="$LEASE"
