#!/usr/bin/env python3
"""A "full-range" checkpoint: the random 7B checkpoint with its lm_head "yes" row rewritten so that the
float32 scores of a set of pairs spread over the whole 0..1 range, and the float32 ground truth for it.

A random-weight model's z = (w_yes - w_no) . h sits in a narrow band far from 0 (its mean is usually many
standard deviations away), so its scores say nothing about whether a quantized engine keeps them apart
near 0 or 1. Given the float32 reference's last-token hidden states h_i (after the final norm;
`gpu_reference.py --dtype float32 --hidden-out`) and the pairs of the set S (the first --docs pairs of
each workload), this writes

    w_yes' = w_no + s * (d - m * u),   d = w_yes - w_no,  u = hbar / |hbar|^2,  hbar = mean of h_i over S,
    m = mean of z_i over S,  s = --target-std / std of (z_i - m * hbar.h_i / |hbar|^2) over S,

so that z'_i = s * (z_i - m * hbar.h_i / |hbar|^2): mean exactly 0 and standard deviation --target-std on
S. The new direction is orthogonal to the mean hidden state; only the hidden states themselves carry the
spread, so an engine whose quantized hidden states lose their direction loses the spread too. The
ground truth is recomputed in float64 from the bf16 row actually stored (z'_i = (w_yes' - w_no) . h_i),
which equals what transformers in float32 gives on the new checkpoint: nothing before lm_head changed.

Only the shard holding lm_head.weight is copied (its yes row patched in place, nothing else in it moves);
every other file is a symbolic link (large) or a copy (small). Needs numpy only.
    python3 tools/gpu_full_range.py --model CKPT --hidden hidden.npz --ref ref-fp32.json --out CKPT_FR \\
        --truth-out truth.json [--docs 32] [--target-std 3] [--workloads W1,W2,W3,W4]
"""
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np

LM_HEAD = "lm_head.weight"
LINK_MIN_BYTES = 64 << 20  # files at least this large are linked, smaller ones copied


