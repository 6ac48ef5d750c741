#!/usr/bin/env python3
"""Make Fixtures/checkpoints/tiny-fp8: a pre-quantized FP8 (E4M3) copy of tiny-untied-legacy.

Requires: numpy, safetensors (pip install safetensors; tested with 0.8.0). Optional: ml_dtypes, against
which the E4M3 rounding below is cross-checked when it is installed. No torch.

The copy is laid out as llm-compressor / vLLM "compressed-tensors" FP8 checkpoints are:
  X.weight        F8_E4M3 [out, in] for every linear layer (decoder q/k/v/o/gate/up/down_proj, vision
                  attn.qkv / attn.proj / mlp.*_proj, merger mlp.0 / mlp.2)
  X.weight_scale  F32 [out, 1]: max|row| / 448 computed in float32 from the bf16 values (1 for a row of
                  zeros), the weight stored as round-to-nearest-even(w / scale) in float32, saturated to
                  +-448, exactly as the engine's RowQuantizedMatrix quantizes; except
                    model.layers.1.mlp.down_proj   per-tensor scale, shape []   (max|W| / 448)
                    visual.blocks.2.attn.proj      per-tensor scale, shape [1]
  X.input_scale   F32 [1] for model.layers.1.mlp.down_proj only: a static activation scale, which the
                  engine accepts and ignores (it quantizes activations dynamically).
Everything else (embeddings, lm_head, norms, biases, patch_embed) stays BF16, in one model.safetensors.
config.json gains a quantization_config as compressed-tensors writes it; the tokenizer and preprocessor
files are copied unchanged.
Run from the package root: python3 tools/make_fp8_fixture.py
"""
import json
import os
import re
import shutil
import struct

import numpy as np
from safetensors import TensorSpec, safe_open, serialize_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "checkpoints")
SOURCE = os.path.join(ROOT, "tiny-untied-legacy")
TARGET = os.path.join(ROOT, "tiny-fp8")

LINEAR = re.compile(
    r"^(model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)"
    r"|visual\.blocks\.\d+\.(attn\.(qkv|proj)|mlp\.(gate|up|down)_proj)"
    r"|visual\.merger\.mlp\.[02])\.weight$")
PER_TENSOR = {"model.layers.1.mlp.down_proj.weight": [], "visual.blocks.2.attn.proj.weight": [1]}
INPUT_SCALE = {"model.layers.1.mlp.down_proj.weight": 0.0123}
E4M3_MAX = np.float32(448)


def e4m3_bits(values):
    """float32 array -> E4M3 ("fn") bit patterns: nearest, ties to even; past 448 saturates to +-448."""
    x = np.asarray(values, dtype=np.float32)
    sign = np.where(np.signbit(x), 0x80, 0).astype(np.uint8)
    a = np.abs(x)
    out = np.zeros(x.shape, dtype=np.uint8)
    small = a < np.float32(2.0 ** -6)  # subnormals: whole multiples of 2^-9, the multiple is the pattern
    out[small] = np.rint(a[small] * np.float32(512)).astype(np.uint8)  # rint rounds half to even
    normal = ~small & (a < E4M3_MAX)
    bits = a[normal].view(np.uint32)
    # keep 3 of 23 mantissa bits, the 20 dropped ones rounded to nearest even; rebias exponent 127 -> 7
    rounded = (bits + np.uint32(0x7FFFF) + ((bits >> np.uint32(20)) & np.uint32(1))) >> np.uint32(20)
    out[normal] = np.minimum(rounded - np.uint32(120 << 3), np.uint32(0x7E)).astype(np.uint8)
    out[~small & ~np.isnan(a) & (a >= E4M3_MAX)] = 0x7E
    out[np.isnan(a)] = 0x7F
    return out | sign


def e4m3_values(bits):
    """E4M3 bit patterns -> float32 (exact)."""
    bits = np.asarray(bits, dtype=np.uint8)
    exponent = ((bits >> 3) & 0xF).astype(np.int32)
    mantissa = (bits & 7).astype(np.float64)
    magnitude = np.where(exponent == 0, mantissa / 8 * 2.0 ** -6, (1 + mantissa / 8) * 2.0 ** (exponent - 7))
    magnitude = np.where((bits & 0x7F) == 0x7F, np.nan, magnitude)
    return np.where(bits & 0x80, -magnitude, magnitude).astype(np.float32)


def cross_check():
    """Every pattern round-trips; with ml_dtypes installed, random values round as it rounds."""
    patterns = np.arange(256, dtype=np.uint8)
    finite = (patterns & 0x7F) != 0x7F
    assert (e4m3_bits(e4m3_values(patterns[finite])) == patterns[finite]).all()
    assert e4m3_bits(np.float32(1.0625)) == 0x38 and e4m3_bits(np.float32(1.1875)) == 0x3A
    assert e4m3_bits(np.float32(2.0 ** -10)) == 0 and e4m3_bits(np.float32(1e9)) == 0x7E
    try:
        import ml_dtypes
    except ImportError:
        print("ml_dtypes not installed: E4M3 rounding checked on its own patterns only")
        return
    rng = np.random.default_rng(7)
    samples = np.concatenate([
        rng.uniform(-448, 448, 200_000), rng.normal(0, 1e-2, 200_000), rng.normal(0, 1e-3, 100_000),
        (e4m3_values(patterns[finite]).astype(np.float64)[:, None]
         + np.array([-1e-7, 0, 1e-7])).ravel()]).astype(np.float32)
    samples = np.clip(samples, -448, 448)
    reference = samples.astype(ml_dtypes.float8_e4m3fn).view(np.uint8)
    assert (e4m3_bits(samples) == reference).all(), "E4M3 rounding disagrees with ml_dtypes"
    print(f"E4M3 rounding agrees with ml_dtypes {ml_dtypes.__version__} on {samples.size} values")


