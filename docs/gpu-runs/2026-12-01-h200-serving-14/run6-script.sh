#!/usr/bin/env bash
# Serving round 14, call 6: where W3 and W4 leave the device idle now (722e5d9, one-wave image requests): the device's
# timeline of an unsynchronised pass (LYCHEE_PROFILE=timeline), bf16 with the H200's memory, for the next round.
set -uo pipefail
cd "$(dirname "$0")"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
LYCHEE_PROFILE=timeline timeout 200 ./lychee-rerank bench --model $CKPT --backend cuda --workload W3,W4 --dtype bf16 \
  --repeats 3 > $R/timeline-w3-w4.txt 2>&1
grep -E "timeline|host|sum|device span|^W[34] " $R/timeline-w3-w4.txt | grep -v "0.00 " | head -60
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
