#!/usr/bin/env bash
# CPU prefill benchmark: builds lychee-rerank in release, then runs it beside transformers + torch (CPU) on the
# same mid-size random checkpoint and inputs (tools/bench_cpu.py). Needs: pip install torch transformers
# tokenizers safetensors numpy pillow.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product lychee-rerank
python3 tools/bench_cpu.py --binary .build/release/lychee-rerank "$@"
