#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (-sanitize=fuzzer,address) and runs each for FUZZ_SECONDS seconds.
#   scripts/fuzz.sh                      every target, 60 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh     longer runs
#   FUZZ_TARGETS="ImageJPEG TokenizerJSON" scripts/fuzz.sh    some targets only
#   FUZZ_RUNS=1000000 scripts/fuzz.sh    stop each target after this many executions instead of a time
#   FUZZ_BUILD_JOBS=1 scripts/fuzz.sh    build with one compiler job (a shared or small machine)
# Each target starts from its committed seeds (Fuzz/Corpus/<target>, read only) and grows a working corpus in
# .build-fuzz/corpus/<target>, kept between runs. A crash, a leak, a hang (FUZZ_TIMEOUT, 25 s) or memory over
# FUZZ_RSS_MB leaves its input in .build-fuzz/crashes/ and makes the script exit 1 after the remaining targets
# ran; a crashing input becomes a regression test in the product's test suite (README, "Fuzzing").
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_RUNS=${FUZZ_RUNS:-}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-25}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-3072}
ALL_TARGETS="SafeTensorsHeader TokenizerJSON ImageJPEG ImagePNG ImageWebP ImageGIF ImageBMP RequestJSON"
FUZZ_TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}
SCRATCH="$PWD/.build-fuzz"

# Coverage and AddressSanitizer for Swift (the product's modules) and C (the image codec shims); libFuzzer's
# driver runs each target (Fuzz/Sources/CFuzzDriver). -enable-testing lets the harnesses reach the parsers'
# internal entry points; lld, because gold aborts on these links ("internal error in format_file_lineno").
echo "building fuzz targets in $SCRATCH (release, -sanitize=fuzzer,address)"
jobs=()
[[ -n "${FUZZ_BUILD_JOBS:-}" ]] && jobs=(-j "$FUZZ_BUILD_JOBS")
swift build --package-path Fuzz --scratch-path "$SCRATCH" -c release "${jobs[@]}" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing -Xswiftc -use-ld=lld \
    -Xcc -fsanitize=fuzzer-no-link,address
BIN="$SCRATCH/release"

# Swift's runtime keeps caches for the life of the process; only leaks in code under test matter.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
failed=()
summary=()
for target in $FUZZ_TARGETS; do
    seeds="Fuzz/Corpus/$target"
    work="$SCRATCH/corpus/$target"
    crashes="$SCRATCH/crashes"
    mkdir -p "$work" "$crashes"
    dictionary=()
    [[ -f "Fuzz/Dictionaries/$target.dict" ]] && dictionary=(-dict="Fuzz/Dictionaries/$target.dict")
    limit=(-max_total_time="$FUZZ_SECONDS")
    [[ -n "$FUZZ_RUNS" ]] && limit=(-runs="$FUZZ_RUNS")
    log="$SCRATCH/fuzz-$target.log"
    echo "== $target: ${FUZZ_RUNS:+$FUZZ_RUNS runs}${FUZZ_RUNS:-$FUZZ_SECONDS s} (log: $log)"
    status=0
    "$BIN/Fuzz$target" "$work" "$seeds" "${limit[@]}" "${dictionary[@]}" -timeout="$FUZZ_TIMEOUT" \
        -rss_limit_mb="$FUZZ_RSS_MB" -print_final_stats=1 -artifact_prefix="$crashes/$target-" \
        >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    summary+=("$(printf '%-18s %10s executions %8s exec/s  %s' "$target" "${runs:-?}" "${rate:-?}" \
        "$([[ $status == 0 ]] && echo ok || echo FAILED)")")
    if [[ $status != 0 ]]; then
        failed+=("$target")
        grep -E "ERROR|Fatal error|Test unit written|SUMMARY" "$log" | head -20 || true
    fi
done

printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
    echo "fuzzing found problems in: ${failed[*]} (inputs in $SCRATCH/crashes, logs in $SCRATCH/fuzz-*.log)" >&2
    exit 1
fi
