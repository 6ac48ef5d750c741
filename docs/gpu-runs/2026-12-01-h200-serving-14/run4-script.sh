#!/usr/bin/env bash
# Serving round 14, call 4: the final binary (722e5d9). Self-test; issue 13's benches in one call (bf16 with the
# H200's memory, then fp8 under 10 GiB, W1-W4, 5 repeats); serve S1, S2, S3 at 1 and 64 clients (fp8 default,
# 15 GiB, 6 s steps); then the copies sized far too large on purpose (fp8 under 9.5 GiB, --prefix-device-mib
# 4096, S3 at 64 clients): passes that run out of memory must give the copies up, lose no request, and settle.
set -uo pipefail
cd "$(dirname "$0")"
START=$(date +%s)
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
CKPT=/tmp/lychee-7b-random
([ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1) &
MAKE=$!
timeout 120 ./lychee-rerank selftest --backend cuda > $R/selftest.txt 2>&1
grep -E "ops passed|FAIL" $R/selftest.txt | tail -3
wait $MAKE
echo "checkpoint ready after $(( $(date +%s) - START )) s"
timeout 150 ./lychee-rerank bench --model $CKPT --backend cuda --workload W1,W2,W3,W4 --dtype bf16 --repeats 5 \
  > $R/bench-bf16.txt 2>&1
timeout 150 ./lychee-rerank bench --model $CKPT --backend cuda --workload W1,W2,W3,W4 --dtype fp8 \
  --gpu-memory-limit-gib 10 --repeats 5 > $R/bench-fp8-10.txt 2>&1
for f in bench-bf16 bench-fp8-10; do echo "-- $f"; grep -E "^W[1-4] " $R/$f.txt | cut -c1-200; done
echo "benches done after $(( $(date +%s) - START )) s"
OUT=$R/serve BENCH_WORKLOADS= MIXES=S1,S2,S3 CLIENTS=1,64 SECONDS_PER_STEP=6 timeout 150 bash gpu-serve.sh > $R/serve.log 2>&1
grep -E "^S[1-4] " $R/serve.log | tail -8
echo "serve done after $(( $(date +%s) - START )) s"
./lychee-rerank serve --model $CKPT --backend cuda --port 7863 --gpu-memory-limit-gib 9.5 --prefix-device-mib 4096 \
  --log-level notice > $R/serve-oversized.log 2>&1 &
SERVER=$!
for _ in $(seq 1 300); do curl -fs http://127.0.0.1:7863/ready > /dev/null 2>&1 && break; sleep 0.5; done
timeout 60 ./lychee-rerank bench-serve --url http://127.0.0.1:7863 --mix S3 --clients 64 --seconds 8 > $R/serve-oversized-S3.txt 2>&1
tail -2 $R/serve-oversized-S3.txt
curl -fs http://127.0.0.1:7863/metrics | grep -E "^lychee_prefix_device|^lychee_prefix_uploads|^lychee_token_budget|^lychee_engine_errors|^lychee_requests_total|^lychee_http_requests" | tee $R/serve-oversized-metrics.txt
kill -TERM $SERVER; wait $SERVER
grep -c -i "out of memory" $R/serve-oversized.log
echo "all done after $(( $(date +%s) - START )) s"
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
