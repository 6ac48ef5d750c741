#!/usr/bin/env bash
# Engine round 15, call 2: the packed-heads binary (4c7c62a) in bf16 (under 15 GiB) and fp8 (under 10 GiB) side by
# side, against transformers in float32 on the same inputs, and the full-range set (gpu-fp8.sh).
set -uo pipefail
cd "$(dirname "$0")"
DTYPES=bf16,fp8 SKIP_SELFTEST=1 REPEATS=3 bash ./gpu-fp8.sh > /dev/null 2>&1
cat $OUT/fp8-summary.txt
