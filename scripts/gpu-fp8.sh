#!/usr/bin/env bash
# Runs on the GPU machine, from the folder scripts/gpu-build.sh filled: FP8 against bf16, in one call.
#   1. the random 7B checkpoint (made once per machine, as gpu-run.sh does);
#   2. `selftest --backend cuda`;
#   3. `bench --dtype D` on WORKLOADS for each D of DTYPES (bf16 under --gpu-memory-limit-gib LIMIT_BF16, the
#      8-bit ones under LIMIT_FP8), all on the inputs the first one dumps, nvidia-smi sampling the GPU memory
#      (device and per process) every 200 ms;
#   4. transformers in float32 once (gpu_reference.py), the ground truth, keeping each pair's last hidden state;
#   5. the full-range set: a checkpoint whose lm_head yes row makes the float32 z of the first FULL_RANGE_DOCS
#      pairs of each workload spread with standard deviation FULL_RANGE_STD around 0 (gpu_full_range.py), and
#      `bench --dtype D` on it for each D of FULL_RANGE_DTYPES (one run each, no warm-up);
#   6. the tables (gpu_fp8_report.py): per workload and dtype docs/s, ratio to bf16, GPU memory, Spearman and
#      mean/max |dz| against float32, PASS/FAIL; the full-range table with score histograms and a collapse flag.
#   bash .device/gpu-fp8.sh
# Variables: WORKLOADS (W1,W2,W3,W4), DTYPES (bf16,fp8,fp8-weight-only; empty: no bench), FULL_RANGE_DTYPES
#   (= DTYPES), SKIP_SELFTEST=1, SKIP_REFERENCE=1 (reuse WORK's float32 reference when there), SKIP_FULL_RANGE=1,
#   REPEATS (3, timed runs per workload), FULL_RANGE_DOCS (32), FULL_RANGE_STD (3), OUR_PIXELS=1 (the reference
#   also scores our pixel values: one more float32 pass), LIMIT_BF16 (15), LIMIT_FP8 (10), BENCH_ARGS,
#   SELFTEST_ARGS, DEADLINE_S (480: no full-range bench starts later than this many seconds into the call, so
#   the tables come before the device tool's 600 s limit), CKPT (/tmp/lychee-7b-random), CKPT_FR
#   (/tmp/lychee-7b-full-range), WORK (/tmp/lychee-fp8: kept on a warm machine, so a later call can rerun one
#   part; the tables mark results of an earlier call with *).
# Back in $OUT (4 files): fp8.log (all output), fp8-summary.txt (the tables), fp8-report.json (their figures),
# fp8-work.tar.gz (WORK's JSON, logs and memory samples, without images; refreshed after every stage).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/lychee-out}; mkdir -p "$OUT"
CKPT=${CKPT:-/tmp/lychee-7b-random}; CKPT_FR=${CKPT_FR:-/tmp/lychee-7b-full-range}
WORK=${WORK:-/tmp/lychee-fp8}; INPUTS=$WORK/inputs; FR_INPUTS=$WORK/inputs-full-range
WORKLOADS=${WORKLOADS:-W1,W2,W3,W4}
DTYPES=${DTYPES-bf16,fp8,fp8-weight-only}; FULL_RANGE_DTYPES=${FULL_RANGE_DTYPES-$DTYPES}
REPEATS=${REPEATS:-3}; FULL_RANGE_DOCS=${FULL_RANGE_DOCS:-32}; FULL_RANGE_STD=${FULL_RANGE_STD:-3}
LIMIT_BF16=${LIMIT_BF16:-15}; LIMIT_FP8=${LIMIT_FP8:-10}; DEADLINE_S=${DEADLINE_S:-480}
START=$(date +%s)

stage() { echo; echo "== $* ($(($(date +%s) - START)) s in)"; }

# WORK's small files into $OUT, so that what ran comes back even if the call is cut short.
pack() { tar -C "$WORK" -czf "$OUT/fp8-work.tar.gz" --exclude='*.bmp' --exclude='*.f32' . 2>/dev/null; }

report() {
    python3 gpu_fp8_report.py --work "$WORK" --workloads "$WORKLOADS" --since "$START" --inputs "$INPUTS" \
        --full-range-inputs "$FR_INPUTS" --json-out "$OUT/fp8-report.json" > "$OUT/fp8-summary.txt" 2>&1
    if [ -z "${SKIP_SELFTEST:-}" ] && [ -f "$WORK/selftest.log" ]; then
        echo "selftest: $(grep -E 'ops passed' "$WORK/selftest.log" | tail -1);" \
            "lines with FAIL: $(grep -c FAIL "$WORK/selftest.log")" >> "$OUT/fp8-summary.txt"
    fi
}

peak() { sort -n "$1" 2>/dev/null | grep -E '^[0-9.]+$' | tail -1; }

