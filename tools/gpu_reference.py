#!/usr/bin/env python3
"""The transformers reference on the bench workloads, side by side with lychee-rerank's figures.

Reads the inputs `lychee-rerank bench --dump-inputs DIR` wrote (each pair's exact prompt token ids and
its images as BMP files), runs Qwen2_5_VLForConditionalGeneration (bf16, sdpa) on them the way a user of
transformers would (pairs left-padded into batches, images through Qwen2VLImageProcessor, every pair
re-encoding its images), and times each workload end to end from token ids and decoded images to
scores: one warm-up, then the median of --repeats runs. Writes z per pair and the figures as JSON, and
prints a table beside `--ours` (the JSON `bench --scores-out` wrote) with the ratios.

Requires (on the GPU machine): torch 2.11, transformers 5.17, pillow.
    python3 tools/gpu_reference.py --model DIR --inputs DUMP --ours ours.json --out ref.json

As a float32 ground truth, once (scripts/gpu-fp8.sh): --dtype float32 --repeats 1 --warmups 0
--skip-our-pixels --hidden-out hidden.npz also saves each pair's last-token hidden state (after the final
norm, float32) per workload, so z for any other lm_head yes/no rows follows without running the model again.
"""
import argparse
import inspect
import json
import os
import statistics
import time

import numpy as np
import torch
from PIL import Image
from tokenizers import Tokenizer
from transformers import Qwen2_5_VLForConditionalGeneration

try:
    from transformers import Qwen2VLImageProcessor as ImageProcessor
except ImportError:  # pragma: no cover
    from transformers import AutoImageProcessor as ImageProcessor

BATCH = {"W1": 50, "W2": 5, "W3": 10, "W4": 1}  # BENCHMARK.md: the reference's best batch sizes
PAD_ID = 151643


def load_pairs(inputs, workload):
    with open(os.path.join(inputs, f"{workload}.json")) as f:
        data = json.load(f)
    images, ours = {}, {}
    for pair in data["pairs"]:
        for name in pair["images"]:
            if name not in images:
                images[name] = Image.open(os.path.join(inputs, name)).convert("RGB")
                info = data.get("pixels", {}).get(name)
                if info:
                    values = np.fromfile(os.path.join(inputs, info["file"]), dtype="<f4").reshape(-1, 1176)
                    ours[name] = (torch.from_numpy(values), info["grid"])
    return data["pairs"], images, ours


class OurPixels:
    """Stands in for the image processor: hands the model lychee-rerank's own pixel values."""

    def __init__(self, ours):
        self.ours = ours
        self.lookup = {}

    def __call__(self, images, return_tensors):
        chosen = [self.lookup[id(image)] for image in images]
        return {"pixel_values": torch.cat([self.ours[n][0] for n in chosen]),
                "image_grid_thw": torch.tensor([self.ours[n][1] for n in chosen])}


def compare_pixels(processor, images, ours):
    """Largest |reference pixel value - ours| over the images (after normalisation)."""
    worst = 0.0
    for name, image in images.items():
        if name in ours:
            theirs = processor(images=[image], return_tensors="pt")["pixel_values"].float()
            if theirs.shape != ours[name][0].shape:
                return float("inf")
            worst = max(worst, (theirs - ours[name][0]).abs().max().item())
    return worst


def modality_kwargs(model, ids):
    """transformers >= 5 builds the 3D (M-RoPE) positions of image tokens only when it is given
    `mm_token_type_ids` (1 at image pads, 0 elsewhere), which its processor returns; without them it silently
    falls back to 1D text positions. Earlier versions find the image pads from input_ids themselves."""
    if "mm_token_type_ids" not in inspect.signature(model.model.forward).parameters:
        return {}
    return {"mm_token_type_ids": (ids == model.config.image_token_id).int()}


