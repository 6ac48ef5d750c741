#!/usr/bin/env bash
# Serving round 14, call 7: the review commit (feafc8b: serve makes each engine's replica once). Two engines on one
# H200 (`--gpus 0,0`, fp8 default, 15 GiB each): the startup plan, S3 at 64 clients for 6 s, the prefix metrics
# summed over both engines, errors.
set -uo pipefail
cd "$(dirname "$0")"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
./lychee-rerank serve --model $CKPT --gpus 0,0 --port 7862 --gpu-memory-limit-gib 15 --log-level notice > $R/serve.log 2>&1 &
SERVER=$!
for _ in $(seq 1 600); do curl -fs http://127.0.0.1:7862/ready > /dev/null 2>&1 && break; sleep 0.5; done
./lychee-rerank bench-serve --url http://127.0.0.1:7862 --mix S3 --clients 64 --seconds 6 > $R/serve-S3.txt 2>&1
tail -2 $R/serve-S3.txt
curl -fs http://127.0.0.1:7862/metrics | grep -E "^lychee_prefix_device|^lychee_prefix_uploads|^lychee_engine_(errors|passes)" | tee $R/metrics.txt
kill -TERM $SERVER; wait $SERVER; echo "exit $?"
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
