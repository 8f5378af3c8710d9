# Shared settings of the Tryton test scripts. Sourced, not run.
# Every knob is an environment variable so CI and the Rust test harness can steer it.
TRYTON_DIR="${ERPBRIDGE_TRYTON_DIR:-$HOME/.cache/erpbridge-tryton}"
TRYTON_ADMIN_PASSWORD="${ERPBRIDGE_TRYTON_ADMIN_PASSWORD:-admin-pass-1}"

now_ms() { date +%s%3N; }
log() { printf '[tryton %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
