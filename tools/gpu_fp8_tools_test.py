#!/usr/bin/env python3
"""CPU test of gpu_full_range.py and gpu_fp8_report.py on fabricated files in the formats they exchange
(a tiny bf16 safetensors checkpoint, gpu_reference.py's JSON and .npz, bench --scores-out JSON, nvidia-smi
samples). No GPU, no torch: numpy only.
    python3 tools/gpu_fp8_tools_test.py        (prints 'N passed, M failed'; exits 1 on a failure)
"""
import contextlib
import io
import json
import os
import struct
import sys
import tempfile
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_fp8_report as report  # noqa: E402
import gpu_full_range as full_range  # noqa: E402

HIDDEN, VOCAB, YES, NO = 64, 16, 5, 9
PAIRS = {"W1": 40, "W2": 20, "W3": 40, "W4": 10}


def write_safetensors(path, tensors):
    """tensors: name -> float32 array, stored as BF16 (rounded to nearest even)."""
    header, blobs, offset = {}, [], 0
    for name, values in tensors.items():
        data = full_range.f32_to_bf16(values.astype(np.float32)).astype("<u2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(values.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def make_checkpoint(folder, rng):
    os.makedirs(folder)
    lm_head = rng.normal(0, 0.02, (VOCAB, HIDDEN))
    write_safetensors(os.path.join(folder, "model-00001-of-00002.safetensors"),
                      {"model.embed_tokens.weight": rng.normal(0, 0.02, (VOCAB, HIDDEN))})
    write_safetensors(os.path.join(folder, "model-00002-of-00002.safetensors"),
                      {"model.norm.weight": np.ones(HIDDEN), "lm_head.weight": lm_head})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": {
            "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
            "model.norm.weight": "model-00002-of-00002.safetensors",
            "lm_head.weight": "model-00002-of-00002.safetensors"}}, f)
    with open(os.path.join(folder, "tokenizer.json"), "w") as f:
        json.dump({"model": {"vocab": {"yes": YES, "no": NO, "maybe": 0}}}, f)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"hidden_size": HIDDEN}, f)
    stored = full_range.bf16_to_f32(full_range.f32_to_bf16(lm_head.astype(np.float32)))
    return stored[YES].astype(np.float64), stored[NO].astype(np.float64)


def make_hidden(rng):
    """Hidden states like a random model's: one large shared component, small differences between pairs."""
    common = rng.normal(0, 1, HIDDEN) * 3
    return {w: (common + rng.normal(0, 0.3, (n, HIDDEN))).astype(np.float32) for w, n in PAIRS.items()}


