#!/usr/bin/env bash
# Engine round 15, call 7: W4's decoder products run 6-17% below W3's rate (run 6 of serving round 14's timeline: W4's
# ~5,640 document rows in one MLP chunk, W3's ~7,000 in two). Does W4 gain from two MLP chunks? bf16, `bench
# --mlp-rows 6144` (one chunk for W4) against `--mlp-rows 3072` (two), both with the standard vision chunk, two rounds
# alternating, W4 then W3, logits compared.
set -uo pipefail
cd "$(dirname "$0")"
for b in after; do python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$b.xz'), open('$b','wb'))"; chmod +x $b; done
tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $OUT/make.log 2>&1
for round in 1 2; do
  for rows in 6144 3072; do
    timeout 100 ./after bench --model $CKPT --backend cuda --workload W4,W3 --dtype bf16 --repeats 5 --mlp-rows $rows \
      --scores-out $OUT/scores-$rows-$round.json > $OUT/bench-$rows-$round.txt 2>&1
    echo "rows=$rows round=$round $(grep -E '^W[34] ' $OUT/bench-$rows-$round.txt | awk '{print $1, $5}' | tr '\n' ' ')"
  done
done
python3 -c "
import json
a, b = [{w: r.get('logits') for w, r in json.load(open(f'$OUT/scores-{n}-1.json')).items()} for n in ('6144', '3072')]
print('logits bitwise identical:', a == b)
"
