#!/usr/bin/env bash
# Engine round 12, call 1: the window kernel's launch order (a window's heads side by side, LYCHEE_WINDOW_HEADS_FIRST=1,
# against a head's windows side by side, =0). Self-test (with the new same-bits check of the two orders), bf16 W2
# and W4 alternating three rounds with the H200's memory (logits compared bitwise), a synchronised profile each;
# then serve S2 and S3 at 1 and 32 clients with this binary (fp8 default, 15 GiB, 6 s steps): the first serving run
# of the commits since round 11's run 7 (the body read once, the review refactors).
set -uo pipefail
cd "$(dirname "$0")"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
R=$OUT/r; mkdir -p $R
CKPT=/tmp/lychee-7b-random
(python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1) &
MAKE=$!
timeout 120 ./lychee-rerank selftest --backend cuda > $R/selftest.txt 2>&1
grep -E "ropeAttn|ops passed|FAIL" $R/selftest.txt | tail -12
wait $MAKE
OUT=$R/ab VAR=LYCHEE_WINDOW_HEADS_FIRST VALUES=1,0 WORKLOADS=W2,W4 PAIRS=3 PROFILE=1 SKIP_SELFTEST=1 \
  timeout 330 bash gpu-ab.sh > $R/ab.log 2>&1
cat $R/ab/ab-summary.txt
OUT=$R/serve BENCH_WORKLOADS= MIXES=S2,S3 CLIENTS=1,32 SECONDS_PER_STEP=6 timeout 110 bash gpu-serve.sh > $R/serve.log 2>&1
tail -12 $R/serve.log
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
