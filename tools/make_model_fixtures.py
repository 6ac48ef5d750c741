#!/usr/bin/env python3
"""Tiny random Qwen2.5-VL checkpoints and transformers' outputs for them (the CPU engine's parity fixtures).

Run from the package root:   python3 tools/make_model_fixtures.py
Needs (PyPI): torch (CPU build is enough), transformers>=4.57, tokenizers, safetensors, pillow, numpy,
qwen-vl-utils. Writes Fixtures/checkpoints/{tiny-untied-legacy,tiny-tied-newer}/ and
Fixtures/checkpoints/golden/*.json and images.

What it makes, and why:
- A real byte-level BPE tokenizer.json (trained here with `tokenizers`, Qwen2's normalizer, regex and
  special tokens) with a small vocabulary, so the embedding table stays tiny. Special-token ids therefore differ
  from the real model's; the engine must read them from config.json / tokenizer.json, not hard-code them.
- Model A, 7B-like: untied lm_head, grouped KV heads (4 q / 2 kv), legacy tensor names (`model.layers.*`,
  `visual.*`), flat config.json, bf16, two shards with `model.safetensors.index.json`.
- Model B, 3B-like: tied embeddings, grouped KV heads (4 q / 1 kv), newer names (`model.language_model.*`,
  `model.visual.*`), nested config as save_pretrained writes it, float32, one file.
- Images larger than one attention window (window = 112 px), so window and full-attention blocks both matter.
- Weights drawn so that scores spread over (0, 1) instead of all sitting near 0.5.
Golden values come from transformers in float32 over the same (bf16-rounded) weights the checkpoints hold:
token ids, image grids, vision embeddings per image, the final-normed hidden state at the last token, and
z = logit(yes) - logit(no), for text-only, image-query, image-document and mixed pairs.
"""
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast, Qwen2VLImageProcessor
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Fixtures", "checkpoints")

SYSTEM = ('Judge whether the Document meets the requirements based on the Query and the Instruct provided. '
          'Note that the answer can only be "yes" or "no".')
DEFAULT_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
QWEN_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
            "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
            "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
MIN_PIXELS, MAX_PIXELS = 4 * 28 * 28, 1280 * 28 * 28


def train_tokenizer():
    corpus = [SYSTEM, DEFAULT_INSTRUCTION, "<Instruct>: <Query>:\n<Document>:", "system\nuser\nassistant\n",
              "Retrieve product images that match the description", "Find the textbook page that answers"]
    corpus += ["yes", "no", "Yes", "No"] * 50
    corpus += ["The quick brown fox jumps over the lazy dog.", "A red bicycle leaning on a wall.",
               "Paris is the capital of France.", "Photosynthesis turns light into chemical energy.",
               "北京是中国的首都。", "東京は日本の首都です。", "Прага — столица Чехии.", "numbers 12345 and 3.14"]
    tok = Tokenizer(models.BPE(ignore_merges=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[], show_progress=False)
    tok.train_from_iterator(corpus * 3, trainer)
    tok.add_special_tokens(SPECIALS)
    for word in ("yes", "no"):
        ids = tok.encode(word, add_special_tokens=False).ids
        assert len(ids) == 1, f"{word!r} must be one token, got {ids}"
    return tok


def draw_image(width, height, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * 255 // max(width - 1, 1)), (y * 255 // max(height - 1, 1)),
                     ((x + y) * 3 % 256)], axis=-1).astype(np.int32)
    noise = rng.integers(-40, 40, size=(height, width, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")


def text_config(hidden, layers, heads, kv_heads, inter, vocab, tied):
    return dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                num_key_value_heads=kv_heads, intermediate_size=inter, vocab_size=vocab,
                max_position_embeddings=8192, rms_norm_eps=1e-6, rope_theta=1000000.0,
                rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}, tie_word_embeddings=tied,
                hidden_act="silu", sliding_window=None, use_sliding_window=False, max_window_layers=layers)


def build_model(tok, tied, kv_heads, seed):
    vocab = tok.get_vocab_size()
    ids = {name: tok.token_to_id(name) for name in SPECIALS}
    vision = dict(depth=4, hidden_size=32, intermediate_size=40, num_heads=2, out_hidden_size=64,
                  fullatt_block_indexes=[1, 3], window_size=112, patch_size=14, spatial_merge_size=2,
                  temporal_patch_size=2, in_chans=3, tokens_per_second=2, hidden_act="silu")
    cfg = Qwen2_5_VLConfig(text_config=text_config(64, 3, 4, kv_heads, 96, vocab, tied), vision_config=vision,
                           image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                           vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
                           bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                           tie_word_embeddings=tied)
    cfg._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration._from_config(cfg, dtype=torch.float32)
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or ".norm1." in name or ".norm2." in name or "ln_q" in name:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif "embed_tokens" in name:
                p.copy_((0.5 if not tied else 0.2) * torch.randn(p.shape, generator=gen))
            elif p.dim() >= 2:
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(fan_in))
            else:
                p.copy_(torch.randn(p.shape, generator=gen))
        if not tied:
            model.lm_head.weight.copy_(0.6 * torch.randn(model.lm_head.weight.shape, generator=gen))
        # The checkpoint is stored in bf16 (model A) or holds bf16-exact values (model B): round once so that
        # the golden values are computed over exactly the weights the engine will read.
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    return model


