#!/usr/bin/env python3
"""The final tables of scripts/gpu-fp8.sh: each dtype's speed, GPU memory and parity against transformers in
float32 on W1-W4, PASS/FAIL against the FP8 targets, and the full-range set (does the score collapse?).

Reads from --work (the names gpu-fp8.sh writes):
  ref-fp32.json                 gpu_reference.py --dtype float32 --out (z per pair: "logits")
  bench-DTYPE.json              lychee-rerank bench --dtype DTYPE --scores-out (docsPerSecond, peakGPUGiB, logits)
  memory-DTYPE-process.csv      nvidia-smi --query-compute-apps=used_memory samples during that bench (MiB)
  memory-DTYPE-device.csv       nvidia-smi --query-gpu=memory.used samples during that bench (MiB)
  memory-DTYPE-idle.txt         memory.used just before that bench (MiB)
  full-range-truth.json         gpu_full_range.py --truth-out (float32 z per pair on the full-range checkpoint)
  full-range-DTYPE.json         bench --scores-out on the full-range checkpoint
Missing files leave "-" in their cells. Writes everything it printed as JSON to --json-out; exits 1 when a
check fails. Needs numpy (and gpu_parity.py beside it).
    python3 tools/gpu_fp8_report.py --work DIR [--dtypes bf16,fp8,fp8-weight-only] [--json-out report.json]
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_parity import spearman  # noqa: E402

DTYPES = ["bf16", "fp8", "fp8-weight-only"]
WORKLOADS = ["W1", "W2", "W3", "W4"]
SPEEDUP_MIN = {"fp8": {"W1": 1.5, "W3": 1.5, "W2": 1.35, "W4": 1.35}}  # docs/s over bf16 of the same run
SPEARMAN_MIN = 0.99
MEAN_DZ_MAX = 0.10
MEMORY_MAX_GIB = {"fp8": 10.0, "fp8-weight-only": 10.0}  # whole process, driver-reported, W1-W4
EXTREME = 0.01  # a score under EXTREME or over 1 - EXTREME counts as at an extreme
MIB = 1024.0


def load_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def read_samples(path):
    """MiB values from nvidia-smi csv lines (noheader, nounits); the last field of each line; [] if none."""
    values = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                field = line.strip().split(",")[-1].strip()
                try:
                    values.append(float(field))
                except ValueError:
                    pass
    return values


def parity(ours, ref):
    """Spearman, mean and max |dz| of two z lists of one workload, or an error string."""
    a, b = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if len(a) != len(b) or len(a) == 0:
        return {"error": f"pair counts differ: {len(a)} vs {len(b)}"}
    dz = np.abs(a - b)
    return {"pairs": int(len(a)), "spearman": spearman(a, b), "meanDz": float(dz.mean()), "maxDz": float(dz.max())}


def sigmoid(z):
    return 1 / (1 + np.exp(-np.asarray(z, dtype=np.float64)))


def histogram(scores, bins=10):
    counts, _ = np.histogram(np.clip(scores, 0, 1), bins=bins, range=(0, 1))
    return [int(c) for c in counts]


def score_spread(ours, ref):
    """Score-level comparison of z lists (ours vs reference): |dscore|, histograms, extremes, collapse flag."""
    result = parity(ours, ref)
    if "error" in result:
        return result
    so, sr = sigmoid(ours), sigmoid(ref)
    ds = np.abs(so - sr)
    extreme_ours = float(np.mean((so < EXTREME) | (so > 1 - EXTREME)))
    extreme_ref = float(np.mean((sr < EXTREME) | (sr > 1 - EXTREME)))
    reasons = []
    if extreme_ours > 0.5 and extreme_ours > extreme_ref + 0.25:
        reasons.append(f"{extreme_ours:.0%} of scores at <{EXTREME} or >{1 - EXTREME} (float32 {extreme_ref:.0%})")
    if so.std() < 0.5 * sr.std():
        reasons.append(f"score std {so.std():.3f} < half of float32's {sr.std():.3f}")
    result.update({"meanDscore": float(ds.mean()), "maxDscore": float(ds.max()), "scoreStd": float(so.std()),
                   "refScoreStd": float(sr.std()), "extremeShare": extreme_ours, "refExtremeShare": extreme_ref,
                   "histogram": histogram(so), "refHistogram": histogram(sr), "collapsed": bool(reasons),
                   "collapseReasons": reasons})
    return result


def stale(path, since):
    return since is not None and os.path.exists(path) and os.path.getmtime(path) < since


def run_memory(work, dtype):
    """Whole-run GPU memory from the nvidia-smi samples: the process's peak (or device peak less idle)."""
    process = read_samples(os.path.join(work, f"memory-{dtype}-process.csv"))
    device = read_samples(os.path.join(work, f"memory-{dtype}-device.csv"))
    idle = read_samples(os.path.join(work, f"memory-{dtype}-idle.txt"))
    idle_mib = idle[0] if idle else None
    memory = {"processPeakMiB": max(process) if process else None, "devicePeakMiB": max(device) if device else None,
              "idleMiB": idle_mib}
    if process:
        memory.update(peakMiB=max(process), source="nvidia-smi process")
    elif device:
        memory.update(peakMiB=max(device) - (idle_mib or 0), source="nvidia-smi device less idle")
    else:
        memory.update(peakMiB=None, source="none")
    return memory


