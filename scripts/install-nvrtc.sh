#!/usr/bin/env bash
# Fetches NVIDIA's NVRTC (the CUDA run-time compiler, which needs no GPU) from PyPI into .build/nvrtc, so
# that `make test` compiles every CUDA kernel source on machines without a GPU or CUDA install.
# Prints the folder to put on LD_LIBRARY_PATH. Safe to run again (kept once fetched). If it cannot be
# fetched, says so and exits 0: the kernel compile tests are then skipped, nothing else changes.
set -uo pipefail
cd "$(dirname "$0")/.."
DEST=.build/nvrtc
if ls "$DEST"/libnvrtc.so.* >/dev/null 2>&1; then echo "$PWD/$DEST"; exit 0; fi
mkdir -p "$DEST"
WHEELS=$(mktemp -d)
trap 'rm -rf "$WHEELS"' EXIT
PYTHON=$(command -v python3 || true)
if [ -z "$PYTHON" ] || ! "$PYTHON" -m pip download -q --no-deps --only-binary=:all: -d "$WHEELS" \
    'nvidia-cuda-nvrtc>=13,<14' >&2; then
    echo "install-nvrtc: could not fetch nvidia-cuda-nvrtc from PyPI; the CUDA kernel compile tests will be skipped" >&2
    exit 0
fi
"$PYTHON" - "$WHEELS" "$DEST" <<'PY'
import os, sys, zipfile
wheels, dest = sys.argv[1], sys.argv[2]
for name in os.listdir(wheels):
    with zipfile.ZipFile(os.path.join(wheels, name)) as wheel:
        for item in wheel.infolist():
            if "/lib/" in item.filename and ".so" in item.filename and not item.is_dir():
                with open(os.path.join(dest, os.path.basename(item.filename)), "wb") as out:
                    out.write(wheel.read(item))
PY
echo "$PWD/$DEST"
