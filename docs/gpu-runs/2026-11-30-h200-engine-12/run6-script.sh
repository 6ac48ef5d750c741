#!/usr/bin/env bash
# Engine round 12, call 6 (de92454): bursts of 32 concurrent requests that share 5 new 768x512 JPEGs
# (tools/gpu_image_burst.py, 4 rounds, new images each round), `serve` with the image cache (the default: a pass
# takes an image an earlier pass embedded while its hand-over is pending) and with --image-cache-mib 0; how many
# images the vision tower embedded (lychee_images_embedded) and the bursts' times. fp8 default, 15 GiB.
set -uo pipefail
cd "$(dirname "$0")"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
for cache in default 0; do
  flag=""; [ $cache = default ] || flag="--image-cache-mib 0"
  ./lychee-rerank serve --model $CKPT --backend cuda --port 7862 --gpu-memory-limit-gib 15 --log-level notice $flag \
    > $R/serve-$cache.log 2>&1 &
  SERVER=$!
  for _ in $(seq 1 300); do curl -fs http://127.0.0.1:7862/ready > /dev/null 2>&1 && break; sleep 0.5; done
  echo "== image cache $cache"
  timeout 150 python3 gpu_image_burst.py --url http://127.0.0.1:7862 --clients 32 --rounds 4 --images 5 \
    --json-out $R/burst-$cache.json
  curl -fs http://127.0.0.1:7862/metrics > $R/metrics-$cache.txt
  kill -TERM $SERVER; wait $SERVER
done
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
