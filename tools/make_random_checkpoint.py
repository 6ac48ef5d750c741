#!/usr/bin/env python3
"""A random-weight checkpoint of the real Qwen2.5-VL-7B (or 3B) shape, written with numpy alone, shard by shard.

Run:  python3 tools/make_random_checkpoint.py OUT_DIR [--size 7b|3b] [--shard-gb 4]
Needs (PyPI): numpy. Peak memory is about one shard; the 7B takes 16.6 GB of disk.

The folder holds the released config.json (Fixtures/models/configs/qwen2.5-vl-{7b,3b}-instruct.json), the
real-vocabulary Qwen2 tokenizer (Fixtures/tokenizer/qwen2-tokenizer.json.gz), Lychee's preprocessor limits and
bf16 safetensors shards with an index, legacy tensor names. Values: normal(0, 0.02) for matrices, 1 for norm
weights, 0 for biases, like transformers' initialisation. It exists to show memory use and speed at the real
size (no reference scores: use transformers for parity).
"""
import argparse
import gzip
import json
import os
import shutil
import struct

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def expected_tensors(cfg):
    """(name, shape) of every tensor, legacy names, in the order transformers lists them."""
    h, inter, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    heads, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = h // heads
    v = cfg["vision_config"]
    vh, vi, depth = v.get("hidden_size", 1280), v.get("intermediate_size", 3420), v.get("depth", 32)
    out = v.get("out_hidden_size", h)
    patch = v.get("in_chans", 3) * v.get("temporal_patch_size", 2) * v.get("patch_size", 14) ** 2
    names = [("model.embed_tokens.weight", (cfg["vocab_size"], h))]
    for i in range(layers):
        p = f"model.layers.{i}."
        names += [(p + "input_layernorm.weight", (h,)), (p + "post_attention_layernorm.weight", (h,)),
                  (p + "self_attn.q_proj.weight", (h, h)), (p + "self_attn.q_proj.bias", (h,)),
                  (p + "self_attn.k_proj.weight", (kv * hd, h)), (p + "self_attn.k_proj.bias", (kv * hd,)),
                  (p + "self_attn.v_proj.weight", (kv * hd, h)), (p + "self_attn.v_proj.bias", (kv * hd,)),
                  (p + "self_attn.o_proj.weight", (h, h)), (p + "mlp.gate_proj.weight", (inter, h)),
                  (p + "mlp.up_proj.weight", (inter, h)), (p + "mlp.down_proj.weight", (h, inter))]
    names.append(("model.norm.weight", (h,)))
    if not cfg.get("tie_word_embeddings", False):
        names.append(("lm_head.weight", (cfg["vocab_size"], h)))
    names.append(("visual.patch_embed.proj.weight", (vh, 3, 2, 14, 14)))
    for j in range(depth):
        p = f"visual.blocks.{j}."
        names += [(p + "norm1.weight", (vh,)), (p + "norm2.weight", (vh,)),
                  (p + "attn.qkv.weight", (3 * vh, vh)), (p + "attn.qkv.bias", (3 * vh,)),
                  (p + "attn.proj.weight", (vh, vh)), (p + "attn.proj.bias", (vh,)),
                  (p + "mlp.gate_proj.weight", (vi, vh)), (p + "mlp.gate_proj.bias", (vi,)),
                  (p + "mlp.up_proj.weight", (vi, vh)), (p + "mlp.up_proj.bias", (vi,)),
                  (p + "mlp.down_proj.weight", (vh, vi)), (p + "mlp.down_proj.bias", (vh,))]
    names += [("visual.merger.ln_q.weight", (vh,)), ("visual.merger.mlp.0.weight", (4 * vh, 4 * vh)),
              ("visual.merger.mlp.0.bias", (4 * vh,)), ("visual.merger.mlp.2.weight", (out, 4 * vh)),
              ("visual.merger.mlp.2.bias", (out,))]
    assert patch == 1176
    return names


def values_bf16(name, shape, rng):
    count = int(np.prod(shape))
    if name.endswith("norm.weight") or "norm1" in name or "norm2" in name or "ln_q" in name \
            or name.endswith("layernorm.weight"):
        return np.full(count, 0x3F80, dtype=np.uint16)  # 1.0
    if name.endswith(".bias"):
        return np.zeros(count, dtype=np.uint16)
    x = rng.standard_normal(count, dtype=np.float32) * np.float32(0.02)
    return (x.view(np.uint32) >> 16).astype(np.uint16)  # truncation to bf16 is fine for random weights


def write_shard(path, tensors, rng):
    header, offset = {}, 0
    for name, shape in tensors:
        size = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * ((8 - len(blob) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name, shape in tensors:
            f.write(values_bf16(name, shape, rng).tobytes())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--size", choices=["7b", "3b"], default="7b")
    parser.add_argument("--shard-gb", type=float, default=4.0)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    cfg_path = os.path.join(ROOT, "Fixtures", "models", "configs", f"qwen2.5-vl-{args.size}-instruct.json")
    cfg = json.load(open(cfg_path))
    shutil.copy(cfg_path, os.path.join(args.out, "config.json"))
    with gzip.open(os.path.join(ROOT, "Fixtures", "tokenizer", "qwen2-tokenizer.json.gz")) as src, \
            open(os.path.join(args.out, "tokenizer.json"), "wb") as dst:
        shutil.copyfileobj(src, dst)
    json.dump({"min_pixels": 3136, "max_pixels": 1003520, "patch_size": 14, "merge_size": 2,
               "temporal_patch_size": 2}, open(os.path.join(args.out, "preprocessor_config.json"), "w"))
    tensors = expected_tensors(cfg)
    limit = int(args.shard_gb * 1e9)
    shards, current, size = [], [], 0
    for name, shape in tensors:
        nbytes = int(np.prod(shape)) * 2
        if current and size + nbytes > limit:
            shards.append(current)
            current, size = [], 0
        current.append((name, shape))
        size += nbytes
    shards.append(current)
    rng = np.random.default_rng(0)
    weight_map, total = {}, 0
    for k, shard in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        write_shard(os.path.join(args.out, fname), shard, rng)
        for name, shape in shard:
            weight_map[name] = fname
            total += int(np.prod(shape)) * 2
        print(f"wrote {fname} ({len(shard)} tensors)", flush=True)
    json.dump({"metadata": {"total_size": total}, "weight_map": weight_map},
              open(os.path.join(args.out, "model.safetensors.index.json"), "w"), indent=2)
    print(f"{args.out}: {total / 1e9:.2f} GB of bf16 weights")


if __name__ == "__main__":
    main()
