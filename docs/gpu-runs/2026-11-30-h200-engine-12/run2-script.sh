#!/usr/bin/env bash
# Engine round 12, call 2 (run twice: the first run forgot --dtype bf16 and measured fp8, stable over 15 repeats): why W3's and W4's last repeats run slower in every bench (W4: repeats 4-5 +5%, W3: repeat
# 5 +11%, in rounds 9, 10 and call 1). bf16 with the H200's memory, 15 repeats each, while nvidia-smi samples the
# SM clock, power, temperature and throttle reasons every 100 ms; then W4 again in a fresh process.
set -uo pipefail
cd "$(dirname "$0")"
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
R=$OUT/r; mkdir -p $R
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active \
  --format=csv,noheader -lms 100 > $R/smi.csv &
SMI=$!
./lychee-rerank bench --model $CKPT --backend cuda --dtype bf16 --workload W1,W3,W4 --repeats 15 > $R/bench-a.txt 2>&1
./lychee-rerank bench --model $CKPT --backend cuda --dtype bf16 --workload W4 --repeats 15 > $R/bench-b.txt 2>&1
kill $SMI
grep "median of" $R/bench-*.txt | cut -c1-260
python3 - $R/smi.csv <<'PY'
import sys
rows=[l.strip().split(", ") for l in open(sys.argv[1]) if l.count(",")>=5]
busy=[r for r in rows if float(r[3].split()[0])>200]
print("samples", len(rows), "busy (>200 W)", len(busy))
for r in busy[::5]: print(" | ".join(r))
PY
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
