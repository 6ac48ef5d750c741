#!/usr/bin/env bash
# Session 2026-11-30b, call 2: where S2's one-client latency goes. bench S2 (offline, sequential requests) with
# the image cache off / on; serve S2 at one client with the image cache on (default) / off. fp8 default, 15 GiB.
set -uo pipefail
cd "$(dirname "$0")"
CKPT=/tmp/lychee-7b-random
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > /dev/null 2>&1
R=$1/r; mkdir -p $R
for mib in 0 2048; do
  ./lychee-rerank bench --model $CKPT --backend cuda --workload S2 --repeats 3 --gpu-memory-limit-gib 15 --image-cache-mib $mib > $R/bench-s2-cache$mib.txt 2>&1
  echo "bench cache=$mib: $(grep -E '^S2 ' $R/bench-s2-cache$mib.txt | tail -1)"
done
for args in "" "--image-cache-mib 0" ""; do
  tag=$(echo "default$args" | tr -d ' -'); i=$((${i:-0} + 1))
  SERVE_ARGS="$args" OUT=$R/serve-$tag-$i BENCH_WORKLOADS= MIXES=S2 CLIENTS=1 SECONDS_PER_STEP=8 timeout 90 bash gpu-serve.sh > $R/serve-$tag-$i.log 2>&1
  echo "serve $tag: $(grep -E '^S2 ' $R/serve-$tag-$i.log | head -1)"
  grep -h 'request_stage_seconds_sum\|engine_call_seconds_sum\|_count{stage="score"}' $R/serve-$tag-$i/metrics.txt
done
tar czf $1/r.tgz -C $1 r && rm -rf $R
