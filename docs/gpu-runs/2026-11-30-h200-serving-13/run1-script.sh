#!/usr/bin/env bash
# Serving round 13, call 1: images shared by requests in flight decoded once, A/B. `after` is 7e2dcdf; `before` is
# 8270bbc (the round-12 code), built in the same tree. Image cache on (the default), fp8 default under 15 GiB.
# Bursts of CLIENTS requests sent at once that share IMAGES new 768x512 JPEGs (new ones every round, a query of
# their own each), 3 rounds, the two binaries alternating twice; the server's CPU seconds from /proc.
set -uo pipefail
cd "$(dirname "$0")"
for b in before after; do python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$b.xz'), open('$b','wb'))"; chmod +x $b; done
tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
nproc > $R/host.txt; lscpu | grep -E "Model name|^CPU\(s\)" >> $R/host.txt
for pass in 1 2; do
  for bin in before after; do
    ./$bin serve --model $CKPT --backend cuda --port 7862 --gpu-memory-limit-gib 15 --log-level notice > $R/serve-$bin-$pass.log 2>&1 &
    SERVER=$!
    for _ in $(seq 1 300); do curl -fs http://127.0.0.1:7862/ready > /dev/null 2>&1 && break; sleep 0.5; done
    for shape in "32 5" "64 8"; do
      set -- $shape
      echo "== $bin pass $pass: $1 clients, $2 images"
      timeout 120 python3 gpu_image_burst.py --url http://127.0.0.1:7862 --clients $1 --rounds 3 --images $2 \
        --seed $((pass * 10 + $2)) --pid $SERVER --json-out $R/burst-$bin-$pass-$1x$2.json
    done
    curl -s http://127.0.0.1:7862/metrics | grep -E "^lychee_(images_|image_cache_(hits|misses) )" > $R/metrics-$bin-$pass.txt
    kill -TERM $SERVER; wait $SERVER
  done
done
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
