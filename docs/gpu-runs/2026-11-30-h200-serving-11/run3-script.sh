#!/usr/bin/env bash
# Session 2026-11-30b, call 3: the image cache's hand-over after the answer. serve S2 at one client with the
# image cache on (default) and off, then S1-S4 at 1/8/32 clients (fp8 default, 15 GiB; compare with call 1).
set -uo pipefail
cd "$(dirname "$0")"
CKPT=/tmp/lychee-7b-random
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > /dev/null 2>&1
R=$1/r; mkdir -p $R
i=0
for args in "" "--image-cache-mib 0"; do
  tag=$(echo "default$args" | tr -d ' -'); i=$((i + 1))
  SERVE_ARGS="$args" OUT=$R/serve-$tag-$i BENCH_WORKLOADS= MIXES=S2 CLIENTS=1 SECONDS_PER_STEP=8 timeout 90 bash gpu-serve.sh > $R/serve-$tag-$i.log 2>&1
  echo "serve $tag: $(grep -E '^S2 ' $R/serve-$tag-$i.log | head -1)"
  grep -h 'request_stage_seconds_sum\|engine_call_seconds_sum\|_count{stage="score"}\|image_cache_entries' $R/serve-$tag-$i/metrics.txt
done
OUT=$R/serve BENCH_WORKLOADS= SECONDS_PER_STEP=8 timeout 300 bash gpu-serve.sh > $R/serve.log 2>&1
tail -14 $R/serve.log
grep -i "warning\|error" $R/serve/serve.log | head -5
tar czf $1/r.tgz -C $1 r && rm -rf $R
