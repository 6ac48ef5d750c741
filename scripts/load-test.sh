#!/usr/bin/env bash
# Load test on loopback with wrk: starts `lychee-rerank serve` (release build) on a model (default: the
# tiny fixture checkpoint), then for each concurrency level (default 1 8 64) posts the same 8-document
# /v1/rerank request for DURATION seconds and prints requests/s, documents/s and latency. Fails if any
# request errs (socket errors or non-2xx answers).
# Usage: scripts/load-test.sh [--model DIR] [--duration S] [--clients "1 8 64"] [--bin PATH]
# Timings are noisy on a shared machine: run it on an idle one.
set -euo pipefail
cd "$(dirname "$0")/.."
model=Fixtures/checkpoints/tiny-untied-legacy; duration=10; clients="1 8 64"; bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2"; shift 2;; --duration) duration="$2"; shift 2;;
    --clients) clients="$2"; shift 2;; --bin) bin="$2"; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
command -v wrk >/dev/null || { echo "wrk not found: run scripts/install-deps.sh (Debian package wrk)" >&2; exit 1; }
if [ -z "$bin" ]; then
  swift build -c release --product lychee-rerank >&2
  bin="$(swift build -c release --show-bin-path)/lychee-rerank"
fi
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$bin" serve --model "$model" --port "$port" --max-concurrent 64 --log-level warning >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do
  curl -fs --max-time 5 "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.2
done
documents=8
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query": "how do rerankers score documents", "documents": ["A reranker scores each document against the query.", "Bicycles have two wheels.", "Cross-encoders read the query and the document together.", "The weather is sunny today.", "Vision-language models read images and text.", "Soup is best served hot.", "Lychee is a fruit and a reranker.", "Ranking puts the most relevant first."]}'
done = function(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d errors=%d rps=%.2f p50_ms=%.1f p99_ms=%.1f\n",
    summary.requests, bad, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
printf "%8s %10s %12s %10s %10s %8s\n" clients "req/s" "docs/s" "p50 ms" "p99 ms" errors
failed=0
for c in $clients; do
  threads=$(( c < 2 ? 1 : 2 ))
  line="$(wrk -t"$threads" -c"$c" -d"${duration}s" --timeout 60s -s "$work/post.lua" "http://127.0.0.1:$port/v1/rerank" | grep '^RESULT')"
  eval "$(echo "$line" | sed 's/^RESULT //')"
  printf "%8s %10s %12.1f %10s %10s %8s\n" "$c" "$rps" "$(awk "BEGIN { print $rps * $documents }")" "$p50_ms" "$p99_ms" "$errors"
  [ "$errors" -eq 0 ] || failed=1
done
[ $failed -eq 0 ] || { echo "load test FAILED: some requests erred" >&2; exit 1; }
echo "load test passed: zero errors"
