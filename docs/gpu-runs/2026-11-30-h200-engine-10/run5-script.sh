#!/usr/bin/env bash
# Engine round 10, call 5: the AVX2 resize on the GPU machine's host. bf16 W2/W4 with LYCHEE_SIMD_RESIZE=0/1
# alternating (docs/s and the host's preparation), the device timeline with each, the CPU backend on the tiny
# checkpoint, and the full bf16 W1-W4 once.
set -uo pipefail
cd "$(dirname "$0")"
R=/tmp/c5; mkdir -p $R
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
lscpu | grep -E "Model name|^CPU\(s\)|Flags" | sed 's/Flags:.*\(avx2\).*/Flags: ... avx2 .../' > $R/cpu.txt
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
for round in 1 2; do for v in 0 1; do
  LYCHEE_SIMD_RESIZE=$v timeout 150 ./lychee-rerank bench --model $CKPT --backend cuda --workload W2,W4 --dtype bf16 --repeats 5 > $R/bench-simd$v-$round.txt 2>&1
done; done
for v in 0 1; do
  LYCHEE_SIMD_RESIZE=$v LYCHEE_PROFILE=timeline timeout 150 ./lychee-rerank bench --model $CKPT --backend cuda --workload W2,W4 --dtype bf16 --repeats 1 > $R/timeline-simd$v.txt 2>&1
  LYCHEE_SIMD_RESIZE=$v timeout 60 ./lychee-rerank bench --model diag/tiny --backend cpu --workload W2,W4 --repeats 3 > $R/cpu-tiny-simd$v.txt 2>&1
done
timeout 200 ./lychee-rerank bench --model $CKPT --backend cuda --workload W1,W2,W3,W4 --dtype bf16 --repeats 5 > $R/bench-bf16-final.txt 2>&1
tar czf "$1/c5.tgz" -C /tmp c5
cat $R/cpu.txt | head -3
for f in $R/bench-simd*.txt $R/cpu-tiny-simd*.txt; do echo "-- $(basename $f)"; grep -E "^W[24] \(|^W[24] " $f | sed 's/(.*preparing/preparing/' | tr '\n' ' '; echo; done
grep -E "timeline \(|of which host|host before patchify" $R/timeline-simd*.txt
grep -E "^W[1-4] " $R/bench-bf16-final.txt