def render_prompt(instruction, query, document, n_pad):
    """The Lychee prompt of SPEC section 1; each image as one <|image_pad|> expanded to n_pad[i] copies."""
    pads = iter(n_pad)

    def side(seg):
        text = ""
        if seg.get("image"):
            text += "<|vision_start|>" + "<|image_pad|>" * next(pads) + "<|vision_end|>"
        return text + seg.get("text", "")

    return (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n<Instruct>: {instruction}"
            f"<Query>:{side(query)}\n<Document>:{side(document)}<|im_end|>\n<|im_start|>assistant\n")


def smart_resize(height, width, factor=28, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS):
    """qwen_vl_utils' smart_resize (the first of the reference's two resizes), written out to avoid torchvision."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError("aspect ratio over 200")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def run_pair(model, fast_tok, processor, images_dir, pair):
    images = [s["image"] for s in (pair["query"], pair["document"]) if s.get("image")]
    pil = []
    for name in images:
        img = Image.open(os.path.join(images_dir, name)).convert("RGB")
        h, w = smart_resize(img.height, img.width, factor=28, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
        pil.append(img.resize((w, h), Image.BICUBIC))
    kwargs = {}
    grids = []
    if pil:
        feats = processor(images=pil, return_tensors="pt")
        kwargs = dict(pixel_values=feats["pixel_values"], image_grid_thw=feats["image_grid_thw"])
        grids = feats["image_grid_thw"].tolist()
    n_pad = [t * h * w // 4 for t, h, w in grids]
    prompt = render_prompt(pair.get("instruction", DEFAULT_INSTRUCTION), pair["query"], pair["document"], n_pad)
    input_ids = fast_tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), output_hidden_states=True,
                    **kwargs)
        vision = []
        if pil:
            embeds = model.model.get_image_features(kwargs["pixel_values"], kwargs["image_grid_thw"])
            vision = [e.tolist() for e in embeds]
    h_last = out.hidden_states[-1][0, -1]
    yes, no = fast_tok.convert_tokens_to_ids("yes"), fast_tok.convert_tokens_to_ids("no")
    logits = out.logits[0, -1]
    z = float(logits[yes] - logits[no])
    w = model.lm_head.weight
    z_direct = float(h_last @ (w[yes] - w[no]).detach())
    assert abs(z - z_direct) < 1e-4 * max(1.0, abs(z)), (z, z_direct)
    return dict(input_ids=input_ids[0].tolist(), image_grid_thw=grids, vision_embeddings=vision,
                last_hidden=h_last.tolist(), z=z, score=1.0 / (1.0 + math.exp(-z)))


def legacy_name(name):
    if name.startswith("model.language_model."):
        return "model." + name[len("model.language_model."):]
    if name.startswith("model.visual."):
        return "visual." + name[len("model.visual."):]
    return name


def save_legacy_sharded(model, cfg_flat, directory):
    state = {legacy_name(k): v.to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}
    names = sorted(state)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    weight_map, total = {}, 0
    for fname, keys in shards.items():
        save_file({k: state[k] for k in keys}, os.path.join(directory, fname), metadata={"format": "pt"})
        for k in keys:
            weight_map[k] = fname
            total += state[k].numel() * 2
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg_flat, f, indent=2)


def flat_config(model):
    """config.json in the older flat style (text fields at the top level), like Qwen2.5-VL-7B-Instruct's."""
    cfg = model.config
    text = cfg.text_config.to_dict()
    flat = {"architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl",
            "torch_dtype": "bfloat16", "transformers_version": "4.41.2"}
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                "intermediate_size", "vocab_size", "max_position_embeddings", "rms_norm_eps", "rope_theta",
                "rope_scaling", "tie_word_embeddings", "hidden_act", "sliding_window", "use_sliding_window",
                "max_window_layers", "attention_dropout", "initializer_range", "use_cache"):
        if key in text:
            flat[key] = text[key]
    for key in ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id",
                "bos_token_id", "eos_token_id"):
        flat[key] = getattr(cfg, key)
    vision = cfg.vision_config.to_dict()
    flat["vision_config"] = {k: vision[k] for k in (
        "depth", "hidden_size", "intermediate_size", "num_heads", "in_chans", "out_hidden_size", "patch_size",
        "spatial_merge_size", "spatial_patch_size", "temporal_patch_size", "tokens_per_second", "window_size",
        "fullatt_block_indexes", "hidden_act") if k in vision}
    flat["vision_config"]["spatial_patch_size"] = vision.get("patch_size", 14)
    return flat


