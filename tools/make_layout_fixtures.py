#!/usr/bin/env python3
"""Make the layout/validation fixtures under Fixtures/models/.

Requires: numpy, safetensors (pip install safetensors; tested with 0.8.0). No torch.

Writes
  configs/              config.json copies of Qwen/Qwen2.5-VL-7B-Instruct and -3B-Instruct (flat, as released),
                        the nested styles that transformers 4.52 and 5.x save, and preprocessor configs
                        (min/max_pixels style and size{shortest_edge,longest_edge} style).
  tiny-legacy-untied/   flat config, untied, legacy names (model.*, visual.*, lm_head), one BF16 file.
  tiny-nested-sharded-tied/  nested (transformers 5) config, tied, newer names (model.language_model.*,
                        model.visual.*), index + 2 shards: language in F32, vision in BF16; no lm_head.
  tiny-tied-with-lm-head/    tied config whose single F16 file still stores lm_head.weight (to be ignored).
  broken-names/         legacy names with one tensor missing, one unexpected and one wrongly shaped.
  broken-dtype/         a file holding F64 and I64 tensors (refused by name).
  writer-reference.safetensors + writer-reference.json
                        tensors written by the reference writer, which the Swift writer must reproduce byte
                        for byte, and the float32 bit patterns the reader must return.
The tiny checkpoints hold random values: they exercise names, shapes and validation, not numerics.
Run from the package root: python3 tools/make_layout_fixtures.py
"""
import copy
import json
import os
import shutil

import numpy as np
from safetensors import TensorSpec, safe_open, serialize_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "models")

# ---------------------------------------------------------------------------------------------
# Released configs (flat style, transformers 4.41.2 era), reproduced field for field.

VISION_7B = {
    "depth": 32, "hidden_act": "silu", "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16,
    "in_chans": 3, "out_hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2,
    "spatial_patch_size": 14, "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31],
    "tokens_per_second": 2, "temporal_patch_size": 2,
}


def released_config(hidden, intermediate, max_window_layers, heads, layers, kv_heads, tie, vocab):
    vision = dict(VISION_7B, out_hidden_size=hidden)
    return {
        "architectures": ["Qwen2_5_VLForConditionalGeneration"], "attention_dropout": 0.0,
        "bos_token_id": 151643, "eos_token_id": 151645, "vision_start_token_id": 151652,
        "vision_end_token_id": 151653, "vision_token_id": 151654, "image_token_id": 151655,
        "video_token_id": 151656, "hidden_act": "silu", "hidden_size": hidden, "initializer_range": 0.02,
        "intermediate_size": intermediate, "max_position_embeddings": 128000,
        "max_window_layers": max_window_layers, "model_type": "qwen2_5_vl", "num_attention_heads": heads,
        "num_hidden_layers": layers, "num_key_value_heads": kv_heads, "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": tie,
        "torch_dtype": "bfloat16", "transformers_version": "4.41.2", "use_cache": True,
        "use_sliding_window": False, "vision_config": vision,
        "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}, "vocab_size": vocab,
    }


CONFIG_7B = released_config(3584, 18944, 28, 28, 28, 4, False, 152064)
CONFIG_3B = released_config(2048, 11008, 70, 16, 36, 2, True, 151936)

TEXT_KEYS = [
    "attention_dropout", "bos_token_id", "eos_token_id", "hidden_act", "hidden_size", "initializer_range",
    "intermediate_size", "max_position_embeddings", "max_window_layers", "num_attention_heads",
    "num_hidden_layers", "num_key_value_heads", "rms_norm_eps", "rope_scaling", "rope_theta",
    "sliding_window", "tie_word_embeddings", "use_cache", "use_sliding_window", "vocab_size",
]
TOKEN_KEYS = ["image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id", "vision_token_id"]


def nested_452(flat):
    """As transformers 4.52 saves it: text fields repeated under text_config, rope type rewritten."""
    out = copy.deepcopy(flat)
    rope = {"mrope_section": flat["rope_scaling"]["mrope_section"], "rope_type": "default", "type": "default"}
    out["rope_scaling"] = rope
    text = {k: copy.deepcopy(flat[k]) for k in TEXT_KEYS}
    text.update(architectures=flat["architectures"], model_type="qwen2_5_vl_text", torch_dtype="bfloat16",
                rope_scaling=copy.deepcopy(rope), image_token_id=None, video_token_id=None,
                vision_start_token_id=flat["vision_start_token_id"],
                vision_end_token_id=flat["vision_end_token_id"], vision_token_id=flat["vision_token_id"])
    out["text_config"] = dict(sorted(text.items()))
    out["transformers_version"] = "4.52.4"
    vision = dict(out["vision_config"], in_channels=3, initializer_range=0.02, model_type="qwen2_5_vl",
                  torch_dtype="bfloat16")
    out["vision_config"] = dict(sorted(vision.items()))
    return dict(sorted(out.items()))


