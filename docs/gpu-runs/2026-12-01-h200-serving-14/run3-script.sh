#!/usr/bin/env bash
# Serving round 14, call 3, two H200s: `serve --gpus 0,1` (fp8 default, 15 GiB a GPU), `old` (e749495) against
# `after` (477320b: prefixes kept on each engine's device, asynchronous device copies, one-wave image requests);
# S3 and S4 at 64 clients, 8 s each, alternating old, after, after, old; the server's CPU per step, GPU memory peaks
# (nvidia-smi every 0.5 s), the prefix metrics, and a fixed image-query request sent three times whose scores must
# agree across servers.
set -uo pipefail
cd "$(dirname "$0")"
START=$(date +%s)
for b in old after; do python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$b.xz'), open('$b','wb'))"; chmod +x $b; done
tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
echo "checkpoint ready after $(( $(date +%s) - START )) s"
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
PY
run_config() {  # name binary
  local name=$1 bin=$2
  ./$bin serve --model $CKPT --gpus 0,1 --port 7862 --gpu-memory-limit-gib 15 --log-level info > $R/serve-$name.log 2>&1 &
  SERVER=$!
  for _ in $(seq 1 600); do curl -fs http://127.0.0.1:7862/ready > /dev/null 2>&1 && break; sleep 0.5; done
  nvidia-smi --query-gpu=index,memory.used --format=csv,noheader,nounits -lms 500 > $R/memory-$name.csv &
  SMI=$!
  python3 $R/fixed.py http://127.0.0.1:7862 $R/fixed-$name.json
  for mix in S3 S4; do
    before=$(cpu $SERVER)
    ./$bin bench-serve --url http://127.0.0.1:7862 --mix $mix --clients 64 --seconds 8 \
      --json-out $R/serve-$name-$mix.json > $R/serve-$name-$mix.txt 2>&1
    after=$(cpu $SERVER)
    echo "$name $mix clients=64 server_cpu_s=$(awk "BEGIN{print $after - $before}") $(tail -1 $R/serve-$name-$mix.txt)" | tee -a $R/summary.txt
  done
  kill $SMI
  echo "$name peak MiB per GPU: $(awk -F', ' '{if ($2 > m[$1]) m[$1] = $2} END {for (g in m) printf "%s:%s ", g, m[g]}' $R/memory-$name.csv)" | tee -a $R/summary.txt
  curl -fs http://127.0.0.1:7862/metrics | grep -E "^lychee_prefix|^lychee_engine_errors|^lychee_images_embedded " > $R/metrics-$name.txt
  cat $R/metrics-$name.txt | tr '\n' ' '; echo
  kill -TERM $SERVER; wait $SERVER
  echo "$name done after $(( $(date +%s) - START )) s"
}
run_config old old
run_config after after
if [ $(( $(date +%s) - START )) -lt 380 ]; then run_config after-2 after; fi
if [ $(( $(date +%s) - START )) -lt 460 ]; then run_config old-2 old; fi
grep -h "model loaded" $R/serve-after.log | head -1
python3 - $R <<'PY'
import json, sys, glob
r = sys.argv[1]
runs = {f.split("fixed-")[1][:-5]: json.load(open(f)) for f in sorted(glob.glob(r + "/fixed-*.json"))}
base = runs["old"][0]
for name, answers in runs.items():
    print(f"fixed request {name}: three answers identical to old's first: {all(a == base for a in answers)}")
PY
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
