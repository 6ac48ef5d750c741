#!/usr/bin/env bash
# Runs on the GPU machine, from the folder scripts/gpu-build.sh filled: the A/B of an environment switch in one
# call, e.g. the attention kernels:
#   VAR=LYCHEE_HOPPER_ATTENTION VALUES=1,0 bash .device/gpu-ab.sh
# 1. the random 7B checkpoint (made once per machine, as gpu-run.sh does);
# 2. `selftest --backend cuda --model` with VAR at the first value (SKIP_SELFTEST=1 skips it);
# 3. PAIRS rounds of `bench`, every value once a round in turn (alternating, so that the GPU's drift under its power
#    cap falls on all of them), logits kept;
# 4. with PROFILE=1, one synchronised per-op profile pass (LYCHEE_PROFILE=1) for each value;
# 5. the tables last: docs/s per workload, value and round, the profile's attention rows, and whether the values'
#    logits agree bitwise (a switch that only reschedules work must not change them).
# Variables: VAR, VALUES (comma-separated), WORKLOADS (W1,W2,W3,W4), PAIRS (2), REPEATS (5), DTYPE (bf16),
#   PROFILE, PROFILE_ROWS (a regular expression for the profile rows shown, default attention), SKIP_SELFTEST,
#   BACKEND (cuda), CKPT (/tmp/lychee-7b-random), BIN (./lychee-rerank), BENCH_ARGS.
# Everything lands in $OUT (bench-<value>-<round>.txt, profile-<value>.txt, selftest.txt, ab-summary.txt).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/lychee-out}; mkdir -p "$OUT"
VAR=${VAR:?set VAR to the environment variable to switch}; VALUES=${VALUES:?set VALUES, e.g. 1,0}
WORKLOADS=${WORKLOADS:-W1,W2,W3,W4}; PAIRS=${PAIRS:-2}; REPEATS=${REPEATS:-5}; DTYPE=${DTYPE:-bf16}
BACKEND=${BACKEND:-cuda}; CKPT=${CKPT:-/tmp/lychee-7b-random}
cd "$HERE"
if [ -f lychee-rerank.gz ]; then gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz; fi
export LD_LIBRARY_PATH="$HERE/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
BIN=${BIN:-./lychee-rerank}
IFS=, read -r -a values <<< "$VALUES"

if [ ! -f "$CKPT/config.json" ]; then
    echo "== random 7B checkpoint"
    python3 gpu_make_random_7b.py "$CKPT" --tokenizer fixtures/qwen2-tokenizer.json.gz > "$OUT/make.log" 2>&1 \
        || { tail -5 "$OUT/make.log"; exit 1; }
fi
if [ -z "${SKIP_SELFTEST:-}" ]; then
    echo "== selftest ($VAR=${values[0]})"
    env "$VAR=${values[0]}" timeout 300 "$BIN" selftest --backend "$BACKEND" --model "$CKPT" > "$OUT/selftest.txt" 2>&1
fi
for round in $(seq 1 "$PAIRS"); do
    for value in "${values[@]}"; do
        echo "== bench $VAR=$value, round $round"
        # shellcheck disable=SC2086
        env "$VAR=$value" timeout 300 "$BIN" bench --model "$CKPT" --backend "$BACKEND" --workload "$WORKLOADS" \
            --dtype "$DTYPE" --repeats "$REPEATS" --scores-out "$OUT/scores-$value-$round.json" ${BENCH_ARGS:-} \
            > "$OUT/bench-$value-$round.txt" 2>&1 || echo "bench failed: see $OUT/bench-$value-$round.txt"
    done
done
if [ -n "${PROFILE:-}" ]; then
    for value in "${values[@]}"; do
        echo "== profile $VAR=$value"
        # shellcheck disable=SC2086
        env "$VAR=$value" LYCHEE_PROFILE=1 timeout 300 "$BIN" bench --model "$CKPT" --backend "$BACKEND" \
            --workload "$WORKLOADS" --dtype "$DTYPE" --repeats 1 ${BENCH_ARGS:-} > "$OUT/profile-$value.txt" 2>&1
    done
fi

python3 - "$OUT" "$VAR" "$VALUES" "$PAIRS" "${PROFILE_ROWS:-attention}" > "$OUT/ab-summary.txt" 2>&1 <<'PY'
import json, os, re, sys
out, var, values, pairs, rows = sys.argv[1], sys.argv[2], sys.argv[3].split(","), int(sys.argv[4]), sys.argv[5]
rates = {}
for value in values:
    for round in range(1, pairs + 1):
        path = f"{out}/bench-{value}-{round}.txt"
        if not os.path.exists(path):
            continue
        for line in open(path):
            fields = line.split()
            # The bench table: workload, docs, tokens, median s, docs/s, ...
            if len(fields) > 4 and re.fullmatch(r"W\d|S\d", fields[0]) and fields[1].isdigit():
                rates.setdefault(fields[0], {}).setdefault(value, []).append(fields[4])
print(f"docs/s by workload and {var} (rounds in order)")
print("workload | " + " | ".join(values))
for workload, by in rates.items():
    print(workload + " | " + " | ".join(" / ".join(by.get(v, ["-"])) for v in values))
logits = {}
for value in values:
    path = f"{out}/scores-{value}-1.json"
    if os.path.exists(path):
        logits[value] = {w: r.get("logits") for w, r in json.load(open(path)).items()}
if len(logits) == len(values) and values:
    first = logits[values[0]]
    same = all(logits[v] == first for v in values[1:])
    count = sum(len(x or []) for x in first.values())
    print(f"logits of round 1: {'bitwise identical' if same else 'DIFFER'} across {var} = {', '.join(values)} ({count} each)")
for value in values:
    path = f"{out}/profile-{value}.txt"
    if os.path.exists(path):
        print(f"-- profile {var}={value}")
        for line in open(path):
            if re.match(rows, line) or " profile (" in line:
                print(line.rstrip())
PY
selftest_line=$(grep -E "ops passed" "$OUT/selftest.txt" 2>/dev/null | tail -1)
echo "===== SUMMARY"
[ -n "$selftest_line" ] && echo "selftest ($VAR=${values[0]}): $selftest_line"
cat "$OUT/ab-summary.txt"
