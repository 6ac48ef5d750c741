#!/usr/bin/env bash
# The main job on the committed fixtures (replaced by `serve` once the server lands).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/lychee-rerank
$bin --help
