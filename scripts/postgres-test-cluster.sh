#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for herald's tests: initdb into a fresh
# directory under $TMPDIR, listening on 127.0.0.1 and a free port only
# (trust authentication, never reachable from elsewhere), fsync off.
#
#   postgres-test-cluster.sh start STATE [--owner-pid PID]
#       Starts a cluster and writes STATE (shell assignments: DIR, PORT,
#       BINDIR, DSN). Prints the DSN. With --owner-pid, a watchdog stops
#       the cluster when that process is gone (even after kill -9);
#       "parent" means the caller (e.g. ctest).
#       When the PostgreSQL server binaries are not installed, writes
#       MISSING="<why>" to STATE and exits 0, so tests can skip.
#   postgres-test-cluster.sh stop STATE     stops it, removes DIR and STATE
#   postgres-test-cluster.sh pause STATE    stops the server, keeps the data
#   postgres-test-cluster.sh resume STATE   starts it again on the same port
#   postgres-test-cluster.sh bindir         prints the binaries' directory
#
# initdb refuses to run as root: as root, the server runs as the postgres
# user (created by Debian's postgresql packages). Environment:
# HERALD_PG_BINDIR overrides where initdb and pg_ctl are looked for;
# HERALD_PG_FSYNC=on keeps fsync (benchmarks); HERALD_PG_EXTRA_OPTIONS adds
# server options ("-c shared_preload_libraries=pg_stat_statements").
set -euo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

die() { echo "postgres-test-cluster: $*" >&2; exit 1; }

find_bindir() {
  local d
  for d in ${HERALD_PG_BINDIR:-} $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV) \
           /usr/local/pgsql/bin /usr/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

# Runs a command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

server_options() {
  local fsync=off
  [ "${HERALD_PG_FSYNC:-off}" = on ] && fsync=on
  echo "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=$fsync" \
       "-c full_page_writes=$fsync -c max_connections=400" \
       "-c shared_buffers=128MB -c max_locks_per_transaction=256" \
       "${HERALD_PG_EXTRA_OPTIONS:-}"
}

start_server() {
  as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 \
    -o "$(server_options)" start >/dev/null
}

cmd=${1:-}
case "$cmd" in
  bindir)
    find_bindir || die "PostgreSQL server binaries (initdb, pg_ctl) not found"
    ;;
  start)
    STATE=${2:?usage: start STATE [--owner-pid PID]}
    OWNER_PID=""
    if [ "${3:-}" = --owner-pid ]; then OWNER_PID=${4:?--owner-pid needs a pid}; fi
    [ "$OWNER_PID" = parent ] && OWNER_PID=$PPID
    # A cluster left behind by an interrupted run under the same state.
    [ -f "$STATE" ] && "$SELF" stop "$STATE"
    if ! BINDIR=$(find_bindir); then
      echo "MISSING='PostgreSQL server binaries (initdb, pg_ctl) are not installed: run scripts/install-deps.sh (postgresql-15)'" >"$STATE"
      echo "postgres-test-cluster: PostgreSQL binaries missing; tests will skip" >&2
      exit 0
    fi
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
      die "running as root but there is no postgres user to run the server"
    fi
    DIR=$(mktemp -d "${TMPDIR:-/tmp}/herald-pg-XXXXXX")
    chmod 755 "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    as_owner "$BINDIR/initdb" -D "$DIR/data" -A trust -U postgres -E UTF8 \
      --locale=C --no-sync >"$DIR/initdb.log" 2>&1 ||
      { cat "$DIR/initdb.log" >&2; rm -rf "$DIR"; die "initdb failed"; }
    started=""
    for _ in $(seq 1 20); do
      PORT=$((20000 + RANDOM % 40000))
      port_free "$PORT" || continue
      if start_server 2>/dev/null; then started=1; break; fi
    done
    if [ -z "$started" ]; then
      cat "$DIR/log" >&2 || true
      rm -rf "$DIR"
      die "the server did not start"
    fi
    DSN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
    {
      echo "DIR='$DIR'"
      echo "PORT=$PORT"
      echo "BINDIR='$BINDIR'"
      echo "DSN='$DSN'"
    } >"$STATE"
    if [ -n "$OWNER_PID" ]; then
      # Stops the cluster once the owner is gone; detached from every
      # descriptor so that nobody waits for it.
      setsid bash -c '
        while kill -0 "$1" 2>/dev/null && [ -f "$2" ]; do sleep 1; done
        [ -f "$2" ] && "$3" stop "$2"' watchdog "$OWNER_PID" "$STATE" "$SELF" \
        </dev/null >/dev/null 2>&1 &
    fi
    echo "$DSN"
    ;;
  stop | pause | resume)
    STATE=${2:?usage: $cmd STATE}
    [ -f "$STATE" ] || exit 0
    # shellcheck disable=SC1090
    . "$STATE"
    [ -n "${MISSING:-}" ] && { [ "$cmd" = stop ] && rm -f "$STATE"; exit 0; }
    case "$cmd" in
      stop)
        as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$DIR"
        rm -f "$STATE"
        ;;
      pause)
        as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
        ;;
      resume)
        start_server
        ;;
    esac
    ;;
  *)
    die "usage: $0 start STATE [--owner-pid PID] | stop STATE | pause STATE | resume STATE | bindir"
    ;;
esac