def bf16_to_f32(bits):
    """bf16 bit patterns (uint16) to float32 (exact)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16(values):
    """float32 to bf16 bit patterns, rounding to nearest even (finite inputs)."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def read_header(path):
    """The safetensors JSON header and the byte offset where the tensor data starts."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    return header, 8 + length


def locate(model_dir, name=LM_HEAD):
    """(shard file name, dtype, shape, absolute byte offset of the tensor's data)."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        if name not in weight_map:
            raise SystemExit(f"{name} is not in {index}")
        shard = weight_map[name]
    else:
        shard = "model.safetensors"
    header, data_start = read_header(os.path.join(model_dir, shard))
    entry = header[name]
    return shard, entry["dtype"], entry["shape"], data_start + entry["data_offsets"][0]


def row_bytes(shape, dtype):
    if dtype != "BF16":
        raise SystemExit(f"{LM_HEAD} is {dtype}; only BF16 checkpoints are handled")
    return shape[1] * 2


def read_row(path, offset, shape, dtype, row):
    size = row_bytes(shape, dtype)
    with open(path, "rb") as f:
        f.seek(offset + row * size)
        return bf16_to_f32(np.frombuffer(f.read(size), dtype="<u2"))


def yes_no_ids(model_dir):
    with open(os.path.join(model_dir, "tokenizer.json")) as f:
        vocab = json.load(f)["model"]["vocab"]
    return vocab["yes"], vocab["no"]


def design(hidden_sets, w_yes, w_no, target_std):
    """The new yes row (float64) from the hidden states of the pairs of S (one array per workload)."""
    h = np.concatenate(hidden_sets).astype(np.float64)
    d = w_yes.astype(np.float64) - w_no.astype(np.float64)
    z = h @ d
    hbar = h.mean(axis=0)
    u = hbar / (hbar @ hbar)
    m = z.mean()
    y = z - m * (h @ u)
    if not y.std() > 0:
        raise SystemExit("the hidden states of the set do not vary: no spread to scale")
    s = target_std / y.std()
    direction = s * (d - m * u)
    return w_no.astype(np.float64) + direction, {
        "pairs": int(len(z)), "zMean": float(m), "zStd": float(z.std()), "scale": float(s),
        "centre": float(-s * m), "centredStd": float(y.std()), "targetStd": float(target_std)}


def write_checkpoint(src, dst, shard, offset, row_size, row, new_bits):
    """dst: links to src's files, a copy of `shard` with row `row` of the tensor at `offset` replaced."""
    if os.path.lexists(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    for name in sorted(os.listdir(src)):
        source, target = os.path.join(os.path.abspath(src), name), os.path.join(dst, name)
        if name == shard:
            shutil.copyfile(source, target)
        elif os.path.isfile(source) and os.path.getsize(source) < LINK_MIN_BYTES:
            shutil.copyfile(source, target)
        else:
            os.symlink(source, target)
    with open(os.path.join(dst, shard), "r+b") as f:
        f.seek(offset + row * row_size)
        f.write(np.asarray(new_bits, dtype="<u2").tobytes())


def histogram(scores, bins=10):
    counts, _ = np.histogram(np.clip(scores, 0, 1), bins=bins, range=(0, 1))
    return [int(c) for c in counts]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="the random checkpoint (bf16 safetensors)")
    parser.add_argument("--hidden", required=True, help="gpu_reference.py --hidden-out .npz (float32 run)")
    parser.add_argument("--ref", help="gpu_reference.py --out JSON of that run: checks z from the hidden states")
    parser.add_argument("--out", required=True, help="folder for the new checkpoint (replaced)")
    parser.add_argument("--truth-out", required=True, help="JSON: float32 z per pair on the new checkpoint")
    parser.add_argument("--docs", type=int, default=32, help="the set: the first N pairs of each workload")
    parser.add_argument("--target-std", type=float, default=3.0, help="standard deviation of z over the set")
    parser.add_argument("--workloads", default="W1,W2,W3,W4")
    args = parser.parse_args(argv)

    hidden = np.load(args.hidden)
    workloads = [w for w in args.workloads.split(",") if w in hidden.files]
    if not workloads:
        raise SystemExit(f"{args.hidden} holds none of {args.workloads} (it has {hidden.files})")
    yes, no = yes_no_ids(args.model)
    shard, dtype, shape, offset = locate(args.model)
    path = os.path.join(args.model, shard)
    w_yes, w_no = read_row(path, offset, shape, dtype, yes), read_row(path, offset, shape, dtype, no)
    if hidden[workloads[0]].shape[1] != shape[1]:
        raise SystemExit(f"hidden size {hidden[workloads[0]].shape[1]} != lm_head width {shape[1]}")

    if args.ref:  # the hidden states and rows give back the reference's own z
        with open(args.ref) as f:
            ref = json.load(f)
        worst = max((float(np.abs(hidden[w].astype(np.float64) @ (w_yes.astype(np.float64) - w_no)
                                   - np.asarray(ref[w]["logits"])).max()) for w in workloads if w in ref), default=0.0)
        print(f"check: max |z from hidden states - reference z| = {worst:.2e}")
        if not worst < 1e-2:
            raise SystemExit("the hidden states do not reproduce the reference's z (a float32 run of this checkpoint?)")

    new_yes, meta = design([hidden[w][:args.docs] for w in workloads], w_yes, w_no, args.target_std)
    bits = f32_to_bf16(new_yes.astype(np.float32))
    stored = bf16_to_f32(bits).astype(np.float64)
    write_checkpoint(args.model, args.out, shard, offset, row_bytes(shape, dtype), yes, bits)
    check = read_row(os.path.join(args.out, shard), offset, shape, dtype, yes)
    assert np.array_equal(check.astype(np.float64), stored), "patched row reads back differently"

    truth = {}
    counts = {}
    for w in workloads:
        z = hidden[w].astype(np.float64) @ (stored - w_no.astype(np.float64))
        truth[w] = {"logits": z.tolist()}
        counts[w] = min(args.docs, len(z))
    chosen = np.concatenate([np.asarray(truth[w]["logits"][:counts[w]]) for w in workloads])
    scores = 1 / (1 + np.exp(-chosen))
    meta.update({"docs": args.docs, "pairsPerWorkload": counts, "yesId": yes, "noId": no, "shard": shard,
                 "storedZMean": float(chosen.mean()), "storedZStd": float(chosen.std()),
                 "scoreHistogram": histogram(scores), "scoreStd": float(scores.std())})
    truth["_meta"] = meta
    with open(args.truth_out, "w") as f:
        json.dump(truth, f)
    print(f"set: {meta['pairs']} pairs ({', '.join(f'{w} {n}' for w, n in counts.items())}); float32 z before: "
          f"mean {meta['zMean']:.4f} std {meta['zStd']:.4f}; scale s {meta['scale']:.2f}, centre {meta['centre']:.2f}")
    print(f"after (bf16 row as stored): z mean {meta['storedZMean']:.3f} std {meta['storedZStd']:.3f}, "
          f"score std {meta['scoreStd']:.3f}, histogram (0..1, 10 bins) {meta['scoreHistogram']}")
    print(f"wrote {args.out} ({shard} patched, row {yes} of {LM_HEAD}) and {args.truth_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