def main_rows(work, dtypes, workloads, since):
    ref = load_json(os.path.join(work, "ref-fp32.json")) or {}
    benches = {d: load_json(os.path.join(work, f"bench-{d}.json")) for d in dtypes}
    memories = {d: run_memory(work, d) for d in dtypes}
    rows = []
    for w in workloads:
        base = (benches.get("bf16") or {}).get(w)
        for d in dtypes:
            bench = (benches[d] or {}).get(w)
            row = {"workload": w, "dtype": d, "stale": stale(os.path.join(work, f"bench-{d}.json"), since),
                   "checks": {}}
            if bench is None:
                row["missing"] = "no bench result"
                rows.append(row)
                continue
            row["docsPerSecond"] = bench["docsPerSecond"]
            if base:
                row["speedup"] = bench["docsPerSecond"] / base["docsPerSecond"]
            wanted = SPEEDUP_MIN.get(d, {}).get(w)
            if wanted is not None:
                row["checks"]["speed"] = row["speedup"] >= wanted if "speedup" in row else None
                row["speedupMin"] = wanted
            peak = bench.get("peakGPUGiB")
            row["workloadPeakMiB"] = peak * MIB if peak is not None else None
            row["runPeakMiB"] = memories[d]["peakMiB"]
            if d in MEMORY_MAX_GIB:
                figures = [f for f in (row["workloadPeakMiB"], row["runPeakMiB"]) if f is not None]
                row["checks"]["memory"] = max(figures) <= MEMORY_MAX_GIB[d] * MIB if figures else None
            if w in ref:
                row.update(parity(bench["logits"], ref[w]["logits"]))
                if "ourPixels" not in row and "logitsOurPixels" in ref[w]:
                    row["ourPixels"] = parity(bench["logits"], ref[w]["logitsOurPixels"])
            if "error" in row:
                row["checks"]["parity"] = False
            elif "spearman" in row:
                row["checks"]["spearman"] = row["spearman"] >= SPEARMAN_MIN
                row["checks"]["meanDz"] = row["meanDz"] <= MEAN_DZ_MAX
            else:
                row["checks"]["spearman"] = row["checks"]["meanDz"] = None
            rows.append(row)
    for row in rows:
        failed = [k for k, v in row["checks"].items() if v is False]
        unknown = [k for k, v in row["checks"].items() if v is None]
        row["result"] = ("MISSING" if "missing" in row else f"FAIL({','.join(failed)})" if failed
                         else f"INCOMPLETE({','.join(unknown)})" if unknown else "PASS")
    return rows, memories


