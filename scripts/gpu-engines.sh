#!/usr/bin/env bash
# Runs on the GPU machine, from the folder scripts/gpu-build.sh filled: several engines behind one scheduler.
# For each GPU set (GPU_SETS, default "0 0,0": one engine, then two engines sharing GPU 0; on a machine with
# several GPUs e.g. "0 0,1 0,1,2,3"), serve each of MIXES (S1) at CLIENTS (64) clients for SECONDS_PER_STEP (extra
# serve flags in SERVE_ARGS), then once more on the last set with LYCHEE_TEST_FAIL_ENGINE=1:5 (engine 1 fails every
# pass after its fifth): no request may be lost (SKIP_FAILING=1 skips that run). GPU memory per device is sampled
# during each run, and the server's CPU seconds over each step (from /proc: the host's share of the work as engines
# are added). Logs go to $OUT.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/lychee-out}; mkdir -p "$OUT"
CKPT=${CKPT:-/tmp/lychee-7b-random}
LIMIT_GIB=${LIMIT_GIB:-15}; SECONDS_PER_STEP=${SECONDS_PER_STEP:-10}; CLIENTS=${CLIENTS:-64}
GPU_SETS=${GPU_SETS:-"0 0,0"}; MIXES=${MIXES:-S1}
cd "$HERE"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$HERE/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=index,name,memory.used,memory.total --format=csv
if [ ! -f "$CKPT/config.json" ]; then
    python3 gpu_make_random_7b.py "$CKPT" --tokenizer fixtures/qwen2-tokenizer.json.gz 2>&1 | tail -1
fi
run_set() {  # $1: GPU list, $2: label, extra environment before the call
    local gpus=$1 label=$2 port=7870
    ./lychee-rerank serve --model "$CKPT" --gpus "$gpus" --port $port --gpu-memory-limit-gib "$LIMIT_GIB" \
        --log-level info ${SERVE_ARGS:-} > "$OUT/serve-$label.log" 2>&1 &
    local server=$!
    for _ in $(seq 1 900); do
        curl -fs --max-time 5 "http://127.0.0.1:$port/ready" > /dev/null 2>&1 && break
        kill -0 $server 2>/dev/null || { echo "serve died:"; tail -5 "$OUT/serve-$label.log"; return 1; }
        sleep 0.5
    done
    nvidia-smi --query-gpu=index,memory.used --format=csv,noheader,nounits -lms 250 > "$OUT/memory-$label.csv" &
    local sampler=$!
    local mix cpu_before
    for mix in ${MIXES//,/ }; do
        cpu_before=$(awk '{print $14 + $15}' /proc/$server/stat)
        ./lychee-rerank bench-serve --url "http://127.0.0.1:$port" --mix "$mix" --clients "$CLIENTS" \
            --seconds "$SECONDS_PER_STEP" --json-out "$OUT/serve-$label-$mix.json" 2>&1 | grep -E '^(mix|S[1-4]) ' \
            | sed "s/^/$label  /"
        awk -v before="$cpu_before" -v label="$label $mix" -v ticks="$(getconf CLK_TCK)" \
            '{printf "%s: server CPU %.1f s over the step\n", label, ($14 + $15 - before) / ticks}' /proc/$server/stat
    done
    kill $sampler 2>/dev/null
    curl -fs "http://127.0.0.1:$port/health"; echo
    curl -fs "http://127.0.0.1:$port/metrics" \
        | grep -E '^lychee_(engine_(healthy|passes_total|errors_total)|image_cache_(hits|misses)|images_(embedded|decoded))'
    kill -TERM $server; wait $server
    for index in $(cut -d, -f1 "$OUT/memory-$label.csv" | sort -u); do
        echo "$label: GPU $index peak $(awk -F', ' -v i="$index" '$1 == i {print $2}' "$OUT/memory-$label.csv" | sort -n | tail -1) MiB (limit $((LIMIT_GIB * 1024)) MiB per engine)"
    done
}
last=""
for gpus in $GPU_SETS; do run_set "$gpus" "gpus-$gpus"; last=$gpus; done
[ -n "${SKIP_FAILING:-}" ] || LYCHEE_TEST_FAIL_ENGINE=1:5 run_set "$last" "failing-engine-$last"
grep -h "taken out of rotation" "$OUT"/serve-failing-engine-*.log | head -2
