#!/usr/bin/env bash
# Engine round 15, call 1: the decoder's attention with a kv head's 7 query heads packed into the warpgroup
# kernel's rows (LYCHEE_PACKED_ATTENTION=1, the new default) against one head a block (=0, the previous kernel).
# Self-test (both), then bf16 W3, W4, W1 with the H200's memory, two rounds alternating, logits compared.
set -uo pipefail
cd "$(dirname "$0")"
VAR=LYCHEE_PACKED_ATTENTION VALUES=1,0 WORKLOADS=W3,W4,W1 PAIRS=2 REPEATS=5 DTYPE=bf16 OUT=$OUT/r bash ./gpu-ab.sh 2>&1 | tail -40
grep -E "attn|passed|failed|FAIL" $OUT/r/selftest.txt | tail -30
tar czf $OUT/r.tgz -C $OUT r && rm -rf $OUT/r