def nested_v5(flat):
    """As transformers 5 saves it: text fields only under text_config, rope_parameters, dtype."""
    text = {k: copy.deepcopy(flat[k]) for k in TEXT_KEYS if k not in ("rope_scaling", "rope_theta")}
    text["rope_parameters"] = {"mrope_section": flat["rope_scaling"]["mrope_section"],
                               "rope_theta": flat["rope_theta"], "rope_type": "default"}
    text.update(dtype="bfloat16", model_type="qwen2_5_vl_text", layer_types=["full_attention"] * flat["num_hidden_layers"])
    vision = {k: v for k, v in flat["vision_config"].items() if k != "in_chans"}
    vision.update(in_channels=3, initializer_range=0.02, model_type="qwen2_5_vl", dtype="bfloat16")
    out = {"architectures": flat["architectures"], "dtype": "bfloat16", "model_type": "qwen2_5_vl",
           "text_config": dict(sorted(text.items())), "tie_word_embeddings": flat["tie_word_embeddings"],
           "transformers_version": "5.0.0", "vision_config": dict(sorted(vision.items()))}
    out.update({k: flat[k] for k in TOKEN_KEYS})
    return dict(sorted(out.items()))


PREPROCESSOR_OLD = {
    "min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
    "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen2_5_VLProcessor",
}
PREPROCESSOR_SIZE = {
    "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
    "image_mean": PREPROCESSOR_OLD["image_mean"], "image_processor_type": "Qwen2VLImageProcessorFast",
    "image_std": PREPROCESSOR_OLD["image_std"], "merge_size": 2, "patch_size": 14,
    "processor_class": "Qwen2_5_VLProcessor", "resample": 3, "rescale_factor": 0.00392156862745098,
    "size": {"longest_edge": 1003520, "shortest_edge": 3136}, "temporal_patch_size": 2,
}

# ---------------------------------------------------------------------------------------------
# Tiny model: real names, toy sizes.

TINY_FLAT = {
    "architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl",
    "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
    "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "vocab_size": 128,
    "rope_scaling": {"type": "mrope", "mrope_section": [2, 1, 1]}, "tie_word_embeddings": False,
    "torch_dtype": "bfloat16", "image_token_id": 120, "video_token_id": 121, "vision_start_token_id": 122,
    "vision_end_token_id": 123, "vision_token_id": 124,
    "vision_config": {"depth": 2, "hidden_size": 16, "intermediate_size": 24, "num_heads": 2, "in_chans": 3,
                      "out_hidden_size": 32, "patch_size": 14, "spatial_merge_size": 2, "window_size": 112,
                      "fullatt_block_indexes": [1], "temporal_patch_size": 2},
}


