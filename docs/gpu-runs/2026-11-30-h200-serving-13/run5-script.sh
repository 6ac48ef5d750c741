#!/usr/bin/env bash
# Serving round 13, call 5: where the server's host time goes, thread by thread (tools/thread_cpu.py over
# /proc/PID/task): one H200, the final binary, fp8 default under 15 GiB, S3, S2 and S1 at 64 clients, 8 s each.
set -uo pipefail
cd "$(dirname "$0")"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
./lychee-rerank serve --model $CKPT --backend cuda --port 7862 --gpu-memory-limit-gib 15 --log-level notice > $R/serve.log 2>&1 &
SERVER=$!
for _ in $(seq 1 300); do curl -fs http://127.0.0.1:7862/ready > /dev/null 2>&1 && break; sleep 0.5; done
for mix in S3 S2 S1; do
  python3 thread_cpu.py snapshot $SERVER > $R/before-$mix.json
  ./lychee-rerank bench-serve --url http://127.0.0.1:7862 --mix $mix --clients 64 --seconds 8 \
    --json-out $R/serve-$mix.json 2>&1 | grep -E '^(mix|S[1-4]) '
  python3 thread_cpu.py snapshot $SERVER > $R/after-$mix.json
  echo "== $mix threads"; python3 thread_cpu.py diff $R/before-$mix.json $R/after-$mix.json | tee $R/threads-$mix.txt
done
curl -s http://127.0.0.1:7862/metrics | grep -E "^lychee_(request_stage_seconds_(sum|count)|images_|prefix_cache_(hits|misses) |image_cache_(hits|misses) )" > $R/metrics.txt
kill -TERM $SERVER; wait $SERVER
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
