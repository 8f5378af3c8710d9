#!/usr/bin/env bash
# Starts the example Python provider on 127.0.0.1:PORT.
#
#   examples/python-provider/run.sh PORT [--articles N]   # serve (foreground)
#   examples/python-provider/run.sh --prepare-only         # only install the venv
#
# The venv lives in $HOME/.cache/erpbridge-python-provider (reinstalled when
# requirements.txt changes). Stubs are generated from proto/ into a temporary directory
# on every start, so they can never be out of date with the .proto.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${ERPBRIDGE_PYTHON_PROVIDER_CACHE:-$HOME/.cache/erpbridge-python-provider}"
venv="$cache/venv"
python="${PYTHON:-python3}"

prepare() {
  local stamp="$venv/.requirements.sha256"
  local want
  want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  echo "python-provider: installing $here/requirements.txt into $venv" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" > "$stamp"
}

if [ "${1:-}" = "--prepare-only" ]; then
  prepare
  exit 0
fi
if [ $# -lt 1 ]; then
  echo "usage: $0 PORT [--articles N] | --prepare-only" >&2
  exit 2
fi
port="$1"
shift
prepare

stubs="$(mktemp -d "${TMPDIR:-/tmp}/erpbridge-python-provider-stubs.XXXXXX")"
trap 'rm -rf "$stubs"' EXIT
"$venv/bin/python" -m grpc_tools.protoc -I "$repo/proto" \
  --python_out="$stubs" --grpc_python_out="$stubs" \
  "$repo/proto/erpbridge/provider/v1/provider.proto"

# Not exec: the trap must remove the stubs when the provider stops. The provider exits
# on SIGTERM/SIGINT, which we forward.
"$venv/bin/python" "$here/provider.py" --port "$port" --stubs "$stubs" "$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; rm -rf "$stubs"' EXIT TERM INT
wait "$child"
