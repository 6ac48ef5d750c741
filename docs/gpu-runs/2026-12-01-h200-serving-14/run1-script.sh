#!/usr/bin/env bash
# Serving round 14, call 1: cached prefixes kept on the device. `old` is e749495 (round 13's last commit); `after` is
# 87766a4: device-to-device copies queued asynchronously (cuMemcpyDtoDAsync) and DevicePrefixCopies (default: up to
# 512 MiB of what the token budget leaves). `serve` (fp8 default under 15 GiB): old, after with --prefix-device-mib 0
# (the async copies alone), after with the default; S3 (image queries, 8 images in rotation) at 8 and 64 clients,
# 8 s each, the server's CPU per step, the prefix metrics, and one fixed image-query request sent three times
# (computed, captured, then from the cache) whose scores must agree across the three servers. Self-test first.
set -uo pipefail
cd "$(dirname "$0")"
START=$(date +%s)
for b in old after; do python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$b.xz'), open('$b','wb'))"; chmod +x $b; done
tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
echo "checkpoint ready after $(( $(date +%s) - START )) s"
timeout 150 ./after selftest --backend cuda > $R/selftest.txt 2>&1
grep -E "ops passed|FAIL" $R/selftest.txt | tail -3
cpu() { awk '{print ($14 + $15) / 100}' /proc/$1/stat; }
cat > $R/fixed.py <<'PY'
import base64, io, json, sys, urllib.request
import numpy as np
from PIL import Image
y, x = np.mgrid[0:512, 0:768]
px = np.stack([(x * 5) % 256, (y * 3) % 256, (x + y) % 256], axis=-1).astype(np.uint8)
buf = io.BytesIO(); Image.fromarray(px).save(buf, format="JPEG", quality=90)
image = base64.b64encode(buf.getvalue()).decode()
out = []
for attempt in range(3):
    body = {"query": {"text": "find this", "image": image},
            "documents": [f"document {i} about a striped pattern of colours" for i in range(10)]}
    req = urllib.request.Request(sys.argv[1] + "/v1/rerank", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    res = json.load(urllib.request.urlopen(req, timeout=60))
    out.append(sorted((r["index"], r["relevance_score"]) for r in res["results"]))
json.dump(out, open(sys.argv[2], "w"))
print("fixed request: three answers identical:", out[0] == out[1] == out[2])
PY
run_config() {  # name binary args...
  local name=$1 bin=$2; shift 2
  ./$bin serve --model $CKPT --backend cuda --port 7862 --gpu-memory-limit-gib 15 --log-level notice "$@" > $R/serve-$name.log 2>&1 &
  SERVER=$!
  for _ in $(seq 1 300); do curl -fs http://127.0.0.1:7862/ready > /dev/null 2>&1 && break; sleep 0.5; done
  python3 $R/fixed.py http://127.0.0.1:7862 $R/fixed-$name.json
  for clients in 8 64; do
    before=$(cpu $SERVER)
    ./$bin bench-serve --url http://127.0.0.1:7862 --mix S3 --clients $clients --seconds 8 \
      --json-out $R/serve-$name-S3-$clients.json > $R/serve-$name-S3-$clients.txt 2>&1
    after=$(cpu $SERVER)
    echo "$name S3 clients=$clients server_cpu_s=$(awk "BEGIN{print $after - $before}") $(tail -1 $R/serve-$name-S3-$clients.txt)" | tee -a $R/summary.txt
  done
  curl -fs http://127.0.0.1:7862/metrics | grep -E "^lychee_prefix|^lychee_token_budget" > $R/metrics-$name.txt
  cat $R/metrics-$name.txt | tr '\n' ' '; echo
  kill -TERM $SERVER; wait $SERVER
  echo "$name done after $(( $(date +%s) - START )) s"
}
run_config old old
run_config after-copies-0 after --prefix-device-mib 0
run_config after after
if [ $(( $(date +%s) - START )) -lt 400 ]; then run_config after-2 after; fi
if [ $(( $(date +%s) - START )) -lt 470 ]; then run_config old-2 old; fi
python3 - $R <<'PY'
import json, sys, glob
r = sys.argv[1]
runs = {f.split("fixed-")[1][:-5]: json.load(open(f)) for f in sorted(glob.glob(r + "/fixed-*.json"))}
base = runs.get("old")
for name, answers in runs.items():
    same = all(a == base[0] for a in answers) if base else None
    print(f"fixed request {name}: identical to old's first answer: {same}")
PY
grep -h "prefix_device_mib\|token_budget" $R/serve-after.log | head -2
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
