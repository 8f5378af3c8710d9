#!/usr/bin/env bash
# Start a Tryton server on a loopback port with its own copy of a seeded database.
#
#   scripts/tryton/start.sh [--run-dir D] [--products N] [--customers M] [--port P]
#                           [--watch-pid PID] [--empty]
#
# Runs setup.sh (fast when warm), makes sure a seeded database for N products and M
# customers is cached (seeding it once through seed.py when it is not), copies that
# pristine file into the run dir and starts `trytond` there. Each run dir is one server
# with its own database, so concurrent test processes never see each other's writes.
#
# Output: the server URL on stdout (e.g. http://127.0.0.1:41234/). Files in the run dir:
#   pid, port, url, database (the name: erp), seed.json (the seed summary), server.log
# --watch-pid PID: stop the server when process PID exits (test harnesses that cannot
#   run a destructor, e.g. a process-wide server shared by one test binary).
#   With --watch-pid, the watchdog also removes the run dir once the server is gone.
# --keep-db: serve the database already in the run dir (a restart keeps its data).
# --empty: serve the unseeded base database (used by the seeding itself).
# --prepare-only: install and seed (cached) but start nothing; CI runs this once before
#   the tests so that parallel test processes only copy a file.
# Concurrent calls are safe: installing and seeding run under a lock file.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$HERE/common.sh"

RUN_DIR="" PRODUCTS="${ERPBRIDGE_TRYTON_PRODUCTS:-200}" CUSTOMERS="${ERPBRIDGE_TRYTON_CUSTOMERS:-20}"
PORT="${ERPBRIDGE_TRYTON_PORT:-0}" WATCH_PID="" EMPTY=0 PREPARE_ONLY=0 KEEP_DB=0
while [ $# -gt 0 ]; do
    case "$1" in
        --run-dir) RUN_DIR="$2"; shift 2 ;;
        --products) PRODUCTS="$2"; shift 2 ;;
        --customers) CUSTOMERS="$2"; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        --watch-pid) WATCH_PID="$2"; shift 2 ;;
        --empty) EMPTY=1; shift ;;
        --prepare-only) PREPARE_ONLY=1; shift ;;
        --keep-db) KEEP_DB=1; shift ;;
        *) die "unknown argument $1" ;;
    esac
done
RUN_DIR="${RUN_DIR:-$TRYTON_DIR/run}"
T0=$(now_ms)

mkdir -p "$TRYTON_DIR"
# One installer/seeder at a time (parallel test processes all call this script). The
# nested call that serves the database being seeded already runs under our lock.
if [ -z "${ERPBRIDGE_TRYTON_LOCK_HELD:-}" ]; then
    exec 9>"$TRYTON_DIR/.lock"
    flock 9
    export ERPBRIDGE_TRYTON_LOCK_HELD=1
fi
"$HERE/setup.sh" "$TRYTON_DIR" >&2
VENV="$TRYTON_DIR/venv"
DB_NAME=erp

if [ -f "$RUN_DIR/pid" ] && kill -0 "$(cat "$RUN_DIR/pid")" 2>/dev/null; then
    die "a server is already running for $RUN_DIR (pid $(cat "$RUN_DIR/pid")); run stop.sh first"
fi

# --- the database to serve ---------------------------------------------------------------
if [ "$EMPTY" = 1 ]; then
    SOURCE="$TRYTON_DIR/db/base.sqlite"
else
    SOURCE="$TRYTON_DIR/db/seeded-p$PRODUCTS-c$CUSTOMERS.sqlite"
    SEED_STAMP="$(cat "$TRYTON_DIR/db/base.sqlite.stamp"):$(sha256sum "$HERE/seed.py" | cut -c1-16)"
    if [ ! -s "$SOURCE" ] || [ "$(cat "$SOURCE.stamp" 2>/dev/null)" != "$SEED_STAMP" ]; then
        # Seed once on a scratch server, then keep the result as a pristine file.
        T1=$(now_ms)
        log "no cached seed for $PRODUCTS products / $CUSTOMERS customers: seeding"
        SEED_RUN="$TRYTON_DIR/seed-run.$$"
        rm -rf "$SEED_RUN"
        SEED_URL="$("$0" --run-dir "$SEED_RUN" --empty --watch-pid $$)"
        if ! "$VENV/bin/python" "$HERE/seed.py" --url "$SEED_URL" --database "$DB_NAME" \
            --password "$TRYTON_ADMIN_PASSWORD" --products "$PRODUCTS" --customers "$CUSTOMERS" \
            >"$SEED_RUN/seed.json"; then
            "$HERE/stop.sh" --run-dir "$SEED_RUN" >&2 || true
            die "seeding failed (server log: $SEED_RUN/server.log)"
        fi
        "$HERE/stop.sh" --run-dir "$SEED_RUN" >&2
        # The backup API folds the write-ahead log in; a plain cp of the main file could
        # miss the last transactions.
        rm -f "$SOURCE.tmp"
        "$VENV/bin/python" -c 'import sqlite3, sys; s = sqlite3.connect(sys.argv[1]); d = sqlite3.connect(sys.argv[2]); s.backup(d); d.close(); s.close()' \
            "$SEED_RUN/db/$DB_NAME.sqlite" "$SOURCE.tmp"
        cp "$SEED_RUN/seed.json" "$SOURCE.json"
        mv "$SOURCE.tmp" "$SOURCE"
        echo "$SEED_STAMP" >"$SOURCE.stamp"
        rm -rf "$SEED_RUN"
        log "seeded and cached $SOURCE in $(( $(now_ms) - T1 )) ms"
    fi