def score(model, processor, pairs, images, batch_size, yes, no, hidden=None):
    """z per pair; with a list as `hidden`, also appends each batch's last-token hidden states (float32 numpy)."""
    dtype = next(model.parameters()).dtype
    zs = []
    for start in range(0, len(pairs), batch_size):
        batch = pairs[start:start + batch_size]
        longest = max(len(p["tokenIDs"]) for p in batch)
        ids = torch.full((len(batch), longest), PAD_ID, dtype=torch.long)
        mask = torch.zeros((len(batch), longest), dtype=torch.long)
        for row, pair in enumerate(batch):  # left padding: the last column is every pair's last token
            n = len(pair["tokenIDs"])
            ids[row, longest - n:] = torch.tensor(pair["tokenIDs"])
            mask[row, longest - n:] = 1
        kwargs = {}
        pictures = [images[name] for pair in batch for name in pair["images"]]
        if pictures:
            processed = processor(images=pictures, return_tensors="pt")
            kwargs["pixel_values"] = processed["pixel_values"].to("cuda", dtype)
            kwargs["image_grid_thw"] = processed["image_grid_thw"].to("cuda")
            kwargs.update({k: v.to("cuda") for k, v in modality_kwargs(model, ids).items()})
        with torch.inference_mode():
            out = model.model(input_ids=ids.to("cuda"), attention_mask=mask.to("cuda"), **kwargs)
            logits = model.lm_head(out.last_hidden_state[:, -1])
            zs += (logits[:, yes].float() - logits[:, no].float()).tolist()
            if hidden is not None:
                hidden.append(out.last_hidden_state[:, -1].float().cpu().numpy())
    return zs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--ours", help="lychee-rerank bench --scores-out JSON")
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmups", type=int, default=1, help="untimed passes before the timed ones")
    parser.add_argument("--skip-our-pixels", action="store_true",
                        help="no extra pass on lychee-rerank's own pixel values (logitsOurPixels)")
    parser.add_argument("--hidden-out", help="also write each pair's last-token hidden state (float32, "
                        "after the final norm) per workload to this .npz, from the last timed pass")
    parser.add_argument("--workloads", default="W1,W2,W3,W4")
    parser.add_argument("--dtype", choices=["bfloat16", "float32"], default="bfloat16",
                        help="float32 (TF32 off) gives a ground truth to measure both bf16 engines against")
    args = parser.parse_args()
    if args.repeats < 1 or args.warmups < 0:
        parser.error("--repeats must be at least 1 and --warmups at least 0")
    dtype = getattr(torch, args.dtype)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    tokenizer = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    yes, no = tokenizer.token_to_id("yes"), tokenizer.token_to_id("no")
    processor = ImageProcessor.from_pretrained(args.model)
    start = time.time()
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
        args.model, dtype=dtype, attn_implementation="sdpa", device_map="cuda").eval()
    print(f"reference ({args.dtype}) loaded in {time.time() - start:.1f} s", flush=True)

    results, hidden_states = {}, {}
    for workload in args.workloads.split(","):
        pairs, images, ours_pixels = load_pairs(args.inputs, workload)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        for _ in range(args.warmups):
            score(model, processor, pairs, images, BATCH[workload], yes, no)
        times = []
        for repeat in range(args.repeats):
            hidden = [] if args.hidden_out and repeat == args.repeats - 1 else None
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            zs = score(model, processor, pairs, images, BATCH[workload], yes, no, hidden)
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
            if hidden is not None:
                hidden_states[workload] = np.concatenate(hidden).astype(np.float32)
        free, total = torch.cuda.mem_get_info()
        extra = {}
        if ours_pixels and not args.skip_our_pixels:  # engine-only parity: the model on lychee-rerank's pixel values
            stand_in = OurPixels(ours_pixels)
            stand_in.lookup = {id(image): name for name, image in images.items()}
            extra["logitsOurPixels"] = score(model, stand_in, pairs, images, BATCH[workload], yes, no)
            extra["maxPixelDifference"] = compare_pixels(processor, images, ours_pixels)
            print(f"{workload}: max |pixel difference| reference processor vs ours: {extra['maxPixelDifference']:.4f}")
        seconds = statistics.median(times)
        tokens = sum(len(p["tokenIDs"]) for p in pairs)
        results[workload] = {
            "logits": zs, "seconds": seconds, "allSeconds": times, "docsPerSecond": len(pairs) / seconds,
            "tokensPerSecond": tokens / seconds, "tokens": tokens,
            "peakAllocatedGiB": torch.cuda.max_memory_allocated() / 2**30,
            "deviceUsedGiBAfter": (total - free) / 2**30, "batch": BATCH[workload], **extra,
        }
        print(f"{workload}: {seconds:.3f} s median of {[round(t, 3) for t in times]}", flush=True)
    with open(args.out, "w") as f:
        json.dump(results, f)
    if args.hidden_out:
        np.savez(args.hidden_out, **hidden_states)

    ours = json.load(open(args.ours)) if args.ours else {}
    print("\nworkload | ours docs/s | ref docs/s | ratio | ours tok/s | ref tok/s | ours MFU | ours GPU GiB (driver) "
          "| ref GiB (torch peak alloc / driver)")
    for workload, ref in results.items():
        mine = ours.get(workload)
        if not mine:
            print(f"{workload} | - | {ref['docsPerSecond']:.1f} | - | - | {ref['tokensPerSecond']:.0f} | - | - | "
                  f"{ref['peakAllocatedGiB']:.2f} / {ref['deviceUsedGiBAfter']:.2f}")
            continue
        print(f"{workload} | {mine['docsPerSecond']:.1f} | {ref['docsPerSecond']:.1f} | "
              f"{mine['docsPerSecond'] / ref['docsPerSecond']:.2f}x | {mine['tokensPerSecond']:.0f} | "
              f"{ref['tokensPerSecond']:.0f} | {mine['mfu'] * 100:.1f}% | {mine.get('peakGPUGiB') or 0:.2f} | "
              f"{ref['peakAllocatedGiB']:.2f} / {ref['deviceUsedGiBAfter']:.2f}")


if __name__ == "__main__":
    main()
