#!/usr/bin/env python3
"""Random-weight checkpoint of the real Lychee-Rerank-MM / Qwen2.5-VL-7B shape, for the GPU machine.

Builds Qwen2_5_VLForConditionalGeneration from the 7B configuration directly on the GPU in bf16 with
transformers' own initialisation (normal, std = initializer_range), saves it with save_pretrained, then
writes the configuration in the published flat layout (as Qwen2.5-VL-7B-Instruct's config.json has it),
the real Qwen2 tokenizer and Lychee's preprocessor settings beside it.

Requires (on the GPU machine): torch 2.11, transformers 5.17.
    python3 tools/gpu_make_random_7b.py OUT_DIR --tokenizer qwen2-tokenizer.json.gz [--seed 0]
"""
import argparse
import gzip
import json
import os
import shutil
import time

import torch
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

CONFIG = {
    "architectures": ["Qwen2_5_VLForConditionalGeneration"],
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "vision_start_token_id": 151652,
    "vision_end_token_id": 151653,
    "vision_token_id": 151654,
    "image_token_id": 151655,
    "video_token_id": 151656,
    "hidden_act": "silu",
    "hidden_size": 3584,
    "initializer_range": 0.02,
    "intermediate_size": 18944,
    "max_position_embeddings": 128000,
    "max_window_layers": 28,
    "model_type": "qwen2_5_vl",
    "num_attention_heads": 28,
    "num_hidden_layers": 28,
    "num_key_value_heads": 4,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 32768,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "vision_config": {
        "depth": 32,
        "hidden_act": "silu",
        "hidden_size": 1280,
        "intermediate_size": 3420,
        "num_heads": 16,
        "in_chans": 3,
        "out_hidden_size": 3584,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "spatial_patch_size": 14,
        "window_size": 112,
        "fullatt_block_indexes": [7, 15, 23, 31],
        "tokens_per_second": 2,
        "temporal_patch_size": 2,
    },
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
    "vocab_size": 152064,
}

PREPROCESSOR = {
    "image_processor_type": "Qwen2VLImageProcessor",
    "min_pixels": 3136,
    "max_pixels": 1003520,
    "patch_size": 14,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "do_rescale": True,
    "rescale_factor": 0.00392156862745098,
    "do_normalize": True,
    "do_resize": True,
    "resample": 3,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--tokenizer", required=True, help="qwen2 tokenizer.json(.gz)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.time()
    torch.manual_seed(args.seed)
    config = Qwen2_5_VLConfig(**CONFIG)
    with torch.device("cuda"):
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    print(f"built {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B parameters in {time.time() - start:.1f} s", flush=True)
    model.save_pretrained(args.out, max_shard_size="5GB")
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
    with open(os.path.join(args.out, "preprocessor_config.json"), "w") as f:
        json.dump(PREPROCESSOR, f, indent=2)
    opener = gzip.open if args.tokenizer.endswith(".gz") else open
    with opener(args.tokenizer, "rb") as src, open(os.path.join(args.out, "tokenizer.json"), "wb") as dst:
        shutil.copyfileobj(src, dst)
    for leftover in ("generation_config.json",):
        path = os.path.join(args.out, leftover)
        if os.path.exists(path):
            os.remove(path)
    print(f"saved to {args.out} in {time.time() - start:.1f} s: {sorted(os.listdir(args.out))}", flush=True)


if __name__ == "__main__":
    main()
