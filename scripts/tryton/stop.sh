#!/usr/bin/env bash
# Stop the server that start.sh started for a run dir.
#   scripts/tryton/stop.sh [--run-dir D] [--clean]
# --clean also removes the run dir (its database copy and logs).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$HERE/common.sh"

RUN_DIR="" CLEAN=0
while [ $# -gt 0 ]; do
    case "$1" in
        --run-dir) RUN_DIR="$2"; shift 2 ;;
        --clean) CLEAN=1; shift ;;
        *) die "unknown argument $1" ;;
    esac
done
RUN_DIR="${RUN_DIR:-$TRYTON_DIR/run}"
T0=$(now_ms)

if [ -f "$RUN_DIR/pid" ]; then
    PID="$(cat "$RUN_DIR/pid")"
    if kill -0 "$PID" 2>/dev/null; then
        kill "$PID"
        for _ in $(seq 1 100); do
            kill -0 "$PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$PID" 2>/dev/null; then
            log "server $PID ignored SIGTERM for 10 s; sending SIGKILL"
            kill -9 "$PID" 2>/dev/null || true
        fi
        log "server $PID stopped in $(( $(now_ms) - T0 )) ms"
    else
        log "server $PID was not running"
    fi
    rm -f "$RUN_DIR/pid" "$RUN_DIR/url" "$RUN_DIR/port"
else
    log "no pid file in $RUN_DIR: nothing to stop"
fi
if [ "$CLEAN" = 1 ]; then rm -rf "$RUN_DIR"; fi
