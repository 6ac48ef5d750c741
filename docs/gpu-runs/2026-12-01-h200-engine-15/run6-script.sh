#!/usr/bin/env bash
# Engine round 15, call 6: the review commit (the warpgroup kernel's 32-byte-layout copies in one helper; the vision
# tower's head dimension 80 takes that path). `after` = that commit, `old` = 49a661b (run 4's binary). Self-test of
# `after`; bf16 W2 and W4 (vision-heavy) with each binary, logits compared bitwise.
set -uo pipefail
cd "$(dirname "$0")"
for b in old after; do python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$b.xz'), open('$b','wb'))"; chmod +x $b; done
tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $OUT/make.log 2>&1
timeout 150 ./after selftest --backend cuda > $OUT/selftest.txt 2>&1
grep -E "ops passed|FAIL" $OUT/selftest.txt | tail -3
for b in old after; do
  timeout 150 ./$b bench --model $CKPT --backend cuda --workload W2,W4 --dtype bf16 --repeats 3 \
    --scores-out $OUT/scores-$b.json > $OUT/bench-$b.txt 2>&1
  grep -E "^W[24] " $OUT/bench-$b.txt
done
python3 -c "
import json
a, b = [{w: r.get('logits') for w, r in json.load(open(f'$OUT/scores-{n}.json')).items()} for n in ('old', 'after')]
print('logits bitwise identical:', a == b, sum(len(x or []) for x in a.values()), 'each')
"
