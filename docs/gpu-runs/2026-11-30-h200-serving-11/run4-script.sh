#!/usr/bin/env bash
# Session 2026-11-30b, call 4: A/B of the image cache's hand-over, old binary (d680df7) against new (3308668),
# alternating, serve S3 and S2 at 1 and 8 clients (fp8 default, 15 GiB, 6 s steps).
set -uo pipefail
cd "$(dirname "$0")"
CKPT=/tmp/lychee-7b-random
for b in old new; do python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open('$b-lychee.xz'), open('$b-lychee','wb'))"; chmod +x $b-lychee; done
tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > /dev/null 2>&1
R=$1/r; mkdir -p $R
# gpu-serve.sh unzips lychee-rerank.gz when there is one: there is none here, the binary is put in place.
sed -i 's/^gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz/true/' gpu-serve.sh
i=0
for bin in old new old new; do
  i=$((i + 1))
  cp $bin-lychee lychee-rerank
  OUT=$R/$bin-$i BENCH_WORKLOADS= MIXES=S3,S2 CLIENTS=1,8 SECONDS_PER_STEP=6 timeout 100 bash gpu-serve.sh > $R/$bin-$i.log 2>&1
  echo "== $bin ($i)"; grep -E '^S[23] ' $R/$bin-$i.log | tail -4
done
tar czf $1/r.tgz -C $1 r && rm -rf $R
