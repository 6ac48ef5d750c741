#!/usr/bin/env bash
# Engine round 15, call 5: why W3's 5th and W4's 4th-5th repeats run 10-13% slower in every bench (runs 1-4).
# bf16 W3 then W4, 15 repeats each, while nvidia-smi samples the SM clock, power and throttle reasons every 20 ms
# (the samples come back in clocks.csv; over 400 W means a pass is running).
set -uo pipefail
cd "$(dirname "$0")"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $OUT/make.log 2>&1
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv,noheader -lms 20 > $OUT/clocks.csv &
SMI=$!
for w in W3 W4; do
  echo "== $w start $(date +%H:%M:%S.%N)"
  timeout 200 ./lychee-rerank bench --model $CKPT --backend cuda --workload $w --dtype bf16 --repeats 15 > $OUT/bench-$w.txt 2>&1
  echo "== $w end $(date +%H:%M:%S.%N)"
  grep -E "^W[34] " $OUT/bench-$w.txt | sed 's/preparing.*//'
done
kill $SMI
python3 - $OUT/clocks.csv <<'PY'
import sys
rows = [l.strip().split(", ") for l in open(sys.argv[1]) if l.count(",") >= 4]
busy = [r for r in rows if float(r[2].split()[0]) > 400]
print(f"{len(rows)} samples, {len(busy)} over 400 W")
PY
