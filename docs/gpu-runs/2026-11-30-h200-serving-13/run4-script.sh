#!/usr/bin/env bash
# Serving round 13, call 4 (two H200s): the final binary (36c0e53 + the script's CPU figures): self-test on GPU 0,
# then S1, S2 and S3 at 64 clients on one GPU and on two (host waits blocking, the default), two GPUs once more with
# --gpu-wait driver (the spinning waits used until now); engine 1 failing on purpose (blocking waits); the server's
# CPU seconds for each step.
set -uo pipefail
cd "$(dirname "$0")"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
timeout 200 ./lychee-rerank selftest --backend cuda --model $CKPT > $R/selftest.txt 2>&1; tail -1 $R/selftest.txt
GPU_SETS="0 0,1" MIXES=S1,S2,S3 CLIENTS=64 SECONDS_PER_STEP=6 OUT=$R/block bash gpu-engines.sh 2>&1 | tee $R/engines-block.txt
GPU_SETS="0,1" MIXES=S1,S2,S3 CLIENTS=64 SECONDS_PER_STEP=6 SERVE_ARGS="--gpu-wait driver" SKIP_FAILING=1 OUT=$R/driver bash gpu-engines.sh 2>&1 | tee $R/engines-driver.txt
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
