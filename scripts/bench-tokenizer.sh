#!/usr/bin/env bash
# Measures Qwen2 tokenizer encoding speed (release build) on the ~3,200-token fixture document.
# Usage: scripts/bench-tokenizer.sh [RUNS]   (default 200 runs; prints median/min time and tokens/s,
# with the word cache off and warm). Timings are noisy on a busy machine: run it on an idle one.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-200}"
swift build -c release --product lychee-rerank >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
gzip -dc Fixtures/tokenizer/qwen2-tokenizer.json.gz > "$work/tokenizer.json"
"$(swift build -c release --show-bin-path)/lychee-rerank" tokenize --tokenizer "$work/tokenizer.json" \
    --benchmark "$runs" < Fixtures/tokenizer/document.txt
