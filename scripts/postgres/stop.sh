#!/usr/bin/env bash
# Stops the throwaway cluster scripts/postgres/start.sh started. `--purge` also deletes
# its data directory.
set -euo pipefail
dir="${ERPBRIDGE_PG_DIR:-${TMPDIR:-/tmp}/erpbridge-pg-$(id -u)}"
purge=0
[ "${1:-}" = "--purge" ] && purge=1
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2
  else
    "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2
  fi
fi
if [ "$purge" -eq 1 ]; then
  rm -rf "$dir"
fi
