#!/usr/bin/env bash
# Engine round 10, call 4: selftest (warpgroup kernels, then the mma.sync kernels), bf16 with the H200's memory
# (default plan, 6144-row decoder chunks) against 4096 rows alternating, fp8 under 10 GiB.
set -uo pipefail
cd "$(dirname "$0")"
R=/tmp/c4; mkdir -p $R
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
timeout 200 ./lychee-rerank selftest --backend cuda --model $CKPT > $R/selftest.txt 2>&1
LYCHEE_HOPPER_ATTENTION=0 timeout 200 ./lychee-rerank selftest --backend cuda --model $CKPT > $R/selftest-mma-sync.txt 2>&1
for round in 1 2; do for rows in default 4096; do
  flag=""; [ $rows = default ] || flag="--mlp-rows $rows"
  timeout 200 ./lychee-rerank bench --model $CKPT --backend cuda --workload W1,W2,W3,W4 --dtype bf16 --repeats 5 \
    $flag --scores-out $R/scores-$rows-$round.json > $R/bench-$rows-$round.txt 2>&1
done; done
timeout 200 ./lychee-rerank bench --model $CKPT --backend cuda --workload W1,W2,W3,W4 --dtype fp8 --gpu-memory-limit-gib 10 --repeats 5 > $R/bench-fp8-10.txt 2>&1
tar czf "$1/c4.tgz" -C /tmp c4
grep -E "ops passed|FAIL" $R/selftest.txt $R/selftest-mma-sync.txt | tail -4
for f in bench-default-1 bench-4096-1 bench-default-2 bench-4096-2 bench-fp8-10; do echo "-- $f"; grep -E "MLP row|^W[1-4] " $R/$f.txt | awk '{print $1, $5, $10, $11}' | tr '\n' ' '; echo; done
