#!/usr/bin/env python3
"""Where do image prompts diverge? The transformers model in fp32 and in bf16 on lychee-rerank's own
pixel values for the first pairs of a bench workload, one pair per forward (no padding), beside the z
values lychee-rerank wrote (CUDA and CPU bench JSON files).

Requires (GPU machine): torch, transformers 5.17.
    python3 tools/gpu_image_diagnosis.py --model DIR --inputs DUMP --workload W4 --pairs 2 ours.json cpu.json
"""
import argparse
import json
import os

import numpy as np
import torch
from transformers import Qwen2_5_VLForConditionalGeneration
import inspect


def mm_types(model, ids):
    """transformers >= 5 needs `mm_token_type_ids` (1 at image pads) to build image M-RoPE positions."""
    if "mm_token_type_ids" not in inspect.signature(model.model.forward).parameters:
        return {}
    return {"mm_token_type_ids": (ids == model.config.image_token_id).int()}



def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--workload", default="W4")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("results", nargs="*", help="bench --scores-out files to print beside")
    args = parser.parse_args()
    data = json.load(open(os.path.join(args.inputs, f"{args.workload}.json")))
    pixels = {name: (torch.from_numpy(np.fromfile(os.path.join(args.inputs, info["file"]), dtype="<f4").reshape(-1, 1176)),
                     info["grid"]) for name, info in data["pixels"].items()}
    rows = {}
    for dtype in (torch.float32, torch.bfloat16):
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
            args.model, dtype=dtype, attn_implementation="sdpa", device_map="cuda").eval()
        yes, no = 9693, 2152
        zs = []
        for pair in data["pairs"][:args.pairs]:
            ids = torch.tensor([pair["tokenIDs"]], device="cuda")
            pv = torch.cat([pixels[n][0] for n in pair["images"]]).to("cuda", dtype)
            grid = torch.tensor([pixels[n][1] for n in pair["images"]], device="cuda")
            with torch.inference_mode():
                out = model.model(input_ids=ids, attention_mask=torch.ones_like(ids), **mm_types(model, ids), pixel_values=pv, image_grid_thw=grid)
                logits = model.lm_head(out.last_hidden_state[:, -1]).float()
                zs.append((logits[0, yes] - logits[0, no]).item())
                if dtype == torch.float32 and not rows:
                    emb = model.model.get_image_features(pv, grid)
                    emb = emb.pooler_output if hasattr(emb, "pooler_output") else emb
                    emb = torch.cat(list(emb)) if isinstance(emb, (list, tuple)) else emb
                    print("reference fp32 image features: shape", tuple(emb.shape), "mean |x|", emb.abs().mean().item(),
                          "first values", emb.flatten()[:4].tolist())
        rows[f"transformers {str(dtype).split('.')[-1]}"] = zs
        del model
        torch.cuda.empty_cache()
    for path in args.results:
        rows[os.path.basename(path)] = json.load(open(path))[args.workload]["logits"][:args.pairs]
    for name, zs in rows.items():
        print(f"{name:28s} " + " ".join(f"{z:9.4f}" for z in zs))


if __name__ == "__main__":
    main()
