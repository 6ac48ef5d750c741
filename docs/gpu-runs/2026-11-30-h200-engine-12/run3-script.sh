#!/usr/bin/env bash
# Engine round 12, call 3 (a368fd2: the window order and the image hand-over dedup): self-test; the window order
# on the device's timeline (LYCHEE_PROFILE=timeline, unsynchronised, W2 and W4, the order alternating twice); the
# target benches in one call (bf16 with the H200's memory, then fp8 under 10 GiB, W1-W4, 5 repeats); serve S2 and
# S3 at 1 and 32 clients (fp8 default, 15 GiB, 6 s steps).
set -uo pipefail
cd "$(dirname "$0")"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
R=$OUT/r; mkdir -p $R
CKPT=/tmp/lychee-7b-random
([ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1) &
MAKE=$!
timeout 120 ./lychee-rerank selftest --backend cuda > $R/selftest.txt 2>&1
grep -E "ops passed|FAIL" $R/selftest.txt | tail -3
wait $MAKE
for round in 1 2; do for v in 1 0; do
  LYCHEE_WINDOW_HEADS_FIRST=$v LYCHEE_PROFILE=timeline timeout 120 ./lychee-rerank bench --model $CKPT --backend cuda \
    --workload W2,W4 --dtype bf16 --repeats 2 > $R/timeline-$v-$round.txt 2>&1
  echo "-- heads first $v, round $round"; grep -E "timeline|from q/k/v" $R/timeline-$v-$round.txt | grep -v "host before"
done; done
timeout 200 ./lychee-rerank bench --model $CKPT --backend cuda --workload W1,W2,W3,W4 --dtype bf16 --repeats 5 \
  --scores-out $R/scores-bf16.json > $R/bench-bf16.txt 2>&1
timeout 200 ./lychee-rerank bench --model $CKPT --backend cuda --workload W1,W2,W3,W4 --dtype fp8 \
  --gpu-memory-limit-gib 10 --repeats 5 > $R/bench-fp8-10.txt 2>&1
for f in bench-bf16 bench-fp8-10; do echo "-- $f"; grep -E "median of|^W[1-4] " $R/$f.txt | cut -c1-200; done
OUT=$R/serve BENCH_WORKLOADS= MIXES=S2,S3 CLIENTS=1,32 SECONDS_PER_STEP=6 timeout 110 bash gpu-serve.sh > $R/serve.log 2>&1
tail -6 $R/serve.log
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
