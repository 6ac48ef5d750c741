#!/usr/bin/env bash
# Weights on disk after loading: serves a copy of the tiny fixture on each backend, scores, truncates the shards
# on disk and scores again; prints how many mappings of the shards the server holds after loading and whether it
# survives. Expected: cuda 0 mappings, same answer; cpu mapped (default) dies with SIGBUS; cpu --no-mmap 0
# mappings, same answer.
#   BIN=.build/debug/lychee-rerank scripts/check-weights-on-disk.sh [cuda] [cpu]
# Without BIN it runs from a folder packed like scripts/gpu-build.sh's (lychee-rerank.xz, lib.tar.xz, model/).
set -u
MODEL=${MODEL:-$(cd "$(dirname "$0")/.." && pwd)/Fixtures/checkpoints/tiny-untied-legacy}
WORK=$(mktemp -d)
[ -z "${BIN:-}" ] && cd "$(dirname "$0")" && MODEL=${MODEL_DIR:-$PWD/model}
if [ -z "${BIN:-}" ]; then
  xz -dkf lychee-rerank.xz && chmod +x lychee-rerank && tar xJf lib.tar.xz
  export LD_LIBRARY_PATH=$PWD/lib:${LD_LIBRARY_PATH:-}
  BIN=./lychee-rerank
  ldd $BIN | grep "not found" || echo "ldd: none missing"
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
fi
PORT=${PORT:-7861}
body='{"query":"capital of France","documents":["Paris is the capital of France.","Bananas are yellow."]}'
score() { curl -s -m 20 "127.0.0.1:$PORT/v1/rerank" -H 'content-type: application/json' -d "$body"; }
check() {
  label=$1; shift
  rm -rf "$WORK/m" && cp -r "$MODEL" "$WORK/m"
  $BIN serve --model "$WORK/m" --host 127.0.0.1 --port $PORT "$@" > "$WORK/serve-$label.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 240); do curl -sf "127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.5; done
  before=$(score)
  maps=$(grep -c safetensors /proc/$pid/maps)
  truncate -s 0 "$WORK"/m/*.safetensors
  after=$(score)
  sleep 0.5
  alive=$(kill -0 $pid 2>/dev/null && echo alive || echo dead)
  grep -q "Program crashed" "$WORK/serve-$label.log" && alive=crashed
  same=$([ -n "$before" ] && [ "$before" = "$after" ] && echo yes || echo no)
  echo "$label: shard mappings after load=$maps; after truncation: $alive, same answer: $same"
  echo "  before: $before"
  echo "  after:  $after"
  kill $pid 2>/dev/null; wait $pid 2>/dev/null
  grep -m1 -E "crashed|Bus error" "$WORK/serve-$label.log" | sed 's/^/  log: /'
}
for b in ${@:-cuda cpu}; do
  check "$b" --backend "$b"
  [ "$b" = cpu ] && check "cpu-no-mmap" --backend cpu --no-mmap
done
rm -rf "$WORK"
