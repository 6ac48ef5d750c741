#!/usr/bin/env bash
# Engine round 10, call 6: the CPU backend on the tiny checkpoint with LYCHEE_SIMD_RESIZE=0/1, alternating.
set -uo pipefail
cd "$(dirname "$0")"
R=/tmp/c6; mkdir -p $R
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
for round in 1 2 3; do for v in 0 1; do
  LYCHEE_SIMD_RESIZE=$v timeout 60 ./lychee-rerank bench --model diag/tiny --backend cpu --workload W2,W4 --repeats 3 > $R/cpu-tiny-simd$v-$round.txt 2>&1
done; done
tar czf "$1/c6.tgz" -C /tmp c6
for f in $R/*.txt; do echo "$(basename $f) $(grep -E '^W[24] \(' $f | sed 's/(.*: / /; s/ median of.*alone/ prep/' | tr '\n' ' ')"; done
