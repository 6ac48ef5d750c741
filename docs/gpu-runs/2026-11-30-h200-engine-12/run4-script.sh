#!/usr/bin/env bash
# Engine round 12, call 4: S2 at one client, stage by stage (a368fd2's binary): `bench` S2 offline, then serve S2 at
# one client for 10 s (fp8 default, 15 GiB) and the mean of each request stage from /metrics.
set -uo pipefail
cd "$(dirname "$0")"
R=$OUT/r; mkdir -p $R
CKPT=/tmp/lychee-7b-random
[ -f lychee-rerank ] || gunzip -kf lychee-rerank.gz
tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}"
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
OUT=$R/serve BENCH_WORKLOADS=S2 MIXES=S2 CLIENTS=1 SECONDS_PER_STEP=10 timeout 200 bash gpu-serve.sh > $R/serve.log 2>&1
grep -E "^S2 " $R/serve/bench.log; tail -3 $R/serve.log
python3 - $R/serve/metrics.txt <<'PY'
import re, sys
sums, counts = {}, {}
for line in open(sys.argv[1]):
    m = re.match(r'lychee_request_stage_seconds_(sum|count)\{stage="(\w+)"\} ([0-9.e+-]+)', line)
    if m: (sums if m[1] == "sum" else counts)[m[2]] = float(m[3])
for stage in ("decode", "inputs", "prepare", "queue", "score"):
    if counts.get(stage): print(f"{stage:8} {1000 * sums[stage] / counts[stage]:7.2f} ms a request ({int(counts[stage])})")
PY
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
