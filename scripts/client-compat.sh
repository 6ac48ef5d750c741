#!/usr/bin/env bash
# Compatibility test with the real client libraries: installs the pinned clients of every rerank dialect
# (tools/client_compat_requirements.txt) from PyPI into a throwaway virtual environment, starts
# `lychee-rerank serve` on the tiny fixture checkpoint on a free loopback port, checks with
# tools/client_compat.py that each client gets the server's own order and scores (and cohere 7.x, which
# the other clients do not allow yet, in a second throwaway folder), then runs schemathesis with every
# check against the OpenAPI document for a bounded time.
# Usage: scripts/client-compat.sh [BIN]   (default: the debug build, built if missing)
# Environment: SCHEMATHESIS_MAX_TIME (seconds, default 120), SCHEMATHESIS_MAX_EXAMPLES (default 40).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-}"
if [ -z "$bin" ]; then
  swift build --product lychee-rerank >&2
  bin="$(swift build --show-bin-path)/lychee-rerank"
fi
work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "client-compat: installing the pinned clients into a throwaway virtual environment" >&2
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check -r tools/client_compat_requirements.txt >&2
"$work/venv/bin/pip" install -q --disable-pip-version-check --target "$work/cohere7" 'cohere==7.3.1' >&2

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$bin" serve --model Fixtures/checkpoints/tiny-untied-legacy --host 127.0.0.1 --port "$port" \
  >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do
  curl -fs --max-time 5 "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; echo "server exited before it was ready" >&2; exit 1; }
  sleep 0.2
done
base="http://127.0.0.1:$port"

status=0
timeout 300 "$work/venv/bin/python" tools/client_compat.py "$base" || status=1
PYTHONPATH="$work/cohere7" timeout 120 "$work/venv/bin/python" tools/client_compat.py "$base" --only cohere || status=1

echo "client-compat: schemathesis --checks all" >&2
# Run from the throwaway folder: schemathesis keeps its example cache in the working directory.
repo="$PWD"
(cd "$work" && SCHEMATHESIS_HOOKS=tools.schemathesis_hooks PYTHONPATH="$repo" timeout 600 "$work/venv/bin/schemathesis" run \
  "$base/openapi.json" --checks all --workers 1 --seed 1 \
  --max-time "${SCHEMATHESIS_MAX_TIME:-120}" --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-40}" \
  --request-timeout 60 --no-color) || status=1
if [ "$status" -ne 0 ]; then tail -n 50 "$work/server.log" >&2; fi
exit "$status"
