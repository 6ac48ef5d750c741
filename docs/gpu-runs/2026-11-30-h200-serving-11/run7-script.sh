#!/usr/bin/env bash
# Session 2026-11-30b, call 7: the image cache's copies on a stream of their own (downloadRowsLater). The new
# binary's self-test (CUDA against the CPU, with "rows copied later"), then serve S2 at 1 and 32 clients, the
# binary before (da7dd4b: synchronous copies at the hand-over) and after, fp8 default under 15 GiB, 6 s steps.
set -uo pipefail
cd "$(dirname "$0")"
CKPT=/tmp/lychee-7b-random
for b in before after; do python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$b.xz'), open('$b','wb'))"; chmod +x $b; done
tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
R=$1/r; mkdir -p $R
(python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1) &
MAKE=$!
timeout 90 ./after selftest --backend cuda > $R/selftest.txt 2>&1
grep -E "rows copied|rows round|ops passed|FAIL" $R/selftest.txt | tail -6
wait $MAKE
sed -i 's/^gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz/true/' gpu-serve.sh
for bin in before after; do
  cp $bin lychee-rerank
  OUT=$R/$bin BENCH_WORKLOADS= MIXES=S2 CLIENTS=1,32 SECONDS_PER_STEP=6 timeout 75 bash gpu-serve.sh > $R/$bin.log 2>&1
  echo "== $bin"; grep -E '^S2 ' $R/$bin.log | tail -2; grep -ci "warning\|error" $R/$bin/serve.log
  grep -h 'image_cache_entries\|image_cache_hits ' $R/$bin/metrics.txt
done
tar czf $1/r.tgz -C $1 r && rm -rf $R
