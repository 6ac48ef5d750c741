#!/usr/bin/env bash
# Image-prompt divergence check on the GPU machine: our CUDA and CPU engines and transformers (fp32 and
# bf16) on the first pairs of one workload, fed the same token ids and pixel values.
#   bash .device/gpu-diagnose.sh        (WORKLOAD=W4 PAIRS=2)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/lychee-out}; mkdir -p "$OUT"
CKPT=${CKPT:-/tmp/lychee-7b-random}; INPUTS=/tmp/lychee-diag-inputs
WORKLOAD=${WORKLOAD:-W4}; PAIRS=${PAIRS:-2}
cd "$HERE"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$HERE/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
[ -f "$CKPT/config.json" ] || python3 gpu_make_random_7b.py "$CKPT" --tokenizer fixtures/qwen2-tokenizer.json.gz 2>&1 | tail -1
./lychee-rerank bench --model "$CKPT" --backend cuda --workload "$WORKLOAD" --limit-documents "$PAIRS" \
    --repeats 1 --dump-inputs "$INPUTS" --scores-out "$OUT/cuda.json" 2>&1 | tail -2
timeout 300 ./lychee-rerank bench --model "$CKPT" --backend cpu --workload "$WORKLOAD" --limit-documents "$PAIRS" \
    --warmups 0 --repeats 1 --scores-out "$OUT/cpu.json" 2>&1 | tail -2
python3 gpu_image_diagnosis.py --model "$CKPT" --inputs "$INPUTS" --workload "$WORKLOAD" --pairs "$PAIRS" \
    "$OUT/cuda.json" "$OUT/cpu.json" 2>&1 | grep -v "Loading weights\|Warning"