PAIRS = [
    dict(name="text-text-relevant", query={"text": "What is the capital of France?"},
         document={"text": "Paris is the capital of France."}),
    dict(name="text-text-other", query={"text": "What is the capital of France?"},
         document={"text": "Photosynthesis turns light into chemical energy."}),
    dict(name="text-text-cjk-custom", instruction="Find the textbook page that answers the question",
         query={"text": "北京是哪个国家的首都？"}, document={"text": "北京是中国的首都。 東京は日本の首都です。"}),
    dict(name="text-text-empty-query", query={}, document={"text": "A red bicycle leaning on a wall."}),
    dict(name="image-query", query={"image": "photo-a.png", "text": "like this"},
         document={"text": "A red bicycle leaning on a wall."}),
    dict(name="image-document", instruction="Retrieve product images that match the description",
         query={"text": "a gradient poster"}, document={"image": "photo-b.png"}),
    dict(name="mixed", query={"image": "photo-b.png", "text": "same scene?"},
         document={"image": "photo-c.jpg", "text": "numbers 12345 and 3.14"}),
    dict(name="two-images-only", query={"image": "photo-a.png"}, document={"image": "photo-c.jpg"}),
]


def main():
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    images_dir = os.path.join(OUT, "images")
    golden_dir = os.path.join(OUT, "golden")
    for d in (images_dir, golden_dir):
        os.makedirs(d)
    # Sizes: a is a multiple of 28 (no resize) and spans 2x2 windows; b is odd-sized (resized by PIL bicubic);
    # c is a JPEG, wide, 3 windows across.
    draw_image(224, 168, 1).save(os.path.join(images_dir, "photo-a.png"))
    draw_image(250, 190, 2).save(os.path.join(images_dir, "photo-b.png"))
    draw_image(300, 120, 3).save(os.path.join(images_dir, "photo-c.jpg"), quality=90)

    tok = train_tokenizer()
    fast_tok = PreTrainedTokenizerFast(tokenizer_object=tok)
    processor = Qwen2VLImageProcessor(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    preprocessor_config = {"image_processor_type": "Qwen2VLImageProcessor", "min_pixels": MIN_PIXELS,
                           "max_pixels": MAX_PIXELS, "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
                           "image_mean": [0.48145466, 0.4578275, 0.40821073],
                           "image_std": [0.26862954, 0.26130258, 0.27577711], "do_rescale": True,
                           "rescale_factor": 1 / 255, "do_normalize": True, "do_resize": True, "resample": 3}

    specs = [("tiny-untied-legacy", dict(tied=False, kv_heads=2, seed=7)),
             ("tiny-tied-newer", dict(tied=True, kv_heads=1, seed=11))]
    for model_name, spec in specs:
        model = build_model(tok, **spec)
        directory = os.path.join(OUT, model_name)
        os.makedirs(directory)
        if spec["tied"]:
            # save_pretrained writes the nested config; it stores tensors under the legacy names for backward
            # compatibility, so the weights are written again here under the newer names, float32, no lm_head.
            model.save_pretrained(directory, safe_serialization=True)
            state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
            assert all(k.startswith(("model.language_model.", "model.visual.")) for k in state), list(state)[:5]
            save_file(state, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
        else:
            save_legacy_sharded(model, flat_config(model), directory)
        for leftover in ("generation_config.json",):
            path = os.path.join(directory, leftover)
            if os.path.exists(path):
                os.remove(path)
        tok.save(os.path.join(directory, "tokenizer.json"))
        with open(os.path.join(directory, "preprocessor_config.json"), "w") as f:
            json.dump(preprocessor_config, f, indent=2)
        results = []
        for pair in PAIRS:
            r = run_pair(model, fast_tok, processor, images_dir, pair)
            results.append(dict(pair, **r))
            print(f"{model_name:20s} {pair['name']:22s} tokens={len(r['input_ids']):4d} z={r['z']:+.4f}",
                  file=sys.stderr)
        golden = dict(model=model_name, yes_id=tok.token_to_id("yes"), no_id=tok.token_to_id("no"),
                      transformers=__import__("transformers").__version__, torch=torch.__version__,
                      dtype="float32", pairs=results)
        with open(os.path.join(golden_dir, f"{model_name}.json"), "w") as f:
            json.dump(golden, f)


if __name__ == "__main__":
    main()