def tiny_shapes(config, layout, with_lm_head):
    text = config.get("text_config", config)
    vision = config["vision_config"]
    h, inter, vocab = text["hidden_size"], text["intermediate_size"], text["vocab_size"]
    heads, kv = text["num_attention_heads"], text["num_key_value_heads"]
    hd = h // heads
    lp, vp = ("model.", "visual.") if layout == "legacy" else ("model.language_model.", "model.visual.")
    shapes = {lp + "embed_tokens.weight": (vocab, h), lp + "norm.weight": (h,)}
    for i in range(text["num_hidden_layers"]):
        p = f"{lp}layers.{i}."
        shapes.update({
            p + "self_attn.q_proj.weight": (heads * hd, h), p + "self_attn.q_proj.bias": (heads * hd,),
            p + "self_attn.k_proj.weight": (kv * hd, h), p + "self_attn.k_proj.bias": (kv * hd,),
            p + "self_attn.v_proj.weight": (kv * hd, h), p + "self_attn.v_proj.bias": (kv * hd,),
            p + "self_attn.o_proj.weight": (h, heads * hd), p + "mlp.gate_proj.weight": (inter, h),
            p + "mlp.up_proj.weight": (inter, h), p + "mlp.down_proj.weight": (h, inter),
            p + "input_layernorm.weight": (h,), p + "post_attention_layernorm.weight": (h,),
        })
    if with_lm_head:
        shapes["lm_head.weight"] = (vocab, h)
    w, vi, ps, tp = vision["hidden_size"], vision["intermediate_size"], vision["patch_size"], vision["temporal_patch_size"]
    m = w * vision["spatial_merge_size"] ** 2
    shapes[vp + "patch_embed.proj.weight"] = (w, 3, tp, ps, ps)
    for j in range(vision["depth"]):
        p = f"{vp}blocks.{j}."
        shapes.update({
            p + "norm1.weight": (w,), p + "norm2.weight": (w,), p + "attn.qkv.weight": (3 * w, w),
            p + "attn.qkv.bias": (3 * w,), p + "attn.proj.weight": (w, w), p + "attn.proj.bias": (w,),
            p + "mlp.gate_proj.weight": (vi, w), p + "mlp.gate_proj.bias": (vi,), p + "mlp.up_proj.weight": (vi, w),
            p + "mlp.up_proj.bias": (vi,), p + "mlp.down_proj.weight": (w, vi), p + "mlp.down_proj.bias": (w,),
        })
    shapes.update({vp + "merger.ln_q.weight": (w,), vp + "merger.mlp.0.weight": (m, m), vp + "merger.mlp.0.bias": (m,),
                   vp + "merger.mlp.2.weight": (vision["out_hidden_size"], m),
                   vp + "merger.mlp.2.bias": (vision["out_hidden_size"],)})
    return shapes


def random_tensors(shapes, seed):
    rng = np.random.default_rng(seed)
    return {name: (rng.standard_normal(shape) * 0.02).astype(np.float32) for name, shape in sorted(shapes.items())}


