#!/usr/bin/env python3
"""End-to-end parity of lychee-rerank against the transformers reference on the bench workloads.

Compares z = logit(yes) - logit(no) per pair from `lychee-rerank bench --scores-out ours.json` and
`tools/gpu_reference.py --out ref.json` (same checkpoint, same token ids and images): max and mean |dz|,
and the Spearman correlation of the two rankings per workload. Exits 1 when a Spearman is under --min.

Requires: numpy.
    python3 tools/gpu_parity.py ours.json ref.json [--min 0.99]
"""
import argparse
import json
import sys

import numpy as np


def ranks(values):
    order = np.argsort(values, kind="stable")
    result = np.empty(len(values))
    sorted_values = np.asarray(values)[order]
    i = 0
    while i < len(values):  # average ranks over ties
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        result[order[i:j + 1]] = (i + j) / 2
        i = j + 1
    return result


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / denominator) if denominator > 0 else float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ours")
    parser.add_argument("ref")
    parser.add_argument("--min", type=float, default=0.99)
    parser.add_argument("--own-pixels-only", action="store_true",
                        help="skip the rows fed our pixel values (when OURS is itself a reference run)")
    args = parser.parse_args()
    ours, ref = json.load(open(args.ours)), json.load(open(args.ref))
    ok = True
    print("workload | reference fed | pairs | max |dz| | mean |dz| | z spread (ref std) | Spearman")
    rows = [(w, "its own pixels", "logits") for w in sorted(ref)]
    if not args.own_pixels_only:
        rows += [(w, "our pixel values", "logitsOurPixels") for w in sorted(ref) if "logitsOurPixels" in ref[w]]
    for workload, label, key in rows:
        if workload not in ours:
            continue
        a, b = np.array(ours[workload]["logits"]), np.array(ref[workload][key])
        if len(a) != len(b):
            print(f"{workload} | {label} | pair counts differ: {len(a)} vs {len(b)}")
            ok = False
            continue
        dz = np.abs(a - b)
        rho = spearman(a, b)
        ok &= rho >= args.min
        print(f"{workload} | {label} | {len(a)} | {dz.max():.4f} | {dz.mean():.4f} | {b.std():.4f} | {rho:.4f}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
