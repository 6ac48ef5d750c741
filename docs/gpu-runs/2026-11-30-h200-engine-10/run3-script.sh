#!/usr/bin/env bash
# Whole-tile copies in the warpgroup attention kernel: selftest, Nsight Compute on the decoder's attention (W3,
# W4), and the decoder MLP chunk A/B (bf16, the H200's memory).
set -uo pipefail
cd "$(dirname "$0")"
R=/tmp/c3; mkdir -p $R
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
timeout 200 ./lychee-rerank selftest --backend cuda --model $CKPT > $R/selftest.txt 2>&1
for w in W3 W4; do
  /usr/local/cuda/bin/ncu -k regex:attention_wgmma_d128 --launch-skip 30 --launch-count 1 \
    --metrics "gpu__time_duration.sum,smsp__inst_executed.sum,sm__cycles_elapsed.avg,sm__pipe_shared_cycles_active.avg.pct_of_peak_sustained_active,regex:smsp__average_warps_issue_stalled_(wait|barrier|long_scoreboard|not_selected|selected|dispatch_stall|math_pipe_throttle)_per_issue_active.ratio" \
    ./lychee-rerank bench --model $CKPT --backend cuda --workload $w --dtype bf16 --repeats 1 > $R/ncu-$w.txt 2>&1
done
for round in 1 2; do for rows in default 4096 6144 8192; do
  flag=""; [ $rows = default ] || flag="--mlp-rows $rows"
  timeout 200 ./lychee-rerank bench --model $CKPT --backend cuda --workload W1,W2,W3,W4 --dtype bf16 --repeats 5 \
    $flag --scores-out $R/scores-$rows-$round.json > $R/bench-$rows-$round.txt 2>&1
done; done
LYCHEE_PROFILE=1 timeout 200 ./lychee-rerank bench --model $CKPT --backend cuda --workload W1,W2,W3,W4 --dtype bf16 --repeats 1 > $R/profile.txt 2>&1
tar czf "$1/c3.tgz" -C /tmp c3
grep -E "ops passed|FAIL|checks" $R/selftest.txt | tail -3
for w in W3 W4; do echo "== $w"; grep -E "duration|inst_executed|elapsed|shared_cycles|stalled" $R/ncu-$w.txt | awk '{print $1, $NF}'; done
for rows in default 4096 6144 8192; do for round in 1 2; do echo "-- $rows $round"; grep -E "^W[1-4] " $R/bench-$rows-$round.txt | awk '{print $1, $5}' | tr '\n' ' '; echo; done; done
grep -E "^attention|^W[1-4] profile" $R/profile.txt
