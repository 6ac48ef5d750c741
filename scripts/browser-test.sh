#!/usr/bin/env bash
# Headless-browser test of the web page: starts `lychee-rerank serve` on the tiny fixture checkpoint,
# drives Chromium through tools/browser_test.py, and checks the page shows the API's scores.
# Usage: scripts/browser-test.sh [BIN]   (default: the debug build, built if missing)
# Screenshots land in .build/browser-test/{desktop,phone}.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-}"
if [ -z "$bin" ]; then
  swift build --product lychee-rerank >&2
  bin="$(swift build --show-bin-path)/lychee-rerank"
fi
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
log="$(mktemp)"
"$bin" serve --model Fixtures/checkpoints/tiny-untied-legacy --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 300); do
  curl -fs --max-time 5 "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { cat "$log" >&2; echo "server exited before it was ready" >&2; exit 1; }
  sleep 0.2
done
python3 tools/browser_test.py "http://127.0.0.1:$port" Fixtures/checkpoints/images/photo-c.jpg .build/browser-test