def full_range(work, dtypes, since):
    truth = load_json(os.path.join(work, "full-range-truth.json"))
    if not truth:
        return None
    meta = truth.get("_meta", {})
    workloads = [w for w in truth if not w.startswith("_")]
    out = {"meta": meta, "dtypes": {}}
    for d in dtypes:
        path = os.path.join(work, f"full-range-{d}.json")
        ours = load_json(path)
        if not ours:
            continue
        a, b, counts = [], [], {}
        for w in workloads:
            if w in ours:
                z = ours[w]["logits"]
                a += z
                b += truth[w]["logits"][:len(z)]
                counts[w] = len(z)
        result = score_spread(a, b)
        result.update({"pairsPerWorkload": counts, "stale": stale(path, since)})
        out["dtypes"][d] = result
    return out


def check_inputs(main_dir, subset_dir, workloads):
    """Whether each workload's pairs in subset_dir are the first pairs of main_dir (token ids and images)."""
    problems = []
    for w in workloads:
        a, b = load_json(os.path.join(main_dir, f"{w}.json")), load_json(os.path.join(subset_dir, f"{w}.json"))
        if a is None or b is None:
            continue
        if a["pairs"][:len(b["pairs"])] != b["pairs"]:
            problems.append(w)
    return problems


def fmt(value, spec, missing="-"):
    return missing if value is None else format(value, spec)


def print_main(rows, memories, dtypes):
    print(f"== FP8 against bf16 and transformers float32 (targets: fp8 docs/s >= 1.5x bf16 on W1/W3, >= 1.35x "
          f"on W2/W4; Spearman >= {SPEARMAN_MIN} and mean |dz| <= {MEAN_DZ_MAX} on every workload; fp8 and "
          f"fp8-weight-only GPU memory <= 10.0 GiB)")
    print(f"{'workload':8} {'dtype':16} {'docs/s':>8} {'vs bf16':>8} {'GPU MiB wl/run':>15} {'Spearman':>9} "
          f"{'mean|dz|':>9} {'max|dz|':>8}  result")
    for row in rows:
        name = row["dtype"] + ("*" if row.get("stale") else "")
        if "missing" in row:
            print(f"{row['workload']:8} {name:16} {'-':>8} {'-':>8} {'-':>15} {'-':>9} {'-':>9} {'-':>8}  MISSING")
            continue
        speed = fmt(row.get("speedup"), ".2f") + ("x" if row.get("speedup") is not None else "")
        memory = f"{fmt(row.get('workloadPeakMiB'), '.0f')}/{fmt(row.get('runPeakMiB'), '.0f')}"
        print(f"{row['workload']:8} {name:16} {row['docsPerSecond']:8.1f} {speed:>8} {memory:>15} "
              f"{fmt(row.get('spearman'), '.4f'):>9} {fmt(row.get('meanDz'), '.4f'):>9} "
              f"{fmt(row.get('maxDz'), '.4f'):>8}  {row['result']}")
    for d in dtypes:
        m = memories[d]
        print(f"whole run of {d} (nvidia-smi, load included): process peak {fmt(m['processPeakMiB'], '.0f')} MiB, "
              f"device peak {fmt(m['devicePeakMiB'], '.0f')} MiB (idle before {fmt(m['idleMiB'], '.0f')}); "
              f"'run' column: {m['source']}")
    print("'wl' column: bench's own peak for the workload (driver total in use, cuMemGetInfo).")
    if any(row.get("stale") for row in rows):
        print("* from an earlier call (file older than this run's start): ratios across calls are not comparable")
    pixel_rows = [row for row in rows if "ourPixels" in row and "spearman" in row["ourPixels"]]
    if pixel_rows:
        print("against float32 fed lychee-rerank's own pixel values (engine alone, no preprocessing difference):")
        for row in pixel_rows:
            p = row["ourPixels"]
            print(f"  {row['workload']:6} {row['dtype']:16} Spearman {p['spearman']:.4f} mean|dz| {p['meanDz']:.4f} "
                  f"max|dz| {p['maxDz']:.4f}")


