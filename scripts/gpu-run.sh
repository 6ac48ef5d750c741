#!/usr/bin/env bash
# Runs on the GPU machine, from the folder scripts/gpu-build.sh filled (carried by the device tool):
# op self-test, a random-weight checkpoint of the real 7B shape, our bench, the transformers reference
# on the same inputs, and end-to-end parity. Logs go to $OUT (the device tool brings them back).
#   bash .device/gpu-run.sh            (WORKLOADS=W1,W3 to run fewer; SKIP_SELFTEST=1 to skip it;
#                                       FP32_REFERENCE=1 also scores with transformers in float32 and
#                                       compares both bf16 engines with it; ours runs in bf16 here, DTYPE=fp8
#                                       for FP8, while bench's own default `--dtype auto` is fp8 on FP8 GPUs;
#                                       scripts/gpu-fp8.sh compares the precisions side by side)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/lychee-out}; mkdir -p "$OUT"
CKPT=${CKPT:-/tmp/lychee-7b-random}; INPUTS=/tmp/lychee-bench-inputs
WORKLOADS=${WORKLOADS:-W1,W2,W3,W4}
cd "$HERE"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$HERE/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
echo "== ldd (missing libraries)"; ldd ./lychee-rerank | grep "not found" || echo "none missing"
nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv
if [ ! -f "$CKPT/config.json" ]; then
    echo "== random 7B checkpoint"
    python3 gpu_make_random_7b.py "$CKPT" --tokenizer fixtures/qwen2-tokenizer.json.gz 2>&1 | tail -5 | tee "$OUT/make.log"
fi
if [ -z "${SKIP_SELFTEST:-}" ]; then
    echo "== selftest"; ./lychee-rerank selftest --backend cuda --model "$CKPT" ${SELFTEST_ARGS:-} 2>&1 | tee "$OUT/selftest.log"
fi
echo "== ours"
./lychee-rerank bench --model "$CKPT" --backend cuda --workload "$WORKLOADS" --dump-inputs "$INPUTS" \
    --scores-out "$OUT/ours.json" --gpu-memory-limit-gib 15 --dtype "${DTYPE:-bf16}" ${BENCH_ARGS:-} 2>&1 | tee "$OUT/bench.log"
echo "== reference"
python3 gpu_reference.py --model "$CKPT" --inputs "$INPUTS" --ours "$OUT/ours.json" --out "$OUT/ref.json" \
    --workloads "$WORKLOADS" 2>&1 | grep -v Warning | tee "$OUT/reference.log"
echo "== parity"
python3 gpu_parity.py "$OUT/ours.json" "$OUT/ref.json" 2>&1 | tee "$OUT/parity.log"
if [ -n "${FP32_REFERENCE:-}" ]; then
    echo "== float32 reference (ground truth for both bf16 engines)"
    python3 gpu_reference.py --model "$CKPT" --inputs "$INPUTS" --out "$OUT/ref-fp32.json" --dtype float32 \
        --repeats 1 --workloads "$WORKLOADS" 2>&1 | grep -v -e Warning -e "Loading weights" | tee "$OUT/reference-fp32.log"
    echo "== ours (bf16) against float32 transformers"
    python3 gpu_parity.py "$OUT/ours.json" "$OUT/ref-fp32.json" 2>&1 | tee "$OUT/parity-ours-fp32.log"
    echo "== transformers bf16 against float32 transformers"
    python3 gpu_parity.py "$OUT/ref.json" "$OUT/ref-fp32.json" --own-pixels-only 2>&1 | tee "$OUT/parity-ref-fp32.log"
fi
