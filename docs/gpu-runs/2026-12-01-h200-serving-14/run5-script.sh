#!/usr/bin/env bash
# Serving round 14, call 5: the copies sized too large where memory is tight (fp8 under 8.4 GiB: the token budget is
# what memory allows). With --prefix-device-mib 4096, S3 at 64 clients: passes that run out of memory give the
# copies up and halve their capacity; no request may fail. Then the default (copies only from memory the budget
# leaves: none here).
set -uo pipefail
cd "$(dirname "$0")"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
for config in oversized default; do
  args=""; [ $config = oversized ] && args="--prefix-device-mib 4096"
  ./lychee-rerank serve --model $CKPT --backend cuda --port 7863 --gpu-memory-limit-gib 8.4 $args \
    --log-level info > $R/serve-$config.log 2>&1 &
  SERVER=$!
  for _ in $(seq 1 300); do curl -fs http://127.0.0.1:7863/ready > /dev/null 2>&1 && break; sleep 0.5; done
  grep -o "token_budget=[0-9]*\|prefix_device_mib=[0-9]*" $R/serve-$config.log | tr '\n' ' '; echo
  timeout 60 ./lychee-rerank bench-serve --url http://127.0.0.1:7863 --mix S3 --clients 64 --seconds 8 > $R/serve-$config-S3.txt 2>&1
  echo "== $config"; tail -1 $R/serve-$config-S3.txt
  curl -fs http://127.0.0.1:7863/metrics | grep -E "^lychee_prefix_device|^lychee_prefix_uploads|^lychee_engine_errors|^lychee_http_requests_total.*rerank" | tee $R/metrics-$config.txt
  kill -TERM $SERVER; wait $SERVER
  grep -v "status=200" $R/serve-$config.log | grep -i -c "memory"
done
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
