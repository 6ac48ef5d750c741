#!/usr/bin/env bash
# Builds the static lychee-rerank binary here (no GPU needed) and packs it, with the shared codec and BLAS
# libraries the GPU machine lacks and the tools/ scripts, into a folder for the device tool's `carry`.
#   scripts/gpu-build.sh [DEST]      (default DEST: /work/main/.device, ignored by .git/info/exclude)
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-/work/main/.device}
SCRATCH=${SCRATCH:-.build}
swift build -c release --static-swift-stdlib --product lychee-rerank --scratch-path "$SCRATCH"
BIN=$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)/lychee-rerank
mkdir -p "$DEST"
strip -o "$DEST/lychee-rerank" "$BIN"
gzip -f -9 "$DEST/lychee-rerank"
# Every shared library outside glibc/libstdc++ travels (Debian sonames differ from Ubuntu's).
rm -rf "$DEST/lib" && mkdir -p "$DEST/lib"
ldd "$BIN" | awk '/=> \// {print $3}' | grep -Ev '/(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|ld-linux[^/]*)\.so' \
    | while read -r so; do cp -L "$so" "$DEST/lib/"; done
tar -C "$DEST" -czf "$DEST/lib.tar.gz" lib && rm -rf "$DEST/lib"
cp tools/gpu_*.py scripts/gpu-run.sh scripts/gpu-serve.sh scripts/gpu-engines.sh scripts/gpu-fp8.sh scripts/gpu-ab.sh "$DEST/"
mkdir -p "$DEST/fixtures" && cp Fixtures/tokenizer/qwen2-tokenizer.json.gz "$DEST/fixtures/"
du -sh "$DEST"/*
