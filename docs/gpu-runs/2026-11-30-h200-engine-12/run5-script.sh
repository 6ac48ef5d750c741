#!/usr/bin/env bash
# Engine round 12, call 5, on two H200s: several engines with image traffic (never measured before: round 2 served
# S1 only). `scripts/gpu-engines.sh` with S1-S4 at 64 clients, 6 s steps, fp8 default under 15 GiB a GPU: one engine
# (--gpus 0), two (--gpus 0,1), and two with engine 1 failing every pass after its fifth (no request may be lost).
set -uo pipefail
cd "$(dirname "$0")"
R=$OUT/r; mkdir -p $R
OUT=$R GPU_SETS="0 0,1" MIXES=S1,S2,S3,S4 CLIENTS=64 SECONDS_PER_STEP=6 timeout 560 bash gpu-engines.sh 2>&1 | tee $R/engines.log | grep -v "^$" | tail -60
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
