#!/usr/bin/env bash
# Engine round 15, call 8: run 7's board gave W4 55.1-55.5 with `--mlp-rows`, which also halves the vision tower's MLP
# chunk (11,264 rows instead of the default plan's 22,528: W4's 19,440 document-image rows then run in two chunks).
# The default plan against `--mlp-rows 6144` (the same decoder chunk), W4 and W2, two rounds alternating.
set -uo pipefail
cd "$(dirname "$0")"
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('after.xz'), open('after','wb'))"; chmod +x after
tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $OUT/make.log 2>&1
for round in 1 2; do
  for plan in default 6144; do
    args=""; [ $plan = default ] || args="--mlp-rows $plan"
    timeout 80 ./after bench --model $CKPT --backend cuda --workload W4,W2 --dtype bf16 --repeats 5 $args \
      > $OUT/bench-$plan-$round.txt 2>&1
    echo "plan=$plan round=$round $(grep -E '^W[24] ' $OUT/bench-$plan-$round.txt | awk '{print $1, $5}' | tr '\n' ' ')"
  done
done
