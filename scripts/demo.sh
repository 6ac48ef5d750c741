#!/usr/bin/env bash
# The main job on the committed fixture checkpoint: rank text and image documents for a text query and for
# an image query. (With a real model folder: MODEL=/path/to/lychee-rerank-mm scripts/demo.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/lychee-rerank
model=${MODEL:-Fixtures/checkpoints/tiny-untied-legacy}
images=Fixtures/checkpoints/images
docs=$(mktemp --suffix=.jsonl)
trap 'rm -f "$docs"' EXIT
cat > "$docs" <<JSON
{"text": "Paris is the capital of France."}
{"text": "Photosynthesis turns light into chemical energy."}
{"image": "$PWD/$images/photo-a.png"}
{"image": "$PWD/$images/photo-c.jpg", "text": "a wide gradient picture"}
JSON
echo "== model: $model"
$bin inspect --model "$model" | head -12
echo
echo "== text query"
$bin rerank --model "$model" --query "What is the capital of France?" --documents "$docs" --timings
echo
echo "== image query"
$bin rerank --model "$model" --query-image "$images/photo-b.png" --query "same scene?" --documents "$docs" --json
