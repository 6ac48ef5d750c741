#!/usr/bin/env bash
# Serving round 14, call 2: W4's image documents prepared in one wave or two (issue 13). 87766a4 + the switch
# LYCHEE_IMAGE_WAVE_MINIMUM (default 4: two halves, the first embedded ahead while the second is prepared; 100:
# one wave, its ten images in one vision pass). Since the halves were measured (+1.3%, engine round 3), the
# AVX2 resize halved the host's preparation. bf16, the H200's memory, 3 rounds alternating, logits compared.
set -uo pipefail
cd "$(dirname "$0")"
VAR=LYCHEE_IMAGE_WAVE_MINIMUM VALUES=4,100 WORKLOADS=W4,W2 PAIRS=3 REPEATS=5 DTYPE=bf16 OUT=$OUT/r bash ./gpu-ab.sh 2>&1 | tail -30
tar czf $OUT/r.tgz -C $OUT r && rm -rf $OUT/r
