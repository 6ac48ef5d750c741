#!/usr/bin/env python3
"""CPU prefill benchmark: lychee-rerank (release build) beside transformers + torch on the same machine,
the same mid-size random checkpoint and the same inputs.

Run from the package root (or through scripts/bench-cpu.sh, which builds first):
    python3 tools/bench_cpu.py [--binary .build/release/lychee-rerank] [--documents 16] [--threads N]
Needs (PyPI): torch (CPU is enough), transformers>=4.57, tokenizers, safetensors, numpy, pillow.

The checkpoint (written to a temporary folder, never committed) has Qwen2.5-VL's structure at a mid size:
decoder 1024 wide, 8 layers, 16 heads over 4 KV heads, MLP 2816; vision tower 8 blocks of 512 with full attention
in blocks 3 and 7. Workload: one text query and N text documents of about 256 tokens each, plus the same with
one 448x336 image per document. Both engines read the same prompts; torch runs them one pair at a time (its
fastest mode on CPU: no padding) and we run our packed batches. Reported: prefill tokens/s and docs/s for each,
the ratio, and the largest |z| difference between the two engines (a parity check on a model 40x larger than the
unit-test fixtures).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast, Qwen2VLImageProcessor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_model_fixtures as fixtures  # noqa: E402  (prompt layout, config helpers, image drawing)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def build_checkpoint(directory, tok):
    vocab = tok.get_vocab_size()
    ids = {name: tok.token_to_id(name) for name in fixtures.SPECIALS}
    text = fixtures.text_config(1024, 8, 16, 4, 2816, vocab, False)
    text["rope_scaling"] = {"type": "mrope", "mrope_section": [8, 12, 12]}
    vision = dict(depth=8, hidden_size=512, intermediate_size=1368, num_heads=8, out_hidden_size=1024,
                  fullatt_block_indexes=[3, 7], window_size=112, patch_size=14, spatial_merge_size=2,
                  temporal_patch_size=2, in_chans=3, tokens_per_second=2, hidden_act="silu")
    cfg = fixtures.Qwen2_5_VLConfig(
        text_config=text, vision_config=vision, image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"], tie_word_embeddings=False)
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = fixtures.Qwen2_5_VLForConditionalGeneration._from_config(cfg, dtype=torch.float32).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=gen) / np.sqrt(np.prod(p.shape[1:])))
            elif "norm" in name or "ln_q" in name:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    fixtures.save_legacy_sharded(model, fixtures.flat_config(model), directory)
    tok.save(os.path.join(directory, "tokenizer.json"))
    with open(os.path.join(directory, "preprocessor_config.json"), "w") as f:
        json.dump({"min_pixels": fixtures.MIN_PIXELS, "max_pixels": fixtures.MAX_PIXELS}, f)
    return model


def document_text(index, rng, words):
    return " ".join(rng.choice(words, size=190)) + f" (document {index})"


def run_torch(model, fast_tok, processor, work, query, docs, image_paths):
    yes, no = fast_tok.convert_tokens_to_ids("yes"), fast_tok.convert_tokens_to_ids("no")
    direction = model.lm_head.weight[yes] - model.lm_head.weight[no]
    zs, tokens = [], 0
    start = time.perf_counter()
    with torch.no_grad():
        for i, doc in enumerate(docs):
            kwargs, n_pad = {}, []
            document = {"text": doc}
            if image_paths:
                img = Image.open(image_paths[i]).convert("RGB")
                feats = processor(images=[img], return_tensors="pt")
                kwargs = dict(pixel_values=feats["pixel_values"], image_grid_thw=feats["image_grid_thw"])
                n_pad = [int(feats["image_grid_thw"][0].prod()) // 4]
                document["image"] = True
            prompt = fixtures.render_prompt(fixtures.DEFAULT_INSTRUCTION, {"text": query}, document, n_pad)
            ids = fast_tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
            tokens += ids.shape[1]
            out = model.model(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
            zs.append(float(out.last_hidden_state[0, -1] @ direction))
    return time.perf_counter() - start, tokens, zs


def run_ours(binary, model_dir, query, docs_file, budget):
    cmd = [binary, "rerank", "--model", model_dir, "--query", query, "--documents", docs_file, "--json",
           "--timings", "--token-budget", str(budget)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"lychee-rerank failed: {proc.stderr}")
    timing = re.search(r"scoring ([0-9.]+) s.* (\d+) tokens", proc.stderr)
    results = sorted(json.loads(proc.stdout)["results"], key=lambda r: r["index"])
    return float(timing.group(1)), int(timing.group(2)), [r["logit"] for r in results]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "lychee-rerank"))
    parser.add_argument("--documents", type=int, default=16)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--token-budget", type=int, default=4096)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    tok = Tokenizer.from_file(os.path.join(ROOT, "Fixtures", "checkpoints", "tiny-untied-legacy", "tokenizer.json"))
    fast_tok = PreTrainedTokenizerFast(tokenizer_object=tok)
    processor = Qwen2VLImageProcessor(min_pixels=fixtures.MIN_PIXELS, max_pixels=fixtures.MAX_PIXELS)
    rng = np.random.default_rng(1)
    words = ["capital", "France", "river", "energy", "light", "bicycle", "wall", "quick", "brown", "fox", "paris",
             "the", "of", "and", "is", "北京", "首都", "numbers", "12345", "document", "query", "relevant"]
    query = "What is the capital of France and which river crosses it?"
    docs = [document_text(i, rng, words) for i in range(args.documents)]

    with tempfile.TemporaryDirectory() as work:
        model_dir = os.path.join(work, "model")
        os.makedirs(model_dir)
        print(f"building the mid-size checkpoint in {model_dir} ...", file=sys.stderr)
        model = build_checkpoint(model_dir, tok)
        image_paths = []
        for i in range(args.documents):
            path = os.path.join(work, f"image-{i}.png")
            fixtures.draw_image(448, 336, 100 + i).save(path)
            image_paths.append(path)
        rows = []
        for label, with_images in (("text documents", False), ("image+text documents", True)):
            docs_file = os.path.join(work, f"docs-{with_images}.jsonl")
            with open(docs_file, "w") as f:
                for i, d in enumerate(docs):
                    f.write(json.dumps({"text": d, **({"image": image_paths[i]} if with_images else {})}) + "\n")
            ours_s, ours_tokens, ours_z = run_ours(args.binary, model_dir, query, docs_file, args.token_budget)
            ref_s, ref_tokens, ref_z = run_torch(model, fast_tok, processor, work, query, docs,
                                                 image_paths if with_images else [])
            dz = max(abs(a - b) for a, b in zip(ours_z, ref_z))
            rows.append((label, ours_tokens, ref_tokens, ours_tokens / ours_s, ref_tokens / ref_s,
                         args.documents / ours_s, args.documents / ref_s, dz))

    print(f"\nCPU prefill, {args.documents} documents, {args.threads} threads, mid-size random Qwen2.5-VL "
          f"(decoder 1024x8, vision 512x8), torch {torch.__version__}")
    print(f"{'workload':22s} {'tokens':>7s} {'ours tok/s':>11s} {'torch tok/s':>12s} {'ratio':>6s} "
          f"{'ours docs/s':>12s} {'torch docs/s':>13s} {'max |dz|':>9s}")
    for label, ot, rt, otps, rtps, odps, rdps, dz in rows:
        assert ot == rt, f"token counts differ: ours {ot}, torch {rt}"
        print(f"{label:22s} {ot:7d} {otps:11.0f} {rtps:12.0f} {otps / rtps:6.2f} {odps:12.2f} {rdps:13.2f} "
              f"{dz:9.2e}")


if __name__ == "__main__":
    main()
