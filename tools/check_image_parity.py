#!/usr/bin/env python3
"""Image-prompt parity of our CPU engine with the installed transformers on a small checkpoint.

Feeds transformers (fp32, one pair per forward) the exact token ids and pixel values that
`lychee-rerank bench --backend cpu --dump-inputs DIR --scores-out OURS` used, and prints both z.
Here (transformers 4.57) they agree to 1e-6 on W4 pairs with 768x512 images; run it on the GPU machine
to see whether transformers 5.17 still agrees.
    python3 tools/check_image_parity.py Fixtures/checkpoints/tiny-untied-legacy DIR OURS
"""
import json, os, numpy as np, torch, transformers
from tokenizers import Tokenizer
from transformers import Qwen2_5_VLForConditionalGeneration
import inspect


def mm_types(model, ids):
    """transformers >= 5 needs `mm_token_type_ids` (1 at image pads) to build image M-RoPE positions."""
    if "mm_token_type_ids" not in inspect.signature(model.model.forward).parameters:
        return {}
    return {"mm_token_type_ids": (ids == model.config.image_token_id).int()}

import sys
M, I, OURS = sys.argv[1], sys.argv[2], sys.argv[3]
tok=Tokenizer.from_file(f"{M}/tokenizer.json"); yes,no=tok.token_to_id("yes"),tok.token_to_id("no")
model=Qwen2_5_VLForConditionalGeneration.from_pretrained(M, dtype=torch.float32, attn_implementation="sdpa").eval()
d=json.load(open(f"{I}/W4.json"))
px={n:(torch.from_numpy(np.fromfile(f"{I}/{i['file']}",dtype="<f4").reshape(-1,1176)),i["grid"]) for n,i in d["pixels"].items()}
for pair in d["pairs"]:
    ids=torch.tensor([pair["tokenIDs"]]); pv=torch.cat([px[n][0] for n in pair["images"]]); g=torch.tensor([px[n][1] for n in pair["images"]])
    with torch.inference_mode():
        out=model.model(input_ids=ids, attention_mask=torch.ones_like(ids), **mm_types(model, ids), pixel_values=pv, image_grid_thw=g)
        l=model.lm_head(out.last_hidden_state[:,-1])
    print("transformers", transformers.__version__, (l[0,yes]-l[0,no]).item())
print("ours cpu", json.load(open(OURS))["W4"]["logits"])
