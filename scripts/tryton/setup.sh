#!/usr/bin/env bash
# Install Tryton 8.2 into a cached venv and create an empty, module-activated SQLite
# database (no company, products or customers yet: seed.py does that).
#
#   scripts/tryton/setup.sh [DIR]
#
# DIR (default $ERPBRIDGE_TRYTON_DIR, else $HOME/.cache/erpbridge-tryton) holds:
#   venv/                     the Python venv (reused when its pins match)
#   db/base.sqlite            the database after trytond-admin, before seeding
#   trytond.conf, passfile    server config and admin password
# Idempotent and fast when warm: every step is skipped when its output is already there
# and up to date. Exit status is non-zero on any failure, with the reason on stderr.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$HERE/common.sh"

DIR="${1:-$TRYTON_DIR}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
VENV="$DIR/venv"
T0=$(now_ms)

# --- Python and venv -------------------------------------------------------------------
PY="${ERPBRIDGE_TRYTON_PYTHON:-}"
if [ -z "$PY" ]; then
    for cand in python3.11 python3 /usr/bin/python3; do
        if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; assert sys.version_info >= (3, 9)' 2>/dev/null; then
            PY="$(command -v "$cand")"
            break
        fi
    done
fi
[ -n "$PY" ] || die "no python3 >= 3.9 found (install Debian python3 python3-venv)"
"$PY" -c 'import sys; assert sys.version_info >= (3, 9)' 2>/dev/null \
    || die "$PY is not a working python3 >= 3.9"

# The pins are part of the venv's identity: change them and the venv is rebuilt.
PINS=(
    "trytond==8.2.1"
    "trytond-stock==8.2.1"
    "trytond-account==8.2.1"
    "trytond-product==8.2.0"
    "trytond-party==8.2.0"
    "trytond-company==8.2.0"
    "trytond-sale==8.2.0"
    "trytond-product-price-list==8.2.0"
    "trytond-sale-price-list==8.2.0"
    "Werkzeug==3.1.9"
)
STAMP="$(printf '%s\n' "${PINS[@]}" | sha256sum | cut -c1-16)"

if [ ! -x "$VENV/bin/trytond" ] || [ "$(cat "$VENV/.erpbridge-pins" 2>/dev/null)" != "$STAMP" ]; then
    log "creating venv $VENV with $PY"
    rm -rf "$VENV"
    if ! "$PY" -m venv "$VENV" 2>"$DIR/venv.err"; then
        # Debian's own python3 needs the python3-venv package for ensurepip.
        if ! "$PY" -c 'import ensurepip' 2>/dev/null && command -v apt-get >/dev/null 2>&1 \
            && [ "$(id -u)" = 0 ]; then
            log "python venv failed; installing Debian python3-venv"
            apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            rm -rf "$VENV"
            "$PY" -m venv "$VENV" || die "python3 -m venv failed even after installing python3-venv"
        else
            cat "$DIR/venv.err" >&2
            die "python3 -m venv failed (install python3-venv)"
        fi
    fi
    log "pip install ${PINS[*]}"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}" \
        || die "pip install of trytond failed"
    echo "$STAMP" >"$VENV/.erpbridge-pins"
    log "venv ready in $(( $(now_ms) - T0 )) ms"
else
    log "venv reused ($VENV)"
fi

# --- config and database ---------------------------------------------------------------
mkdir -p "$DIR/db"
printf '%s\n' "$TRYTON_ADMIN_PASSWORD" >"$DIR/passfile"
cat >"$DIR/trytond.conf" <<CONF
[database]
uri = sqlite://
path = $DIR/db

[session]
# Tests pause between calls; the default 300 s of inactivity would log them out.
timeout = 86400
max_attempt = 5

[password]
length = 8
CONF

MODULES="product,party,company,stock,sale,product_price_list,sale_price_list"
IFS=, read -r -a MODULE_LIST <<<"$MODULES"
BASE="$DIR/db/base.sqlite"
BASE_STAMP="$STAMP:$MODULES"
if [ ! -s "$BASE" ] || [ "$(cat "$BASE.stamp" 2>/dev/null)" != "$BASE_STAMP" ]; then
    T1=$(now_ms)
    log "creating database base.sqlite with modules $MODULES"
    rm -f "$BASE" "$BASE.stamp"
    # trytond's SQLite backend refuses a database file that does not exist yet.
    touch "$BASE"
    TRYTONPASSFILE="$DIR/passfile" "$VENV/bin/trytond-admin" -c "$DIR/trytond.conf" -d base \
        --email admin@example.com -u "${MODULE_LIST[@]}" --activate-dependencies -v \
        >"$DIR/admin.log" 2>&1 \
        || { tail -30 "$DIR/admin.log" >&2; rm -f "$BASE"; die "trytond-admin failed (log: $DIR/admin.log)"; }
    echo "$BASE_STAMP" >"$BASE.stamp"
    log "database ready in $(( $(now_ms) - T1 )) ms"
else
    log "database reused ($BASE)"
fi

log "setup done in $(( $(now_ms) - T0 )) ms (dir $DIR)"
