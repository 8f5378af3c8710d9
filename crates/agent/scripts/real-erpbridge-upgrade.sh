#!/usr/bin/env bash
# The agent's happy path with the REAL erpbridge binary, both directions:
#   1. fixture 0.0.9 (running)  -> erpbridge 0.1.0 (`erpbridge serve`, embedded default)
#   2. erpbridge 0.1.0 (running, drained through the hub's real /api/erp/drain with the
#      operator key, in-flight read from its real /api/erp/status) -> fixture 0.2.0
# Uses only the CLI: `erpbridge release keygen`, `erpbridge release publish`,
# `erpbridge agent --config`. Prints the audit log and the timings.
#
# Usage: crates/agent/scripts/real-erpbridge-upgrade.sh [TARGET_DIR]
#   TARGET_DIR holds debug/erpbridge and debug/erpbridge-agent-fixture-service
#   (default: $CARGO_TARGET_DIR or ./target).
set -euo pipefail
TARGET=${1:-${CARGO_TARGET_DIR:-target}}
ERPBRIDGE=$TARGET/debug/erpbridge
FIXTURE=$TARGET/debug/erpbridge-agent-fixture-service
[ -x "$ERPBRIDGE" ] && [ -x "$FIXTURE" ] || { echo "build first: cargo build -p erpbridge -p erpbridge-agent" >&2; exit 2; }

W=$(mktemp -d)
AGENT_PID=
cleanup() {
  [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null || true
  [ -f "$W/state/service.pid" ] && kill -9 "$(cat "$W/state/service.pid")" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(port); STATUS=$(port)
mkdir -p "$W/install" "$W/feed" "$W/art/0.0.9" "$W/art/0.1.0" "$W/art/0.2.0"

fixture() { cp "$FIXTURE" "$2"; printf '\nFIXTURE-TRAILER version=%s mode=ok\n' "$1" >> "$2"; }
fixture 0.0.9 "$W/install/erpbridge"
cp "$ERPBRIDGE" "$W/art/0.1.0/erpbridge"
fixture 0.2.0 "$W/art/0.2.0/erpbridge"

"$ERPBRIDGE" release keygen --out "$W/keys"
echo demo-operator-key > "$W/operator.token"
cat > "$W/agent.toml" <<TOML
state_dir = "state"
[feed]
location = "feed"
public_key = "keys/release.pub"
poll_interval = "1s"
jitter = "0s"
[service]
mode = "process"
binary = "install/erpbridge"
args = ["serve", "--listen", "127.0.0.1:$PORT"]
base_url = "http://127.0.0.1:$PORT"
token_file = "operator.token"
[service.env]
FIXTURE_ADDR = "127.0.0.1:$PORT"
[health]
timeout = "60s"
[status]
listen = "127.0.0.1:$STATUS"
TOML
"$ERPBRIDGE" agent --config "$W/agent.toml" --check

RUST_LOG=warn "$ERPBRIDGE" agent --config "$W/agent.toml" > "$W/agent.log" 2>&1 &
AGENT_PID=$!
wait_version() {
  local t0=$(date +%s%N)
  for _ in $(seq 1 1200); do
    v=$(curl -fsS "http://127.0.0.1:$PORT/version" 2>/dev/null | python3 -c 'import sys,json; print(json.load(sys.stdin)["version"])' 2>/dev/null || true)
    [ "$v" = "$1" ] && { echo "  $1 healthy after $(( ($(date +%s%N)-t0)/1000000 )) ms"; return 0; }
    sleep 0.1
  done
  echo "timed out waiting for $1"; cat "$W/agent.log"; cat "$W/state/audit.jsonl"; exit 1
}
wait_version 0.0.9
echo "publish erpbridge 0.1.0 (the real hub)"
"$ERPBRIDGE" release publish --artifact "$W/art/0.1.0/erpbridge" --version 0.1.0 --key "$W/keys/release.key" --feed "$W/feed" --notes "real hub"
wait_version 0.1.0
curl -fsS "http://127.0.0.1:$PORT/healthz"; echo
# The hub is healthy; give the agent a moment to write the commit and undrain.
sleep 2
echo "publish fixture 0.2.0 (drains the real hub first)"
"$ERPBRIDGE" release publish --artifact "$W/art/0.2.0/erpbridge" --version 0.2.0 --key "$W/keys/release.key" --feed "$W/feed"
wait_version 0.2.0
sleep 1
echo "--- agent status"; curl -fsS "http://127.0.0.1:$STATUS/status"; echo
echo "--- audit log"; cat "$W/state/audit.jsonl"