fi

# Installing and seeding are done: let other callers in.
exec 9>&-
unset ERPBRIDGE_TRYTON_LOCK_HELD
if [ "$PREPARE_ONLY" = 1 ]; then
    log "prepared in $(( $(now_ms) - T0 )) ms (seeded database $SOURCE)"
    exit 0
fi

mkdir -p "$RUN_DIR/db"
RUN_DIR="$(cd "$RUN_DIR" && pwd)"
rm -f "$RUN_DIR/pid" "$RUN_DIR/port" "$RUN_DIR/url"
if [ "$KEEP_DB" = 1 ] && [ -s "$RUN_DIR/db/$DB_NAME.sqlite" ]; then
    log "keeping the database in $RUN_DIR"
else
    # A stale write-ahead log next to a fresh copy would be replayed into it: drop both.
    rm -f "$RUN_DIR/db/$DB_NAME.sqlite-wal" "$RUN_DIR/db/$DB_NAME.sqlite-shm"
    cp "$SOURCE" "$RUN_DIR/db/$DB_NAME.sqlite"
    if [ -f "$SOURCE.json" ]; then cp "$SOURCE.json" "$RUN_DIR/seed.json"; fi
fi

if [ "$PORT" = 0 ]; then
    PORT="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
fi
# Later -c files win: the run's own file only moves the database path and the port.
cat >"$RUN_DIR/run.conf" <<CONF
[database]
path = $RUN_DIR/db

[web]
listen = 127.0.0.1:$PORT
CONF

# `-d erp` preloads the pool: trytond 8.2.1 fails every call with "'res.user'" otherwise.
# setsid + no inherited stdio: the caller (a test harness) must not wait on our pipes.
setsid "$VENV/bin/trytond" -c "$TRYTON_DIR/trytond.conf" -c "$RUN_DIR/run.conf" -d "$DB_NAME" \
    </dev/null >"$RUN_DIR/server.log" 2>&1 &
SERVER_PID=$!
echo "$SERVER_PID" >"$RUN_DIR/pid"

if [ -n "$WATCH_PID" ]; then
    # A watchdog, detached like the server: it ends the server when the watched process ends.
    # It watches the pid file rather than one pid, so a restart with --keep-db is
    # watched too; the run dir goes once the watched process is gone.
    setsid bash -c '
        while kill -0 "$1" 2>/dev/null; do sleep 1; done
        pid="$(cat "$2/pid" 2>/dev/null)"
        if [ -n "$pid" ]; then
            kill "$pid" 2>/dev/null
            for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null
        fi
        case "$2" in */erpbridge-tryton-it-*) rm -rf "$2" ;; esac' \
        watchdog "$WATCH_PID" "$RUN_DIR" </dev/null >/dev/null 2>&1 &
fi

URL="http://127.0.0.1:$PORT/"
# Poll with the venv's Python (no curl needed) until the server answers or dies.
if "$VENV/bin/python" - "$URL" "$SERVER_PID" <<'PY'
import json, os, sys, time, urllib.request
url, pid = sys.argv[1] + "rpc/", int(sys.argv[2])
body = json.dumps({"id": 1, "method": "common.server.version", "params": []}).encode()
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(2)
    try:
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=2) as r:
            if b"result" in r.read():
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
sys.exit(1)
PY
then
    echo "$PORT" >"$RUN_DIR/port"
    echo "$URL" >"$RUN_DIR/url"
    echo "$DB_NAME" >"$RUN_DIR/database"
    log "server pid $SERVER_PID up at $URL (database $DB_NAME) in $(( $(now_ms) - T0 )) ms"
    echo "$URL"
    exit 0
fi
tail -20 "$RUN_DIR/server.log" >&2
kill "$SERVER_PID" 2>/dev/null || true
die "trytond did not answer common.server.version within 120 s, or exited (log: $RUN_DIR/server.log)"
