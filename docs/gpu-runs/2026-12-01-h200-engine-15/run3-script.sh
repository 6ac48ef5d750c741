#!/usr/bin/env bash
# Engine round 15, call 3: packing on every attention kernel (this binary: the 16-row and two-tile mma.sync kernels
# pack a kv head's query heads too). 1. self-test (every kernel, packed and one head a block); 2. W3 and W4 bf16 on
# the two-tile mma.sync kernel (LYCHEE_HOPPER_ATTENTION=0, the A100's kernel), packed (1) against one head a
# block (0), logits compared; 3. `serve` (fp8 default, 15 GiB) S3 at 8 and 64 clients, 8 s steps, packed / one head
# a block / packed, the server's CPU, one fixed image-query request whose scores must agree.
set -uo pipefail
cd "$(dirname "$0")"
START=$(date +%s)
gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
echo "checkpoint ready after $(( $(date +%s) - START )) s"
timeout 150 ./lychee-rerank selftest --backend cuda > $R/selftest.txt 2>&1
grep -E "ops passed|FAIL" $R/selftest.txt | tail -3
LYCHEE_HOPPER_ATTENTION=0 VAR=LYCHEE_PACKED_ATTENTION VALUES=1,0 WORKLOADS=W3,W4 PAIRS=1 REPEATS=5 DTYPE=bf16 \
  SKIP_SELFTEST=1 OUT=$R/mma bash ./gpu-ab.sh > /dev/null 2>&1
sed -n '/docs\/s by/,$p' $R/mma/ab-summary.txt
grep -h "^attention" $R/mma/bench-1-1.txt | head -2
echo "mma A/B done after $(( $(date +%s) - START )) s"
cpu() { awk '{print ($14 + $15) / 100}' /proc/$1/stat; }
cat > $R/fixed.py <<'PY'
import base64, io, json, sys, urllib.request
import numpy as np
from PIL import Image
y, x = np.mgrid[0:512, 0:768]
px = np.stack([(x * 5) % 256, (y * 3) % 256, (x + y) % 256], axis=-1).astype(np.uint8)
buf = io.BytesIO(); Image.fromarray(px).save(buf, format="JPEG", quality=90)
image = base64.b64encode(buf.getvalue()).decode()
body = {"query": {"text": "find this", "image": image},
        "documents": [f"document {i} about a striped pattern of colours" for i in range(10)]}
req = urllib.request.Request(sys.argv[1] + "/v1/rerank", data=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"})
res = json.load(urllib.request.urlopen(req, timeout=60))
json.dump(sorted((r["index"], r["relevance_score"]) for r in res["results"]), open(sys.argv[2], "w"))
PY
run_config() {  # name packed
  local name=$1
  LYCHEE_PACKED_ATTENTION=$2 ./lychee-rerank serve --model $CKPT --backend cuda --port 7862 --gpu-memory-limit-gib 15 \
    --log-level notice > $R/serve-$name.log 2>&1 &
  SERVER=$!
  for _ in $(seq 1 300); do curl -fs http://127.0.0.1:7862/ready > /dev/null 2>&1 && break; sleep 0.5; done
  python3 $R/fixed.py http://127.0.0.1:7862 $R/fixed-$name.json
  for clients in 8 64; do
    before=$(cpu $SERVER)
    ./lychee-rerank bench-serve --url http://127.0.0.1:7862 --mix S3 --clients $clients --seconds 8 \
      --json-out $R/serve-$name-S3-$clients.json > $R/serve-$name-S3-$clients.txt 2>&1
    after=$(cpu $SERVER)
    echo "$name S3 clients=$clients server_cpu_s=$(awk "BEGIN{print $after - $before}") $(tail -1 $R/serve-$name-S3-$clients.txt)" | tee -a $R/summary.txt
  done
  kill -TERM $SERVER; wait $SERVER
  echo "$name done after $(( $(date +%s) - START )) s"
}
run_config packed 1
run_config one-head 0
if [ $(( $(date +%s) - START )) -lt 480 ]; then run_config packed-2 1; fi
python3 -c "
import json, glob
runs = {f.split('fixed-')[1][:-5]: json.load(open(f)) for f in sorted(glob.glob('$R/fixed-*.json'))}
print('fixed request scores identical across', sorted(runs), ':', len({json.dumps(v) for v in runs.values()}) == 1)
"
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
