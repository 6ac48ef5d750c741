#!/usr/bin/env bash
# Engine round 12, call 7: the pending-image lookup A/B. `after` is 0f6e07b; `before` is the same source with
# `Reranker.embeddedEarlier` not looking at the pending entries (the cache alone, as before a368fd2), built in the
# same tree. Image cache on (the default), bursts of 32 requests sharing 5 new JPEGs, 3 rounds each, before then after.
set -uo pipefail
cd "$(dirname "$0")"
for b in before after; do python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$b.xz'), open('$b','wb'))"; chmod +x $b; done
tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
for bin in before after; do
  ./$bin serve --model $CKPT --backend cuda --port 7862 --gpu-memory-limit-gib 15 --log-level notice > $R/serve-$bin.log 2>&1 &
  SERVER=$!
  for _ in $(seq 1 300); do curl -fs http://127.0.0.1:7862/ready > /dev/null 2>&1 && break; sleep 0.5; done
  echo "== $bin"
  timeout 100 python3 gpu_image_burst.py --url http://127.0.0.1:7862 --clients 32 --rounds 3 --images 5 --seed 7 \
    --json-out $R/burst-$bin.json
  kill -TERM $SERVER; wait $SERVER
done
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
