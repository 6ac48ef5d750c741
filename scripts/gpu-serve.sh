#!/usr/bin/env bash
# Runs on the GPU machine, from the folder scripts/gpu-build.sh filled: the serving benchmark in one call.
#   1. `bench` on the serving mixes' documents (S1-S3, requests one after another) and on W1-W4: the engine's
#      own figures, to compare the server with;
#   2. `serve` on the same random 7B checkpoint under --gpu-memory-limit-gib, loaded by `bench-serve` with
#      S1-S4 at 1, 8 and 32 clients, while nvidia-smi samples the GPU memory every 200 ms.
# Logs and JSON go to $OUT.  Variables: LIMIT_GIB (15), SECONDS_PER_STEP (12), CLIENTS (1,8,32),
# MIXES (S1,S2,S3,S4), BENCH_WORKLOADS (S1,S2,S3,W1,W2,W3,W4; set but empty skips step 1), SERVE_ARGS (extra serve flags).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/lychee-out}; mkdir -p "$OUT"
CKPT=${CKPT:-/tmp/lychee-7b-random}
LIMIT_GIB=${LIMIT_GIB:-15}; SECONDS_PER_STEP=${SECONDS_PER_STEP:-12}; CLIENTS=${CLIENTS:-1,8,32}
MIXES=${MIXES:-S1,S2,S3,S4}; BENCH_WORKLOADS=${BENCH_WORKLOADS-S1,S2,S3,W1,W2,W3,W4}
cd "$HERE"
# A/B calls put another binary in place of lychee-rerank and carry no lychee-rerank.gz.
[ -f lychee-rerank.gz ] && gunzip -kf lychee-rerank.gz
tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$HERE/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv
if [ ! -f "$CKPT/config.json" ]; then
    echo "== random 7B checkpoint"
    python3 gpu_make_random_7b.py "$CKPT" --tokenizer fixtures/qwen2-tokenizer.json.gz 2>&1 | tail -3 | tee "$OUT/make.log"
fi
if [ -n "$BENCH_WORKLOADS" ]; then
    echo "== bench (offline, one request after another)"
    ./lychee-rerank bench --model "$CKPT" --backend cuda --workload "$BENCH_WORKLOADS" --repeats 3 \
        --gpu-memory-limit-gib "$LIMIT_GIB" --scores-out "$OUT/bench.json" 2>&1 | tee "$OUT/bench.log"
fi
echo "== serve + bench-serve"
PORT=7861
./lychee-rerank serve --model "$CKPT" --backend cuda --port $PORT --gpu-memory-limit-gib "$LIMIT_GIB" \
    --log-level notice ${SERVE_ARGS:-} > "$OUT/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 600); do
    curl -fs --max-time 5 "http://127.0.0.1:$PORT/ready" > /dev/null 2>&1 && break
    kill -0 $SERVER 2>/dev/null || { echo "serve died:"; tail -20 "$OUT/serve.log"; exit 1; }
    sleep 0.5
done
grep -h "model loaded" "$OUT/serve.log" | tail -1
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$OUT/gpu-memory.csv" &
SAMPLER=$!
./lychee-rerank bench-serve --url "http://127.0.0.1:$PORT" --mix "$MIXES" --clients "$CLIENTS" \
    --seconds "$SECONDS_PER_STEP" --json-out "$OUT/serve.json" 2>&1 | tee "$OUT/bench-serve.log"
kill $SAMPLER 2>/dev/null
curl -fs "http://127.0.0.1:$PORT/metrics" > "$OUT/metrics.txt"
kill -TERM $SERVER; wait $SERVER
echo "== summary"
echo "peak GPU memory during the serving run (driver, MiB): $(sort -n "$OUT/gpu-memory.csv" | tail -1) (limit $LIMIT_GIB GiB = $((LIMIT_GIB * 1024)) MiB)"
grep -E '^lychee_(image_cache|prefix_cache|token_budget|batch_tokens_(sum|count)|request_stage_seconds_(sum|count)|engine_call_seconds_(sum|count))' "$OUT/metrics.txt"
python3 - "$OUT" <<'PY'
import json, sys, os
out = sys.argv[1]
bench = json.load(open(os.path.join(out, "bench.json"))) if os.path.exists(os.path.join(out, "bench.json")) else {}
serve = json.load(open(os.path.join(out, "serve.json")))
print(f"{'mix':4} {'clients':>7} {'docs/s':>9} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'bench docs/s':>13} {'share':>6}")
for step in serve:
    offline = bench.get(step["mix"], {}).get("docsPerSecond")
    share = f"{step['documentsPerSecond'] / offline:.2f}" if offline else "-"
    print(f"{step['mix']:4} {step['clients']:7d} {step['documentsPerSecond']:9.1f} {step['requestsPerSecond']:7.2f} "
          f"{step['p50Milliseconds']:8.0f} {step['p95Milliseconds']:8.0f} {step['p99Milliseconds']:8.0f} "
          f"{(f'{offline:.1f}' if offline else '-'):>13} {share:>6}")
PY
