#!/usr/bin/env bash
# Serving round 13, call 8: text preparation again. `old` is 36c0e53 (the binary of runs 2-5); `after` is 96c7d15: the reserved
# marker search in one pass over the bytes and the word cache read without locks (call 7 had it behind mutexes). `tokenize
# --benchmark --threads` on 1, 4 and 16 threads (after only: old lacks --threads); then `serve` S1 (text) at
# 64 clients, 8 s, old then after, the server's CPU seconds by thread group (gpu_thread_cpu.py).
set -uo pipefail
cd "$(dirname "$0")"
for b in old after; do python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$b.xz'), open('$b','wb'))"; chmod +x $b; done
tar xzf lib.tar.gz
export LD_LIBRARY_PATH="$PWD/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
R=$OUT/r; mkdir -p $R
python3 - > $R/text.txt <<'PY'
import random
random.seed(1)
words = ("the of and to in is was for on that with as by at from it an be this are which or have has not but their one "
         "all also were been more its other two first after can into new time most such some these than over only years "
         "state may about between would city during made where under when later use while through part known three since "
         "then many united being both before de used population him school world including there well century national "
         "university people system").split()
print(" ".join(random.choice(words) for _ in range(4000)))
PY
CKPT=/tmp/lychee-7b-random
[ -f $CKPT/config.json ] || python3 gpu_make_random_7b.py $CKPT --tokenizer fixtures/qwen2-tokenizer.json.gz > $R/make.log 2>&1
for t in 1 4 16; do ./after tokenize --tokenizer $CKPT/tokenizer.json --benchmark 200 --threads $t < $R/text.txt 2>&1 | tail -2 | sed "s/^/threads $t: /"; done | tee $R/tokenize.txt
for pass in 1; do
  for bin in old after; do
    ./$bin serve --model $CKPT --backend cuda --port 7862 --gpu-memory-limit-gib 15 --log-level notice > $R/serve-$bin-$pass.log 2>&1 &
    SERVER=$!
    for _ in $(seq 1 300); do curl -fs http://127.0.0.1:7862/ready > /dev/null 2>&1 && break; sleep 0.5; done
    for mix in S1; do
      python3 gpu_thread_cpu.py snapshot $SERVER > $R/before.json
      ./$bin bench-serve --url http://127.0.0.1:7862 --mix $mix --clients 64 --seconds 8 \
        --json-out $R/serve-$bin-$pass-$mix.json 2>&1 | grep -E '^S[1-4] ' | sed "s/^/$bin pass $pass: /"
      python3 gpu_thread_cpu.py snapshot $SERVER > $R/after.json
      python3 gpu_thread_cpu.py diff $R/before.json $R/after.json > $R/threads-$bin-$pass-$mix.txt
      echo "$bin pass $pass $mix: server CPU $(tail -1 $R/threads-$bin-$pass-$mix.txt | awk '{print $NF}') s"
    done
    kill -TERM $SERVER; wait $SERVER
  done
done
rm -f $R/before.json $R/after.json
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R
