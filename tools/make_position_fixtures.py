#!/usr/bin/env python3
"""Golden fixtures for the Qwen2.5-VL position helpers (M-RoPE index, vision RoPE positions, window index).

Builds a tiny random Qwen2.5-VL model with transformers (the real classes, tiny sizes; positions do not
depend on sizes) and records what the reference computes:
  * `Qwen2_5_VLModel.get_rope_index` for single unpadded sequences  -> Fixtures/positions/rope_index.json
  * the vision tower's `rot_pos_emb` (patch row/col recovered from the angles), `get_window_index`, and the
    `cu_seqlens` each block actually receives in `forward` (captured with a forward pre-hook)
                                                                    -> Fixtures/positions/window_index.json

Requires: torch (CPU), transformers 4.57.x.  Run from the package root:  python3 tools/make_position_fixtures.py
"""
import json
import os
import random

import torch
import transformers
from transformers import Qwen2_5_VLConfig
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import (
    Qwen2_5_VisionTransformerPretrainedModel,
    Qwen2_5_VLModel,
)

IMAGE_PAD, VIDEO_PAD, VISION_START, VISION_END = 151655, 151656, 151652, 151653
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "positions")


def tiny_config():
    return Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
            rope_scaling={"type": "mrope", "mrope_section": [2, 1, 1]},
        ),
        vision_config=dict(
            depth=2, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=16,
            fullatt_block_indexes=[1], window_size=112, patch_size=14, spatial_merge_size=2,
            temporal_patch_size=2, in_chans=3, tokens_per_second=2,
        ),
        image_token_id=IMAGE_PAD, video_token_id=VIDEO_PAD,
        vision_start_token_id=VISION_START, vision_end_token_id=VISION_END,
    )


def text(rng, n):
    return [rng.randrange(0, 150000) for _ in range(n)]


def image_block(grid):
    t, h, w = grid
    return [VISION_START] + [IMAGE_PAD] * (t * (h // 2) * (w // 2)) + [VISION_END]


def rope_cases(rng):
    """(name, token ids, grids): text and images interleaved as the processor would lay them out."""
    cases = []
    cases.append(("text only", text(rng, 17), []))
    cases.append(("one image in the middle", text(rng, 5) + image_block((1, 4, 6)) + text(rng, 7), [(1, 4, 6)]))
    cases.append(("image at the start", image_block((1, 6, 4)) + text(rng, 9), [(1, 6, 4)]))
    cases.append(("image at the end", text(rng, 4) + image_block((1, 2, 2)), [(1, 2, 2)]))
    cases.append(("ends with image pads", text(rng, 3) + image_block((1, 4, 4))[:-1], [(1, 4, 4)]))
    grids = [(1, 8, 12), (1, 14, 4), (1, 2, 2), (1, 10, 10)]
    ids = text(rng, 6)
    for g in grids:
        ids += image_block(g) + text(rng, rng.randrange(0, 5))
    cases.append(("several images of different grids", ids, grids))
    cases.append(("adjacent images", text(rng, 2) + image_block((1, 6, 8)) + image_block((1, 8, 6)) + text(rng, 3),
                  [(1, 6, 8), (1, 8, 6)]))
    cases.append(("two-frame image", text(rng, 3) + image_block((2, 4, 6)) + text(rng, 4), [(2, 4, 6)]))
    cases.append(("lone vision_start is text", text(rng, 3) + [VISION_START] + text(rng, 2)
                  + image_block((1, 4, 2)) + text(rng, 2), [(1, 4, 2)]))
    lychee = text(rng, 40) + image_block((1, 36, 52)) + text(rng, 6) + image_block((1, 20, 30)) + text(rng, 25) + [198]
    cases.append(("lychee-like query and document images", lychee, [(1, 36, 52), (1, 20, 30)]))
    return cases


def make_rope(model):
    rng = random.Random(1234)
    out = []
    for name, ids, grids in rope_cases(rng):
        input_ids = torch.tensor([ids], dtype=torch.long)
        grid_thw = torch.tensor(grids, dtype=torch.long) if grids else None
        pos, delta = model.get_rope_index(input_ids, grid_thw, None, None, None)
        out.append({
            "name": name,
            "input_ids": ids,
            "image_grid_thw": [list(g) for g in grids],
            "position_ids": pos[:, 0, :].tolist(),
            "rope_delta": int(delta.reshape(-1)[0]),
        })
    return out


def make_windows(visual):
    grid_cases = [
        ("tiny 2x2 patches", [(1, 2, 2)]),
        ("exactly one window", [(1, 8, 8)]),
        ("multiple of the window", [(1, 16, 24)]),
        ("non-multiples", [(1, 10, 14)]),
        ("tall non-multiple", [(1, 34, 6)]),
        ("large", [(1, 72, 100)]),
        ("multiple images", [(1, 4, 6), (1, 20, 8), (1, 2, 30), (1, 18, 18)]),
        ("two-frame image and a still", [(2, 12, 18), (1, 6, 6)]),
    ]
    captured = []

    def hook(module, args, kwargs):
        captured.append(kwargs["cu_seqlens"].tolist())

    handles = [blk.register_forward_pre_hook(hook, with_kwargs=True) for blk in visual.blocks]
    out = []
    try:
        for name, grids in grid_cases:
            grid_thw = torch.tensor(grids, dtype=torch.long)
            patches = sum(t * h * w for t, h, w in grids)
            window_index, _ = visual.get_window_index(grid_thw)
            rot = visual.rot_pos_emb(grid_thw)  # (patches, head_dim/2): [row * inv_freq, col * inv_freq]
            half = rot.shape[1] // 2
            rows, cols = rot[:, 0], rot[:, half]  # inv_freq[0] == 1
            assert torch.equal(rows, rows.round()) and torch.equal(cols, cols.round())
            captured.clear()
            with torch.no_grad():
                visual(torch.randn(patches, 3 * 2 * 14 * 14), grid_thw=grid_thw)
            window_cu = captured[0]  # block 0 is a window block
            full_cu = captured[1]  # block 1 is in fullatt_block_indexes
            out.append({
                "name": name,
                "grid_thw": [list(g) for g in grids],
                "window_index": window_index.tolist(),
                "reverse_index": torch.argsort(window_index).tolist(),
                "cu_window_seqlens": window_cu,
                "cu_seqlens": full_cu,
                "patch_rows": rows.to(torch.int64).tolist(),
                "patch_cols": cols.to(torch.int64).tolist(),
            })
    finally:
        for h in handles:
            h.remove()
    return out


def main():
    torch.manual_seed(0)
    config = tiny_config()
    model = Qwen2_5_VLModel(config).eval()
    visual = model.visual
    assert isinstance(visual, Qwen2_5_VisionTransformerPretrainedModel)
    assert visual.fullatt_block_indexes == [1]
    meta = {"generator": "tools/make_position_fixtures.py", "transformers": transformers.__version__,
            "torch": torch.__version__}
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "rope_index.json"), "w") as f:
        json.dump({"meta": meta, "cases": make_rope(model)}, f, separators=(",", ":"))
    with open(os.path.join(OUT, "window_index.json"), "w") as f:
        json.dump({"meta": meta, "window_size": 112, "patch_size": 14, "spatial_merge_size": 2,
                   "cases": make_windows(visual)}, f, separators=(",", ":"))
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