def print_full_range(fr, dtypes):
    if fr is None:
        print("== full-range set: not run (no full-range-truth.json)")
        return
    meta = fr["meta"]
    per = ", ".join(f"{w} {n}" for w, n in meta.get("pairsPerWorkload", {}).items())
    print(f"== full-range set: {meta.get('pairs', '?')} pairs ({per}); lm_head yes row := no + s (yes - no - m u), "
          f"u = mean h / |mean h|^2, s {fmt(meta.get('scale'), '.2f')}; float32 z before: mean m "
          f"{fmt(meta.get('zMean'), '.3f')} std "
          f"{fmt(meta.get('zStd'), '.3f')}; after: mean {fmt(meta.get('storedZMean'), '.3f')} std "
          f"{fmt(meta.get('storedZStd'), '.3f')}")
    print(f"{'dtype':16} {'pairs':>5} {'Spearman':>9} {'mean|dz|':>9} {'max|dz|':>8} {'mean|ds|':>9} {'max|ds|':>8} "
          f"{'score std ours/f32':>19} {'extremes ours/f32':>18}  collapse")
    histograms = []
    for d in dtypes:
        r = fr["dtypes"].get(d)
        if r is None:
            print(f"{d:16} {'-':>5}  MISSING")
            continue
        name = d + ("*" if r.get("stale") else "")
        if "error" in r:
            print(f"{name:16} {r['error']}")
            continue
        print(f"{name:16} {r['pairs']:5d} {r['spearman']:9.4f} {r['meanDz']:9.4f} {r['maxDz']:8.4f} "
              f"{r['meanDscore']:9.4f} {r['maxDscore']:8.4f} {r['scoreStd']:9.3f}/{r['refScoreStd']:.3f} "
              f"{r['extremeShare']:11.0%}/{r['refExtremeShare']:.0%}  "
              f"{'COLLAPSED: ' + '; '.join(r['collapseReasons']) if r['collapsed'] else 'no'}")
        if not histograms:
            histograms.append(("float32", r["refHistogram"]))
        histograms.append((d, r["histogram"]))
    if any(r.get("stale") for r in fr["dtypes"].values()):
        print("* from an earlier call (file older than this run's start)")
    if histograms:
        print(f"score histogram, 10 bins over 0..1 (extremes: < {EXTREME} or > {1 - EXTREME}):")
        for name, counts in histograms:
            print(f"  {name:16} " + " ".join(f"{c:4d}" for c in counts))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True)
    parser.add_argument("--dtypes", default=",".join(DTYPES))
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--since", type=float, help="epoch seconds: files older are marked as an earlier call's")
    parser.add_argument("--inputs", help="bench --dump-inputs folder of W1-W4")
    parser.add_argument("--full-range-inputs", help="the dump of the full-range runs: must be a prefix of --inputs")
    parser.add_argument("--json-out")
    args = parser.parse_args(argv)
    dtypes, workloads = args.dtypes.split(","), args.workloads.split(",")
    rows, memories = main_rows(args.work, dtypes, workloads, args.since)
    fr = full_range(args.work, dtypes, args.since)
    print_main(rows, memories, dtypes)
    print()
    print_full_range(fr, dtypes)
    if fr is not None and args.inputs and args.full_range_inputs:
        problems = check_inputs(args.inputs, args.full_range_inputs, workloads)
        fr["inputsArePrefix"] = not problems
        print("full-range pairs are the first pairs of the dumped workloads: "
              + ("yes" if not problems else f"NO for {', '.join(problems)}"))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"rows": rows, "memory": memories, "fullRange": fr}, f, indent=1)
    failed = any(row["result"].startswith("FAIL") for row in rows)
    failed |= bool(fr) and any(r.get("collapsed") or "error" in r for r in fr["dtypes"].values())
    failed |= bool(fr) and fr.get("inputsArePrefix") is False
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
