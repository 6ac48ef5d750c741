#!/usr/bin/env bash
# A/B of the decoder's MLP row chunk (bench --mlp-rows), bf16 with the H200's memory, alternating; plus the
# attention kernel's stall reasons (Nsight Compute raw metrics, W3).
set -uo pipefail
cd "$(dirname "$0")"
R=/tmp/mlp; mkdir -p $R
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
for round in 1 2; do for rows in 4096 8192 6144; do
  timeout 200 ./lychee-rerank bench --model $CKPT --backend cuda --workload W1,W2,W3,W4 --dtype bf16 --repeats 5 \
    --mlp-rows $rows --scores-out $R/scores-$rows-$round.json > $R/bench-$rows-$round.txt 2>&1
done; done
LYCHEE_PROFILE=1 timeout 200 ./lychee-rerank bench --model $CKPT --backend cuda --workload W3,W4 --dtype bf16 --repeats 1 --mlp-rows 8192 > $R/profile-8192.txt 2>&1
/usr/local/cuda/bin/ncu -k regex:attention_wgmma_d128 --launch-skip 30 --launch-count 1 \
  --metrics "regex:smsp__average_warps_issue_stalled_.*_per_issue_active.ratio,sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,smsp__inst_executed_pipe_.*sum,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum,sm__cycles_elapsed.avg" \
  ./lychee-rerank bench --model $CKPT --backend cuda --workload W3 --dtype bf16 --repeats 1 > $R/ncu-stalls.txt 2>&1
tar czf "$1/mlp.tgz" -C /tmp mlp
for f in $R/bench-*.txt; do echo "-- $f"; grep -E "^W[1-4] |MLP row" $f; done
grep -E "linear n=3584 k=18944|linear n=37888" $R/profile-8192.txt
grep -E "stalled|gmma|elapsed" $R/ncu-stalls.txt | awk '$NF != "0" && $NF+0 > 0.05' | head -40
