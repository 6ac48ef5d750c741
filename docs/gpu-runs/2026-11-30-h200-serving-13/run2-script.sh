#!/usr/bin/env bash
# Serving round 13, call 2: how host threads wait for the device, A/B in one call (LYCHEE_GPU_WAIT=block, the
# new default, against driver, the driver's heuristic used until now: spin, as the host has more cores than
# contexts): `serve` with each value (fp8 default under 15 GiB): S1 at 1 client, S3, S2 and S1 at 8, and a burst,
# with the server's CPU seconds for each step (call 3: the benches).
set -uo pipefail
cd "$(dirname "$0")"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
cpu() { awk '{print ($14 + $15) / 100}' /proc/$1/stat; }
for wait in block driver; do
  echo "== serve LYCHEE_GPU_WAIT=$wait"
  LYCHEE_GPU_WAIT=$wait ./lychee-rerank serve --model $CKPT --backend cuda --port 7862 --gpu-memory-limit-gib 15 \
    --log-level notice > $R/serve-$wait.log 2>&1 &
  SERVER=$!
  for _ in $(seq 1 300); do curl -fs http://127.0.0.1:7862/ready > /dev/null 2>&1 && break; sleep 0.5; done
  for step in "S1 1" "S3 8" "S2 8" "S1 8"; do
    set -- $step
    before=$(cpu $SERVER)
    ./lychee-rerank bench-serve --url http://127.0.0.1:7862 --mix $1 --clients $2 --seconds 8 \
      --json-out $R/serve-$wait-$1-$2.json > $R/serve-$wait-$1-$2.txt 2>&1
    after=$(cpu $SERVER)
    echo "$wait $1 clients=$2 server_cpu_s=$(awk "BEGIN{print $after - $before}")" | tee -a $R/serve-cpu.txt
    tail -3 $R/serve-$wait-$1-$2.txt
  done
  timeout 60 python3 gpu_image_burst.py --url http://127.0.0.1:7862 --clients 32 --rounds 2 --images 5 --seed 3 \
    --pid $SERVER --json-out $R/burst-$wait.json
  kill -TERM $SERVER; wait $SERVER
done
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