class Fixture:
    """A checkpoint, the float32 reference's files and the full-range checkpoint made from them."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory()
        root = self.tmp.name
        rng = np.random.default_rng(7)
        self.model, self.out = os.path.join(root, "ckpt"), os.path.join(root, "ckpt-fr")
        self.w_yes, self.w_no = make_checkpoint(self.model, rng)
        self.hidden = make_hidden(rng)
        np.savez(os.path.join(root, "hidden.npz"), **self.hidden)
        self.ref = {w: {"logits": (h @ (self.w_yes - self.w_no).astype(np.float32)).tolist(), "docsPerSecond": 1.0}
                    for w, h in self.hidden.items()}
        with open(os.path.join(root, "ref.json"), "w") as f:
            json.dump(self.ref, f)
        self.truth_path = os.path.join(root, "truth.json")
        full_range.LINK_MIN_BYTES = 1000  # so that the 2 KiB first shard is linked, as a 4 GB one would be
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            code = full_range.main(["--model", self.model, "--hidden", os.path.join(root, "hidden.npz"),
                                    "--ref", os.path.join(root, "ref.json"), "--out", self.out,
                                    "--truth-out", self.truth_path, "--docs", "32", "--target-std", "3"])
        self.printed = printed.getvalue()
        assert code == 0
        with open(self.truth_path) as f:
            self.truth = json.load(f)


FIXTURE = None


def fixture():
    global FIXTURE
    if FIXTURE is None:
        FIXTURE = Fixture()
    return FIXTURE


def test_bf16_rounding():
    exact = np.array([1.0, -2.5, 0.0, 3.0e-3, 65504.0], dtype=np.float32)
    exact = full_range.bf16_to_f32(full_range.f32_to_bf16(exact))
    assert np.array_equal(full_range.bf16_to_f32(full_range.f32_to_bf16(exact)), exact)
    ties = np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 1 + 2 ** -8 + 2 ** -20], dtype=np.float32)
    got = full_range.bf16_to_f32(full_range.f32_to_bf16(ties))
    assert got.tolist() == [1.0, 1 + 2 ** -6, -1.0, 1 + 2 ** -7], got.tolist()


def test_locate_and_read_rows():
    f = fixture()
    shard, dtype, shape, offset = full_range.locate(f.model)
    assert (shard, dtype, shape) == ("model-00002-of-00002.safetensors", "BF16", [VOCAB, HIDDEN])
    row = full_range.read_row(os.path.join(f.model, shard), offset, shape, dtype, YES)
    assert np.array_equal(row.astype(np.float64), f.w_yes)
    assert full_range.yes_no_ids(f.model) == (YES, NO)


def test_full_range_spread():
    f = fixture()
    meta = f.truth["_meta"]
    z = np.concatenate([np.asarray(f.truth[w]["logits"][:n]) for w, n in meta["pairsPerWorkload"].items()])
    assert meta["pairsPerWorkload"] == {"W1": 32, "W2": 20, "W3": 32, "W4": 10}
    assert meta["pairs"] == len(z) == 94
    # the fabricated model's z sits in a narrow band away from 0, as a random model's does
    assert abs(meta["zMean"]) > 3 * meta["zStd"], meta
    assert abs(z.mean()) < 0.1 and abs(z.std() - 3) < 0.1, (z.mean(), z.std())
    scores = 1 / (1 + np.exp(-z))
    assert scores.min() < 0.1 and scores.max() > 0.9 and sum(meta["scoreHistogram"]) == 94
    assert "check: max |z from hidden states - reference z|" in f.printed


def test_full_range_checkpoint_files():
    f = fixture()
    shard = "model-00002-of-00002.safetensors"
    assert os.path.islink(os.path.join(f.out, "model-00001-of-00002.safetensors"))
    for name in ("tokenizer.json", "config.json", "model.safetensors.index.json", shard):
        assert os.path.isfile(os.path.join(f.out, name)) and not os.path.islink(os.path.join(f.out, name)), name
    old, new = open(os.path.join(f.model, shard), "rb").read(), open(os.path.join(f.out, shard), "rb").read()
    _, _, _, offset = full_range.locate(f.model)
    start, end = offset + YES * HIDDEN * 2, offset + (YES + 1) * HIDDEN * 2
    assert len(old) == len(new) and old[:start] == new[:start] and old[end:] == new[end:]
    assert old[start:end] != new[start:end]
    # the truth is z with the row as stored, for every pair (not only the set's)
    _, dtype, shape, offset = full_range.locate(f.out)
    stored = full_range.read_row(os.path.join(f.out, shard), offset, shape, dtype, YES).astype(np.float64)
    for w, h in f.hidden.items():
        assert len(f.truth[w]["logits"]) == PAIRS[w]
        assert np.allclose(h.astype(np.float64) @ (stored - f.w_no), f.truth[w]["logits"], atol=1e-9)


def test_files_read_by_the_safetensors_library():
    """Where the safetensors package is installed: it reads the fabricated and the patched shard alike."""
    try:
        from safetensors import deserialize
    except ImportError:
        return
    f = fixture()
    shard = "model-00002-of-00002.safetensors"
    for folder in (f.model, f.out):
        with open(os.path.join(folder, shard), "rb") as file:
            tensors = dict(deserialize(file.read()))
        head = tensors["lm_head.weight"]
        assert head["dtype"] in ("bfloat16", "BF16") and list(head["shape"]) == [VOCAB, HIDDEN], head["dtype"]
        row = np.frombuffer(bytes(head["data"]), dtype="<u2").reshape(VOCAB, HIDDEN)[YES]
        _, dtype, shape, offset = full_range.locate(folder)
        expected = full_range.read_row(os.path.join(folder, shard), offset, shape, dtype, YES)
        assert np.array_equal(full_range.bf16_to_f32(row), expected)


def test_full_range_rejects_wrong_reference():
    f = fixture()
    bad = os.path.join(f.tmp.name, "bad-ref.json")
    with open(bad, "w") as out:
        json.dump({w: {"logits": (np.asarray(v["logits"]) + 0.5).tolist()} for w, v in f.ref.items()}, out)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            full_range.main(["--model", f.model, "--hidden", os.path.join(f.tmp.name, "hidden.npz"), "--ref", bad,
                             "--out", os.path.join(f.tmp.name, "never"), "--truth-out", os.path.join(f.tmp.name, "t")])
    except SystemExit as error:
        assert "do not reproduce" in str(error)
    else:
        raise AssertionError("a reference that does not match the hidden states was accepted")


def write(path, value):
    with open(path, "w") as f:
        f.write(value if isinstance(value, str) else json.dumps(value))


def bench(z_by_workload, docs, peak_gib, rng, noise):
    return {w: {"id": w, "docsPerSecond": docs[w], "peakGPUGiB": peak_gib, "peakLiveGiB": peak_gib - 1,
                "logits": (np.asarray(z) + rng.normal(0, noise, len(z))).tolist(), "mfu": 0.5,
                "tokensPerSecond": 1000.0, "documents": len(z)} for w, z in z_by_workload.items()}


def make_work(f):
    """A work folder as gpu-fp8.sh leaves it, with chosen passes and failures."""
    rng = np.random.default_rng(3)
    work = os.path.join(f.tmp.name, "work")
    os.makedirs(work, exist_ok=True)
    ref = {w: {"logits": rng.normal(0.5, 1.0, n).tolist(), "docsPerSecond": 10.0} for w, n in
           {"W1": 100, "W2": 20, "W3": 50, "W4": 10}.items()}
    ref["W2"]["logitsOurPixels"] = ref["W2"]["logits"]
    write(os.path.join(work, "ref-fp32.json"), ref)
    z = {w: v["logits"] for w, v in ref.items()}
    write(os.path.join(work, "bench-bf16.json"), bench(z, {"W1": 150, "W2": 50, "W3": 240, "W4": 40}, 14.9, rng, 0.05))
    # fp8: W3 too slow (1.25x), W1 noisy (mean |dz| ~ 0.16 > 0.10, Spearman ~ 0.97), all else passes
    fp8 = bench(z, {"W1": 240, "W2": 70, "W3": 300, "W4": 60}, 9.9, rng, 0.05)
    fp8["W1"]["logits"] = (np.asarray(z["W1"]) + rng.normal(0, 0.2, 100)).tolist()
    fp8["W4"]["logits"] = (np.asarray(z["W4"]) + 0.03).tolist()  # 10 pairs: noise could swap a close pair
    write(os.path.join(work, "bench-fp8.json"), fp8)
    # fp8-weight-only: over the memory bound in W2 only; no W4 result
    wo = bench({w: v for w, v in z.items() if w != "W4"}, {"W1": 100, "W2": 40, "W3": 200}, 9.8, rng, 0.05)
    wo["W2"]["peakGPUGiB"] = 10.3
    write(os.path.join(work, "bench-fp8-weight-only.json"), wo)
    write(os.path.join(work, "memory-bf16-process.csv"), "15000\n15400\n")
    write(os.path.join(work, "memory-bf16-device.csv"), "15100\n15500\n")
    write(os.path.join(work, "memory-bf16-idle.txt"), "0\n")
    write(os.path.join(work, "memory-fp8-process.csv"), "")  # no per-process figures: device less idle
    write(os.path.join(work, "memory-fp8-device.csv"), "9000\n10200\n[N/A]\n")
    write(os.path.join(work, "memory-fp8-idle.txt"), "400\n")
    write(os.path.join(work, "memory-fp8-weight-only-process.csv"), "9500\n9900\n")
    # the full-range set: bf16 close, fp8 pushed to the extremes, fp8-weight-only squashed to the middle
    truth = f.truth
    write(os.path.join(work, "full-range-truth.json"), truth)
    counts = truth["_meta"]["pairsPerWorkload"]
    for dtype, transform in (("bf16", lambda z: z + 0.05), ("fp8", lambda z: z * 6),
                             ("fp8-weight-only", lambda z: z * 0.1)):
        write(os.path.join(work, f"full-range-{dtype}.json"), {
            w: {"logits": transform(np.asarray(truth[w]["logits"][:n])).tolist(), "docsPerSecond": 1.0}
            for w, n in counts.items()})
    return work, ref


def run_report(args):
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        code = report.main(args)
    return code, printed.getvalue()


def test_report_rows():
    f = fixture()
    work, ref = make_work(f)
    code, printed = run_report(["--work", work, "--json-out", os.path.join(work, "report.json")])
    assert code == 1
    data = json.load(open(os.path.join(work, "report.json")))
    rows = {(r["workload"], r["dtype"]): r for r in data["rows"]}
    assert rows[("W1", "bf16")]["result"] == "PASS"
    assert rows[("W2", "fp8")]["result"] == "PASS" and abs(rows[("W2", "fp8")]["speedup"] - 1.4) < 1e-9
    assert rows[("W3", "fp8")]["result"] == "FAIL(speed)"
    assert rows[("W1", "fp8")]["result"] == "FAIL(spearman,meanDz)", rows[("W1", "fp8")]["result"]
    # fp8's run peak comes from the device samples less the idle figure: 10200 - 400 = 9800 MiB
    assert rows[("W4", "fp8")]["runPeakMiB"] == 9800 and rows[("W4", "fp8")]["result"] == "PASS"
    assert data["memory"]["fp8"]["source"] == "nvidia-smi device less idle"
    assert rows[("W2", "fp8-weight-only")]["result"] == "FAIL(memory)"
    assert rows[("W1", "fp8-weight-only")]["result"] == "PASS"
    assert rows[("W4", "fp8-weight-only")]["result"] == "MISSING"
    # bf16 has no speed or memory target
    assert set(rows[("W1", "bf16")]["checks"]) == {"spearman", "meanDz"}
    # the parity figures are those of the definitions
    a = np.asarray(json.load(open(os.path.join(work, "bench-bf16.json")))["W3"]["logits"])
    b = np.asarray(ref["W3"]["logits"])
    r = rows[("W3", "bf16")]
    assert abs(r["meanDz"] - np.abs(a - b).mean()) < 1e-12 and abs(r["maxDz"] - np.abs(a - b).max()) < 1e-12
    assert abs(r["spearman"] - np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1]) < 1e-12
    assert "ourPixels" in rows[("W2", "bf16")] and "ourPixels" not in rows[("W1", "bf16")]
    for text in ("== FP8 against bf16", "W3       fp8", "FAIL(speed)", "MISSING", "whole run of fp8",
                 "own pixel values", "score histogram"):
        assert text in printed, text


def test_report_full_range():
    f = fixture()
    work, _ = make_work(f)
    code, printed = run_report(["--work", work, "--json-out", os.path.join(work, "report.json")])
    fr = json.load(open(os.path.join(work, "report.json")))["fullRange"]["dtypes"]
    assert not fr["bf16"]["collapsed"] and fr["bf16"]["pairs"] == 94
    assert abs(fr["bf16"]["meanDz"] - 0.05) < 1e-9 and fr["bf16"]["spearman"] == 1.0
    assert fr["fp8"]["collapsed"] and "at <0.01" in fr["fp8"]["collapseReasons"][0]
    assert fr["fp8-weight-only"]["collapsed"] and "half of float32" in fr["fp8-weight-only"]["collapseReasons"][0]
    assert sum(fr["fp8"]["histogram"]) == 94 and fr["fp8"]["refHistogram"] == fr["bf16"]["refHistogram"]
    lines = printed.splitlines()
    histogram_at = next(i for i, line in enumerate(lines) if line.startswith("score histogram"))
    assert [line.split()[0] for line in lines[histogram_at + 1:histogram_at + 5]] == [
        "float32", "bf16", "fp8", "fp8-weight-only"]
    assert "COLLAPSED" in printed


def test_report_missing_and_stale():
    f = fixture()
    empty = os.path.join(f.tmp.name, "empty")
    os.makedirs(empty, exist_ok=True)
    code, printed = run_report(["--work", empty])
    assert code == 0 and printed.count("MISSING") == 12 and "not run" in printed
    work, _ = make_work(f)
    os.remove(os.path.join(work, "ref-fp32.json"))
    code, printed = run_report(["--work", work, "--since", "4102444800", "--dtypes", "bf16,fp8",
                                "--json-out", os.path.join(work, "r.json")])
    rows = {(r["workload"], r["dtype"]): r for r in json.load(open(os.path.join(work, "r.json")))["rows"]}
    assert rows[("W2", "fp8")]["result"] == "INCOMPLETE(spearman,meanDz)" and rows[("W2", "fp8")]["stale"]
    assert "bf16*" in printed and "earlier call" in printed


def test_inputs_prefix():
    f = fixture()
    main_dir, subset = os.path.join(f.tmp.name, "in-main"), os.path.join(f.tmp.name, "in-sub")
    os.makedirs(main_dir, exist_ok=True)
    os.makedirs(subset, exist_ok=True)
    pairs = [{"tokenIDs": [1, 2, i], "images": [f"W2-image{i}.bmp"]} for i in range(5)]
    write(os.path.join(main_dir, "W2.json"), {"id": "W2", "pairs": pairs, "pixels": {}})
    write(os.path.join(subset, "W2.json"), {"id": "W2", "pairs": pairs[:3], "pixels": {}})
    assert report.check_inputs(main_dir, subset, ["W1", "W2"]) == []
    write(os.path.join(subset, "W2.json"), {"id": "W2", "pairs": pairs[1:3], "pixels": {}})
    assert report.check_inputs(main_dir, subset, ["W2"]) == ["W2"]


# The GPU machine's programs, faked for a dry run of scripts/gpu-fp8.sh on the CPU: a tiny checkpoint and
# deterministic hidden states stand for the model; the fake bench answers z + noise of its dtype.
FAKE_GPU = r'''
import argparse, json, os, sys
import numpy as np
import gpu_full_range as fr
PAIRS = {"W1": 100, "W2": 20, "W3": 50, "W4": 10}
DOCS = {"bf16": {"W1": 150, "W2": 50, "W3": 240, "W4": 40}, "fp8": {"W1": 240, "W2": 75, "W3": 380, "W4": 60},
        "fp8-weight-only": {"W1": 120, "W2": 45, "W3": 200, "W4": 35}}
NOISE = {"bf16": 0.001, "fp8": 0.002, "fp8-weight-only": 0.0015}
GIB = {"bf16": 14.9, "fp8": 9.6, "fp8-weight-only": 9.7}

def hidden(workload):
    rng = np.random.default_rng(int(workload[1]))
    common = np.random.default_rng(0).normal(0, 1, 64) * 3
    return (common + rng.normal(0, 0.3, (PAIRS[workload], 64))).astype(np.float32)

def z(model, workload):
    shard, dtype, shape, offset = fr.locate(model)
    yes, no = fr.yes_no_ids(model)
    rows = [fr.read_row(os.path.join(model, shard), offset, shape, dtype, r).astype(np.float64) for r in (yes, no)]
    return hidden(workload).astype(np.float64) @ (rows[0] - rows[1])

def make(out):
    os.makedirs(out)
    rng = np.random.default_rng(1)
    head = rng.normal(0, 0.02, (16, 64)).astype(np.float32)
    data = fr.f32_to_bf16(head).astype("<u2").tobytes()
    header = json.dumps({"lm_head.weight": {"dtype": "BF16", "shape": [16, 64], "data_offsets": [0, len(data)]}})
    header += " " * (-len(header) % 8)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(len(header).to_bytes(8, "little") + header.encode() + data)
    json.dump({"model": {"vocab": {"yes": 5, "no": 9}}}, open(os.path.join(out, "tokenizer.json"), "w"))
    json.dump({}, open(os.path.join(out, "config.json"), "w"))

def bench(argv):
    p = argparse.ArgumentParser()
    for flag in ("--model", "--backend", "--dtype", "--workload", "--gpu-memory-limit-gib", "--scores-out",
                 "--repeats", "--warmups", "--limit-documents", "--dump-inputs"):
        p.add_argument(flag)
    a = p.parse_args(argv)
    with open(os.environ["FAKE_CALLS"], "a") as f:
        f.write("bench " + " ".join(argv) + "\n")
    out, rng = {}, np.random.default_rng(len(a.dtype))
    for w in a.workload.split(","):
        n = min(PAIRS[w], int(a.limit_documents or PAIRS[w]))
        if a.dump_inputs:
            os.makedirs(a.dump_inputs, exist_ok=True)
            pairs = [{"tokenIDs": [int(w[1]), i], "images": []} for i in range(n)]
            json.dump({"id": w, "pairs": pairs, "pixels": {}}, open(os.path.join(a.dump_inputs, w + ".json"), "w"))
        logits = z(a.model, w)[:n] + rng.normal(0, NOISE[a.dtype], n)
        out[w] = {"id": w, "docsPerSecond": DOCS[a.dtype][w], "peakGPUGiB": GIB[a.dtype], "logits": logits.tolist()}
    json.dump(out, open(a.scores_out, "w"))
    print("workload docs/s ... (fake)")

def reference(argv):
    p = argparse.ArgumentParser()
    for flag in ("--model", "--inputs", "--out", "--dtype", "--repeats", "--warmups", "--hidden-out", "--workloads"):
        p.add_argument(flag)
    p.add_argument("--skip-our-pixels", action="store_true")
    a = p.parse_args(argv)
    with open(os.environ["FAKE_CALLS"], "a") as f:
        f.write("reference " + " ".join(argv) + "\n")
    ws = a.workloads.split(",")
    assert all(os.path.exists(os.path.join(a.inputs, w + ".json")) for w in ws), "no dumped inputs"
    json.dump({w: {"logits": z(a.model, w).tolist(), "docsPerSecond": 1.0} for w in ws}, open(a.out, "w"))
    np.savez(a.hidden_out, **{w: hidden(w) for w in ws})
'''

NVIDIA_SMI = """#!/usr/bin/env bash
case "$*" in
  *-lms*) while true; do case "$*" in *compute-apps*) echo 9000;; *) echo 9300;; esac; sleep 0.05; done;;
  *name,driver*) echo "name, driver_version"; echo "Fake H200, 0";;
  *) echo 12;;