# bench DTYPE LABEL CHECKPOINT [bench arguments]: scores to WORK/LABEL.json, log WORK/LABEL.log, GPU memory
# samples to WORK/memory-MEM-{idle.txt,device.csv,process.csv} (MEM: LABEL less its "bench-").
bench() {
    local dtype=$1 label=$2 model=$3; shift 3
    local mem=$WORK/memory-${label#bench-} limit=$LIMIT_FP8
    [ "$dtype" = bf16 ] && limit=$LIMIT_BF16
    rm -f "$WORK/$label.json"
    nvidia-smi -i 0 --query-gpu=memory.used --format=csv,noheader,nounits > "$mem-idle.txt"
    nvidia-smi -i 0 --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$mem-device.csv" 2>/dev/null &
    local device_sampler=$!
    nvidia-smi -i 0 --query-compute-apps=used_memory --format=csv,noheader,nounits -lms 200 > "$mem-process.csv" 2>/dev/null &
    local process_sampler=$!
    echo "-- bench --dtype $dtype --gpu-memory-limit-gib $limit $* ($(basename "$model"))"
    # shellcheck disable=SC2086  # BENCH_ARGS: several words
    ./lychee-rerank bench --model "$model" --backend cuda --dtype "$dtype" --workload "$WORKLOADS" \
        --gpu-memory-limit-gib "$limit" --scores-out "$WORK/$label.json" "$@" ${BENCH_ARGS:-} 2>&1 | tee "$WORK/$label.log"
    local status=${PIPESTATUS[0]}
    kill "$device_sampler" "$process_sampler" 2>/dev/null; wait "$device_sampler" "$process_sampler" 2>/dev/null
    local process device
    process=$(peak "$mem-process.csv"); device=$(peak "$mem-device.csv")
    echo "-- $label: exit $status; GPU memory peak (nvidia-smi, MiB): process ${process:--}, device ${device:--}" \
        "(idle before $(cat "$mem-idle.txt"))"
    return "$status"
}

main() {
    cd "$HERE" || exit 1
    mkdir -p "$WORK"
    gunzip -kf lychee-rerank.gz && tar xzf lib.tar.gz
    export LD_LIBRARY_PATH="$HERE/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
    echo "== ldd (missing libraries)"; ldd ./lychee-rerank | grep "not found" || echo "none missing"
    nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv
    echo "WORKLOADS=$WORKLOADS DTYPES=$DTYPES FULL_RANGE_DTYPES=$FULL_RANGE_DTYPES REPEATS=$REPEATS" \
        "FULL_RANGE_DOCS=$FULL_RANGE_DOCS FULL_RANGE_STD=$FULL_RANGE_STD LIMIT_BF16=$LIMIT_BF16 LIMIT_FP8=$LIMIT_FP8"
    if [ ! -f "$CKPT/config.json" ]; then
        stage "random 7B checkpoint"
        python3 gpu_make_random_7b.py "$CKPT" --tokenizer fixtures/qwen2-tokenizer.json.gz 2>&1 | tail -5 | tee "$WORK/make.log"
    fi
    if [ -z "${SKIP_SELFTEST:-}" ]; then
        stage "selftest"
        # shellcheck disable=SC2086  # SELFTEST_ARGS: several words
        ./lychee-rerank selftest --backend cuda --model "$CKPT" ${SELFTEST_ARGS:-} 2>&1 | tee "$WORK/selftest.log"
        pack
    fi

    local dtype
    local dump=(--dump-inputs "$INPUTS")
    for dtype in ${DTYPES//,/ }; do
        stage "bench $dtype"
        bench "$dtype" "bench-$dtype" "$CKPT" --repeats "$REPEATS" "${dump[@]}" && dump=()
        pack
    done

    if [ -n "${SKIP_REFERENCE:-}" ] && [ -f "$WORK/ref-fp32.json" ] && [ -f "$WORK/ref-fp32-hidden.npz" ]; then
        stage "transformers float32: reusing $WORK/ref-fp32.json"
    else
        stage "transformers float32 (the ground truth)"
        rm -f "$WORK/ref-fp32.json" "$WORK/ref-fp32-hidden.npz"
        local pixels=--skip-our-pixels
        [ -n "${OUR_PIXELS:-}" ] && pixels=
        python3 gpu_reference.py --model "$CKPT" --inputs "$INPUTS" --out "$WORK/ref-fp32.json" --dtype float32 \
            --repeats 1 --warmups 0 $pixels --hidden-out "$WORK/ref-fp32-hidden.npz" --workloads "$WORKLOADS" 2>&1 \
            | grep -v -e Warning -e "Loading weights" | tee "$WORK/reference-fp32.log"
    fi
    report; pack

    if [ -z "${SKIP_FULL_RANGE:-}" ] && [ -n "$FULL_RANGE_DTYPES" ]; then
        stage "full-range checkpoint"
        rm -f "$WORK"/full-range-*.json "$WORK/full-range-truth.json"
        if python3 gpu_full_range.py --model "$CKPT" --hidden "$WORK/ref-fp32-hidden.npz" --ref "$WORK/ref-fp32.json" \
            --out "$CKPT_FR" --truth-out "$WORK/full-range-truth.json" --docs "$FULL_RANGE_DOCS" \
            --target-std "$FULL_RANGE_STD" --workloads "$WORKLOADS" 2>&1 | tee "$WORK/full-range.log"; then
            dump=(--dump-inputs "$FR_INPUTS")
            rm -rf "$FR_INPUTS"
            for dtype in ${FULL_RANGE_DTYPES//,/ }; do
                if [ $(($(date +%s) - START)) -gt "$DEADLINE_S" ]; then
                    stage "full-range bench $dtype: skipped, past DEADLINE_S=$DEADLINE_S"; continue
                fi
                stage "full-range bench $dtype"
                bench "$dtype" "full-range-$dtype" "$CKPT_FR" --repeats 1 --warmups 0 \
                    --limit-documents "$FULL_RANGE_DOCS" "${dump[@]}" && dump=()
                pack
            done
        else
            echo "full-range checkpoint failed: no full-range runs"
        fi
    fi

    report; pack
    stage "done"
    cat "$OUT/fp8-summary.txt"
}

main 2>&1 | tee "$OUT/fp8.log"
