#!/usr/bin/env bash
# Engine round 15, call 4: the final binary (49a661b), bf16 with the H200's memory, W1-W4, packed (1, the default)
# against one head a block (0) on the warpgroup kernel, three rounds alternating, logits compared; self-test first.
set -uo pipefail
cd "$(dirname "$0")"
VAR=LYCHEE_PACKED_ATTENTION VALUES=1,0 WORKLOADS=W1,W2,W3,W4 PAIRS=3 REPEATS=5 DTYPE=bf16 OUT=$OUT/r \
  bash ./gpu-ab.sh 2>&1 | tail -12
grep -E "ops passed" $OUT/r/selftest.txt
tar czf $OUT/r.tgz -C $OUT r && rm -rf $OUT/r