esac
"""


def make_device_folder(root):
    """The folder gpu-build.sh fills, with the fakes in place of the binary and the torch scripts."""
    import gzip
    import shutil
    import tarfile
    here = os.path.dirname(os.path.abspath(__file__))
    device, stubs = os.path.join(root, "device"), os.path.join(root, "stubs")
    os.makedirs(os.path.join(device, "fixtures"))
    os.makedirs(os.path.join(device, "lib"))
    os.makedirs(stubs)
    script = os.path.join(here, "..", "scripts", "gpu-fp8.sh")  # in the repository; beside us in gpu-build's folder
    shutil.copy(script if os.path.exists(script) else os.path.join(here, "gpu-fp8.sh"), device)
    for name in ("gpu_fp8_report.py", "gpu_parity.py", "gpu_full_range.py"):
        shutil.copy(os.path.join(here, name), device)
    write(os.path.join(device, "fake_gpu.py"), FAKE_GPU)
    binary = ("#!/usr/bin/env python3\nimport sys\nsys.path.insert(0, %r)\nimport fake_gpu\n"
              "if sys.argv[1] == 'bench':\n    fake_gpu.bench(sys.argv[2:])\nelse:\n    print('28 of 28 ops passed')\n"
              % device)
    with gzip.open(os.path.join(device, "lychee-rerank.gz"), "wt") as f:
        f.write(binary)
    os.chmod(os.path.join(device, "lychee-rerank.gz"), 0o755)
    with tarfile.open(os.path.join(device, "lib.tar.gz"), "w:gz") as tar:
        tar.add(os.path.join(device, "lib"), arcname="lib")
    write(os.path.join(device, "gpu_make_random_7b.py"), "import sys, fake_gpu\nfake_gpu.make(sys.argv[1])\n")
    write(os.path.join(device, "gpu_reference.py"), "import sys, fake_gpu\nfake_gpu.reference(sys.argv[1:])\n")
    write(os.path.join(device, "fixtures", "qwen2-tokenizer.json.gz"), "")
    write(os.path.join(stubs, "nvidia-smi"), NVIDIA_SMI)
    os.chmod(os.path.join(stubs, "nvidia-smi"), 0o755)
    return device, stubs


def run_script(root, device, stubs, **extra):
    import subprocess
    env = dict(os.environ, OUT=os.path.join(root, "out"), WORK=os.path.join(root, "work"),
               CKPT=os.path.join(root, "ckpt"), CKPT_FR=os.path.join(root, "ckpt-fr"),
               FAKE_CALLS=os.path.join(root, "calls.log"), PATH=stubs + os.pathsep + os.environ["PATH"], **extra)
    if os.path.isdir(env["OUT"]):
        for name in os.listdir(env["OUT"]):
            os.remove(os.path.join(env["OUT"], name))
    done = subprocess.run(["bash", os.path.join(device, "gpu-fp8.sh")], env=env, capture_output=True, text=True,
                          timeout=300)
    return done.stdout + done.stderr


def test_script_dry_run():
    """scripts/gpu-fp8.sh end to end with fakes: flags, file names, the tables, a partial rerun."""
    import shutil
    if shutil.which("bash") is None or shutil.which("tar") is None:
        return
    with tempfile.TemporaryDirectory() as root:
        device, stubs = make_device_folder(root)
        printed = run_script(root, device, stubs)
        out = os.path.join(root, "out")
        assert sorted(os.listdir(out)) == ["fp8-report.json", "fp8-summary.txt", "fp8-work.tar.gz", "fp8.log"], (
            os.listdir(out), printed[-3000:])
        calls = open(os.path.join(root, "calls.log")).read().splitlines()
        benches = [c for c in calls if c.startswith("bench")]
        assert len(benches) == 6 and sum("reference" in c for c in calls) == 1, calls
        assert "--dtype bf16" in benches[0] and "--gpu-memory-limit-gib 15" in benches[0] and "--dump-inputs" in benches[0]
        assert "--dtype fp8 " in benches[1] + " " and "--gpu-memory-limit-gib 10" in benches[1]
        assert "--dump-inputs" not in benches[1] and "--repeats 3" in benches[1]
        assert all("--limit-documents 32" in c and "--repeats 1" in c and "--warmups 0" in c for c in benches[3:])
        assert "--dtype float32" in calls[3] and "--skip-our-pixels" in calls[3] and "--hidden-out" in calls[3]
        data = json.load(open(os.path.join(out, "fp8-report.json")))
        results = {(r["workload"], r["dtype"]): r["result"] for r in data["rows"]}
        assert set(results.values()) == {"PASS"}, results
        assert data["memory"]["fp8"]["processPeakMiB"] == 9000 and data["memory"]["fp8"]["idleMiB"] == 12
        fr_rows = data["fullRange"]["dtypes"]
        assert set(fr_rows) == {"bf16", "fp8", "fp8-weight-only"} and fr_rows["fp8"]["pairs"] == 94
        assert not any(r["collapsed"] for r in fr_rows.values()) and data["fullRange"]["inputsArePrefix"]
        log = open(os.path.join(out, "fp8.log")).read()
        assert log.rstrip().endswith(open(os.path.join(out, "fp8-summary.txt")).read().rstrip())
        assert "== FP8 against bf16" in log and "score histogram" in log
        assert "selftest: 28 of 28 ops passed; lines with FAIL: 0" in log
        # a second call on the same machine: fp8 alone, reusing the reference; bf16's figures are marked
        import time
        time.sleep(1.1)
        printed = run_script(root, device, stubs, DTYPES="fp8", SKIP_SELFTEST="1", SKIP_REFERENCE="1",
                             SKIP_FULL_RANGE="1")
        calls = open(os.path.join(root, "calls.log")).read().splitlines()[len(calls):]
        assert len(calls) == 1 and "--dtype fp8" in calls[0] and "--dump-inputs" in calls[0], calls
        summary = open(os.path.join(out, "fp8-summary.txt")).read()
        assert "bf16*" in summary and "earlier call" in summary, summary
        data = json.load(open(os.path.join(out, "fp8-report.json")))
        assert {r["dtype"] for r in data["rows"] if not r["stale"]} == {"fp8"}
        assert all(r["stale"] for r in data["fullRange"]["dtypes"].values())
        assert "selftest" not in summary
        # a third: no bench, the full-range checkpoint only (every full-range bench past the deadline)
        printed = run_script(root, device, stubs, DTYPES="", SKIP_SELFTEST="1", SKIP_REFERENCE="1", DEADLINE_S="-1",
                             FULL_RANGE_DTYPES="fp8")
        assert "full-range bench fp8: skipped, past DEADLINE_S" in printed, printed[-2000:]
        assert len(open(os.path.join(root, "calls.log")).read().splitlines()) == 8
        data = json.load(open(os.path.join(out, "fp8-report.json")))
        assert data["fullRange"]["dtypes"] == {} and data["fullRange"]["meta"]["pairs"] == 94


def main():
    tests = [(name, fn) for name, fn in globals().items() if name.startswith("test_") and callable(fn)]
    passed = failed = 0
    for name, fn in tests:
        try:
            fn()
            passed += 1
            print(f"ok   {name}")
        except Exception:  # noqa: BLE001
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
