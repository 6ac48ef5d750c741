#!/usr/bin/env bash
# Session 2026-11-30b, call 1: serving with the AVX2 resize. S2 at one client with LYCHEE_SIMD_RESIZE=1/0
# (stage metrics), then scripts/gpu-serve.sh whole (fp8 default under 15 GiB, S1-S4 at 1/8/32 clients).
set -uo pipefail
cd "$(dirname "$0")"
CKPT=/tmp/lychee-7b-random
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
nproc; lscpu | grep "Model name"
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > /dev/null 2>&1
i=0
for v in 1 0; do
  i=$((i + 1))
  LYCHEE_SIMD_RESIZE=$v OUT=$1/s2-simd$v-$i BENCH_WORKLOADS= MIXES=S2 CLIENTS=1 SECONDS_PER_STEP=8 timeout 90 bash gpu-serve.sh > $1/s2-simd$v-$i.log 2>&1
  echo "simd=$v: $(grep -E '^S2 ' $1/s2-simd$v-$i.log | head -1)"
  grep -h 'request_stage_seconds\|embedded_ahead\|engine_call_seconds' $1/s2-simd$v-$i/metrics.txt
done
OUT=$1/serve BENCH_WORKLOADS=S1,S2,S3 SECONDS_PER_STEP=8 timeout 330 bash gpu-serve.sh > $1/serve.log 2>&1
tail -16 $1/serve.log
