#!/usr/bin/env bash
# Engine round 12, call 8 (4b2e39a, the session's last code): serve S2 and S3 at 8 clients (5 s steps) and two
# bursts of 32 requests sharing 5 new JPEGs; fp8 default, 15 GiB.
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
./lychee-rerank bench-serve --url http://127.0.0.1:7862 --mix S2,S3 --clients 8 --seconds 5 --warmup-seconds 1 2>&1 | tail -3
timeout 60 python3 gpu_image_burst.py --url http://127.0.0.1:7862 --clients 32 --rounds 2 --images 5 --seed 9
curl -fs http://127.0.0.1:7862/metrics | grep -E '^lychee_(images_embedded|image_cache_(hits|misses))' > $R/metrics.txt
kill -TERM $SERVER; wait $SERVER; echo "serve exit $?"; grep -ci "error" $R/serve.log
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