def read_checkpoint(folder):
    """name -> (dtype string, shape, raw bytes) for every tensor of a sharded checkpoint."""
    with open(os.path.join(folder, "model.safetensors.index.json")) as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    tensors = {}
    for shard in shards:
        with open(os.path.join(folder, shard), "rb") as f:
            blob = f.read()
        (length,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8:8 + length])
        header.pop("__metadata__", None)
        for name, entry in header.items():
            begin, end = entry["data_offsets"]
            tensors[name] = (entry["dtype"], entry["shape"], blob[8 + length + begin:8 + length + end])
    return tensors


def bf16_to_float32(raw, shape):
    return (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)


def quantize(weight, per_tensor_shape):
    """(E4M3 bits, float32 scale array) as the engine's RowQuantizedMatrix computes them per row."""
    magnitude = np.where(np.isfinite(weight), np.abs(weight), np.float32(0))
    if per_tensor_shape is None:
        largest = magnitude.max(axis=1, keepdims=True)
        scale = np.where(largest > 0, largest / E4M3_MAX, np.float32(1)).astype(np.float32)
    else:
        largest = magnitude.max()
        scale = np.full(per_tensor_shape, largest / E4M3_MAX if largest > 0 else 1, dtype=np.float32)
    return e4m3_bits(weight / scale.reshape(-1, 1) if scale.ndim else weight / scale), scale


def quantization_config():
    channel = {"actorder": None, "block_structure": None, "dynamic": False, "group_size": None, "num_bits": 8,
               "observer": "minmax", "observer_kwargs": {}, "strategy": "channel", "symmetric": True,
               "type": "float"}
    dynamic_tokens = {"actorder": None, "block_structure": None, "dynamic": True, "group_size": None,
                      "num_bits": 8, "observer": None, "observer_kwargs": {}, "strategy": "token",
                      "symmetric": True, "type": "float"}
    return {
        "config_groups": {
            "group_0": {"input_activations": dynamic_tokens, "output_activations": None,
                        "targets": ["Linear"], "weights": channel},
            "group_1": {"input_activations": dict(dynamic_tokens, dynamic=False, strategy="tensor"),
                        "output_activations": None, "targets": ["model.layers.1.mlp.down_proj"],
                        "weights": dict(channel, strategy="tensor")},
            "group_2": {"input_activations": dynamic_tokens, "output_activations": None,
                        "targets": ["visual.blocks.2.attn.proj"], "weights": dict(channel, strategy="tensor")},
        },
        "format": "float-quantized", "global_compression_ratio": None, "ignore": ["lm_head"],
        "kv_cache_scheme": None, "quant_method": "compressed-tensors", "quantization_status": "compressed",
    }


def main():
    cross_check()
    source = read_checkpoint(SOURCE)
    out, keep, specs = {}, [], {}

    def add(name, dtype, shape, array):
        data = np.ascontiguousarray(array)
        keep.append(data)
        specs[name] = TensorSpec(dtype=dtype, shape=list(shape), data_ptr=data.ctypes.data, data_len=data.nbytes)

    quantized = 0
    for name in sorted(source):
        dtype, shape, raw = source[name]
        if not LINEAR.match(name):
            add(name, {"BF16": "bfloat16", "F32": "float32", "F16": "float16"}[dtype], shape,
                np.frombuffer(raw, dtype=np.uint8).copy())
            continue
        assert dtype == "BF16" and len(shape) == 2, name
        bits, scale = quantize(bf16_to_float32(raw, shape), PER_TENSOR.get(name))
        add(name, "float8_e4m3fn", shape, bits)
        add(name + "_scale", "float32", scale.shape, scale)
        if name in INPUT_SCALE:
            add(name[:-len(".weight")] + ".input_scale", "float32", [1], np.array([INPUT_SCALE[name]], np.float32))
        quantized += 1

    if os.path.isdir(TARGET):
        shutil.rmtree(TARGET)
    os.makedirs(TARGET)
    path = os.path.join(TARGET, "model.safetensors")
    serialize_file(specs, path, metadata={"format": "pt"})
    os.chmod(path, 0o644)
    with safe_open(path, framework="numpy") as f:  # the reference reader accepts what we wrote
        assert sorted(f.keys()) == sorted(specs)
    for file in ("tokenizer.json", "preprocessor_config.json"):
        shutil.copyfile(os.path.join(SOURCE, file), os.path.join(TARGET, file))
    with open(os.path.join(SOURCE, "config.json")) as f:
        config = json.load(f)
    config["quantization_config"] = quantization_config()
    with open(os.path.join(TARGET, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    print(f"wrote {TARGET}: {quantized} linear weights in F8_E4M3, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
