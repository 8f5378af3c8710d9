#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for tests and benchmarks: Debian's `postgresql`
# binaries, `initdb` into a temp directory, `pg_ctl` on a loopback port, trust auth for a
# role `erpbridge`. Idempotent: when the cluster is already running it just prints its URL.
#
#   scripts/postgres/start.sh               # prints DATABASE_URL=postgres://...
#   eval "$(scripts/postgres/start.sh --print-env)"   # exports DATABASE_URL and ERPBRIDGE_TEST_PG_URL
#
# Environment: ERPBRIDGE_PG_DIR (state directory, default /tmp/erpbridge-pg-<uid>),
# ERPBRIDGE_PG_PORT (default 55432). Stop it with scripts/postgres/stop.sh.
#
# PostgreSQL refuses to run as root, so under root the cluster belongs to the `postgres`
# system user (created by the Debian package; created here if missing).
set -euo pipefail

print_env=0
for arg in "$@"; do
  case "$arg" in
    --print-env) print_env=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "start.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

dir="${ERPBRIDGE_PG_DIR:-${TMPDIR:-/tmp}/erpbridge-pg-$(id -u)}"
port="${ERPBRIDGE_PG_PORT:-55432}"
role=erpbridge
log() { echo "postgres: $*" >&2; }

find_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

bin="$(find_bin)"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "PostgreSQL is not installed and I am not root: run 'sudo apt-get install -y postgresql'"
    exit 1
  fi
  log "installing Debian package postgresql"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >&2 \
    || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >&2; }
  bin="$(find_bin)"
  [ -n "$bin" ] || { log "postgresql installed but no /usr/lib/postgresql/*/bin found"; exit 1; }
fi

# Run a PostgreSQL binary as the cluster owner.
if [ "$(id -u)" -eq 0 ]; then
  owner=postgres
  if ! id -u "$owner" >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin "$owner"
  fi
  as_owner() { runuser -u "$owner" -- "$@"; }
else
  owner="$(id -un)"
  as_owner() { "$@"; }
fi

url="postgres://${role}@127.0.0.1:${port}/postgres"
emit() {
  if [ "$print_env" -eq 1 ]; then
    echo "export DATABASE_URL='$url'"
    echo "export ERPBRIDGE_TEST_PG_URL='$url'"
  else
    echo "DATABASE_URL=$url"
  fi
}

mkdir -p "$dir"
chown "$owner" "$dir" 2>/dev/null || true
chmod 700 "$dir"
data="$dir/data"

if [ -f "$data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  emit
  exit 0
fi

if [ ! -f "$data/PG_VERSION" ]; then
  log "initdb in $data"
  as_owner "$bin/initdb" -D "$data" -U "$role" --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
fi

log "starting on 127.0.0.1:$port (log: $dir/server.log)"
# Generous connection limit: tests open several pools at once. The unix socket lives in
# the state directory so nothing needs /var/run/postgresql.
as_owner "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=128MB" \
  start >&2 || { tail -n 30 "$dir/server.log" >&2; exit 1; }
emit
