#!/usr/bin/env bash
# Session 2026-11-30b, call 6: the final binary's self-test (ops against the CPU, downloads among them), and
# scores from cached image rows against scores without the cache (bench W2-W4, bf16, last repeat's logits).
set -uo pipefail
cd "$(dirname "$0")"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
CKPT=/tmp/lychee-7b-random
R=$1/r; mkdir -p $R
(python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1) &
MAKE=$!
timeout 120 ./lychee-rerank selftest --backend cuda > $R/selftest.txt 2>&1
grep -E "ops passed|FAIL" $R/selftest.txt | tail -3
wait $MAKE
for mib in 0 2048; do
  timeout 120 ./lychee-rerank bench --model $CKPT --backend cuda --workload W2,W3,W4 --dtype bf16 --repeats 2 \
    --image-cache-mib $mib --scores-out $R/scores-cache$mib.json > $R/bench-cache$mib.txt 2>&1
  grep -E "^W[2-4] " $R/bench-cache$mib.txt
done
python3 - $R <<'PY' | tee $R/compare.txt
import json, sys
a = json.load(open(sys.argv[1] + "/scores-cache0.json")); b = json.load(open(sys.argv[1] + "/scores-cache2048.json"))
for w in sorted(a):
    x, y = a[w]["logits"], b[w]["logits"]
    print(w, len(x), "identical" if x == y else f"max |d| {max(abs(p - q) for p, q in zip(x, y)):.3g}")
PY
tar czf $1/r.tgz -C $1 r && rm -rf $R
