#!/usr/bin/env bash
# Nsight Compute on the decoder's attention kernel (W3, W4), one launch each.
set -uo pipefail
cd "$(dirname "$0")"
R=/tmp/ncu; mkdir -p $R
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
CKPT=/tmp/lychee-7b-random
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
echo "ncu: $NCU"; nvidia-smi --query-gpu=name,clocks.max.sm,clocks.sm --format=csv
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
for w in W3 W4; do
  timeout 240 $NCU --set full -k regex:attention_wgmma_d128 --launch-skip 30 --launch-count 1 \
    ./lychee-rerank bench --model $CKPT --backend cuda --workload $w --dtype bf16 --repeats 1 > $R/ncu-$w.txt 2>&1
done
LYCHEE_PROFILE=1 timeout 200 ./lychee-rerank bench --model $CKPT --backend cuda --workload W3,W4 --dtype bf16 --repeats 3 > $R/profile.txt 2>&1
tar czf "$1/ncu.tgz" -C /tmp ncu
for w in W3 W4; do echo "== $w"; grep -E "attention_wgmma|Duration|Throughput|Pipe|Stall|Registers|Block Limit|Achieved Occupancy|L2 Hit|Grid Size|Shared Memory|Issue|Eligible|Bank" $R/ncu-$w.txt | head -70; done
grep -E "^W[34] |attention" $R/profile.txt