def bf16_bits(values):
    """float32 -> bfloat16 bit patterns, round to nearest even (NaN kept quiet)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(values)
    rounded[nan] = ((bits[nan] >> 16) | 0x40).astype(np.uint16)
    return rounded


def save(tensors, path, dtypes, metadata=None):
    """tensors: name -> float32 (or raw) array; dtypes: name -> safetensors dtype string."""
    keep, specs = [], {}
    for name, values in tensors.items():
        dtype = dtypes(name) if callable(dtypes) else dtypes
        data = {"BF16": lambda v: bf16_bits(v), "F16": lambda v: v.astype(np.float16),
                "F32": lambda v: v.astype(np.float32), "F64": lambda v: v.astype(np.float64),
                "I64": lambda v: v.astype(np.int64)}[dtype](np.asarray(values))
        data = np.ascontiguousarray(data)
        keep.append(data)
        name_for_spec = {"BF16": "bfloat16", "F16": "float16", "F32": "float32", "F64": "float64", "I64": "int64"}[dtype]
        specs[name] = TensorSpec(dtype=name_for_spec, shape=list(np.asarray(values).shape),
                                 data_ptr=data.ctypes.data, data_len=data.nbytes)
    serialize_file(specs, path, metadata=metadata)
    with safe_open(path, framework="numpy") as f:  # the reference reader accepts what we wrote
        assert sorted(f.keys()) == sorted(tensors)


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def reset(folder):
    path = os.path.join(ROOT, folder)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def main():
    configs = reset("configs")
    write_json(os.path.join(configs, "qwen2.5-vl-7b-instruct.json"), CONFIG_7B)
    write_json(os.path.join(configs, "qwen2.5-vl-3b-instruct.json"), CONFIG_3B)
    write_json(os.path.join(configs, "qwen2.5-vl-3b-transformers-4.52.json"), nested_452(CONFIG_3B))
    write_json(os.path.join(configs, "qwen2.5-vl-7b-transformers-5.json"), nested_v5(CONFIG_7B))
    write_json(os.path.join(configs, "preprocessor-min-max-pixels.json"), PREPROCESSOR_OLD)
    write_json(os.path.join(configs, "preprocessor-size.json"), PREPROCESSOR_SIZE)

    # Legacy, untied, single BF16 file.
    folder = reset("tiny-legacy-untied")
    write_json(os.path.join(folder, "config.json"), TINY_FLAT)
    write_json(os.path.join(folder, "preprocessor_config.json"), PREPROCESSOR_OLD)
    save(random_tensors(tiny_shapes(TINY_FLAT, "legacy", True), 1), os.path.join(folder, "model.safetensors"),
         "BF16", metadata={"format": "pt"})

    # Newer names, tied, nested transformers-5 config, two shards.
    tied = dict(TINY_FLAT, tie_word_embeddings=True)
    nested = nested_v5(dict(tied, max_position_embeddings=128, sliding_window=32, max_window_layers=2,
                            attention_dropout=0.0, bos_token_id=0, eos_token_id=1, hidden_act="silu",
                            initializer_range=0.02, use_cache=True, use_sliding_window=False,
                            vision_config=dict(TINY_FLAT["vision_config"], spatial_patch_size=14, hidden_act="silu",
                                               tokens_per_second=2)))
    folder = reset("tiny-nested-sharded-tied")
    write_json(os.path.join(folder, "config.json"), nested)
    tensors = random_tensors(tiny_shapes(nested, "nested", False), 2)
    shards = {"model-00001-of-00002.safetensors": {k: v for k, v in tensors.items() if "language_model" in k},
              "model-00002-of-00002.safetensors": {k: v for k, v in tensors.items() if "visual" in k}}
    for (shard, part), dtype in zip(shards.items(), ["F32", "BF16"]):
        save(part, os.path.join(folder, shard), dtype, metadata={"format": "pt"})
    total = sum(v.size * (4 if "language_model" in k else 2) for k, v in tensors.items())
    write_json(os.path.join(folder, "model.safetensors.index.json"),
               {"metadata": {"total_size": total},
                "weight_map": {k: s for s, part in shards.items() for k in sorted(part)}})

    # Tied config, but the file still stores lm_head.weight.
    folder = reset("tiny-tied-with-lm-head")
    write_json(os.path.join(folder, "config.json"), tied)
    save(random_tensors(tiny_shapes(tied, "legacy", True), 3), os.path.join(folder, "model.safetensors"), "F16")

    # Missing, unexpected and wrongly shaped tensors.
    folder = reset("broken-names")
    write_json(os.path.join(folder, "config.json"), TINY_FLAT)
    shapes = tiny_shapes(TINY_FLAT, "legacy", True)
    del shapes["model.layers.1.mlp.up_proj.weight"]
    shapes["model.layers.0.self_attn.o_proj.bias"] = (32,)
    shapes["visual.merger.mlp.2.weight"] = (16, 64)
    save(random_tensors(shapes, 4), os.path.join(folder, "model.safetensors"), "BF16")

    # Unsupported dtypes.
    folder = reset("broken-dtype")
    write_json(os.path.join(folder, "config.json"), TINY_FLAT)
    save({"model.norm.weight": np.ones(32), "model.embed_tokens.weight": np.zeros((4, 2)),
          "visual.merger.ln_q.weight": np.ones(16, dtype=np.float32)},
         os.path.join(folder, "model.safetensors"),
         lambda n: {"model.norm.weight": "F64", "model.embed_tokens.weight": "I64"}.get(n, "F32"))

    # Writer reference.
    values = {
        "a.bf16": (np.array([[1.0, -2.0, 0.5], [3.14159, 1e-3, -0.0]], dtype=np.float32), "BF16"),
        "b.f16": (np.array([1.0, 65504.0, 6e-8, -np.inf], dtype=np.float32), "F16"),
        "c.f32": (np.array([[0.1, 0.2], [0.3, 0.4]], dtype=np.float32), "F32"),
        "d.empty": (np.zeros((0, 3), dtype=np.float32), "F32"),
        "é/quoted\"name": (np.array([2.5], dtype=np.float32), "F16"),
    }
    path = os.path.join(ROOT, "writer-reference.safetensors")
    save({k: v for k, (v, _) in values.items()}, path, lambda n: values[n][1],
         metadata={"format": "pt"})  # one key: the reference writer orders keys unpredictably
    expected = {}
    with safe_open(path, framework="numpy") as f:
        for name in f.keys():
            if values[name][1] == "BF16":  # numpy cannot load bfloat16: decode the bits we wrote
                raw = (bf16_bits(values[name][0]).astype(np.uint32) << 16).view(np.float32)
            else:
                raw = f.get_tensor(name)
            expected[name] = {"dtype": values[name][1], "shape": list(values[name][0].shape),
                              "float32_bits": [int(x) for x in np.asarray(raw, dtype=np.float32).ravel().view(np.uint32)]}
    write_json(os.path.join(ROOT, "writer-reference.json"),
               {"metadata": {"format": "pt"}, "tensors": expected})


if __name__ == "__main__":
    main()
