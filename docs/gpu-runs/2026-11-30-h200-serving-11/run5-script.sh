#!/usr/bin/env bash
# Session 2026-11-30b, call 5: the final binary (da7dd4b): scripts/gpu-serve.sh whole (offline bench of S1-S3,
# then serve S1-S4 at 1/8/32 clients; fp8 default under 15 GiB; 8 s steps).
set -uo pipefail
cd "$(dirname "$0")"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > /dev/null 2>&1
R=$1/r; mkdir -p $R
OUT=$R/serve BENCH_WORKLOADS=S1,S2,S3 SECONDS_PER_STEP=8 timeout 420 bash gpu-serve.sh > $R/gpu-serve.txt 2>&1
tail -32 $R/gpu-serve.txt
tar czf $1/r.tgz -C $1 r && rm -rf $R
