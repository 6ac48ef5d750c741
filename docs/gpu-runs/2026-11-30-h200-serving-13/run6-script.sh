#!/usr/bin/env bash
# Serving round 13, call 6: where the server's host CPU goes, by function: Linux perf (carried from the developer
# machine with its libraries) samples the server under S3 and S1 at 64 clients; perf.data comes back and is
# reported against the unstripped binary of the same build (same build id).
set -uo pipefail
cd "$(dirname "$0")"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz && tar xzf perfkit.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
PERF="env LD_LIBRARY_PATH=$PWD/perfkit/lib $PWD/perfkit/perf"
R=$OUT/r; mkdir -p $R
$PERF --version; $PERF stat -e task-clock -- sleep 0.1 2>&1 | tail -4
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
./lychee-rerank serve --model $CKPT --backend cuda --port 7862 --gpu-memory-limit-gib 15 --log-level notice > $R/serve.log 2>&1 &
SERVER=$!
for _ in $(seq 1 300); do curl -fs http://127.0.0.1:7862/ready > /dev/null 2>&1 && break; sleep 0.5; done
for mix in S3 S1; do
  ./lychee-rerank bench-serve --url http://127.0.0.1:7862 --mix $mix --clients 64 --seconds 10 \
    --json-out $R/serve-$mix.json > $R/serve-$mix.txt 2>&1 &
  LOAD=$!
  sleep 2
  $PERF record -F 499 -g -p $SERVER -o $R/perf-$mix.data -- sleep 6 > $R/perf-$mix.log 2>&1
  wait $LOAD; tail -2 $R/serve-$mix.txt; tail -1 $R/perf-$mix.log
  $PERF report -i $R/perf-$mix.data --no-children --sort dso --stdio 2>/dev/null | grep "%" | head -12
done
kill -TERM $SERVER; wait $SERVER
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
