#!/usr/bin/env bash
# Serving round 13, call 3: LYCHEE_GPU_WAIT block against driver in `bench` (self-test with block, bf16 W1-W4
# alternating twice through gpu-ab.sh, logits compared bitwise).
set -uo pipefail
cd "$(dirname "$0")"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
mkdir -p $OUT/r
VAR=LYCHEE_GPU_WAIT VALUES=block,driver WORKLOADS=W1,W2,W3,W4 PAIRS=2 REPEATS=3 OUT=$OUT/r bash gpu-ab.sh
cat $OUT/r/ab-summary.txt; tail -3 $OUT/r/selftest.txt
tar czf $OUT/r.tgz -C $OUT r && rm -rf $OUT/r
