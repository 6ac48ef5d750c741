#!/usr/bin/env python3
"""Golden Lychee prompts: token ids from the reference pipeline -> Fixtures/prompt/lychee_prompts.json.

Reference pipeline (what Lychee-Rerank-MM's users run):
  messages = [system: [text SYSTEM]],
             [user:   [text "<Instruct>: " + instruction, text "<Query>:", query images..., query text,
                       text "\\n<Document>:", document images..., document text]]   (empty texts left out)
  text = Qwen2_5_VLProcessor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
  ids  = Qwen2_5_VLProcessor(text=[text], images=[PIL images])["input_ids"][0]
with the Qwen2.5-VL chat template (below, as shipped in Qwen2.5-VL-Instruct's chat_template.json), a
Qwen2TokenizerFast over the real-vocabulary Qwen2 tokenizer.json committed by the tokenizer fixtures, and
Qwen2VLImageProcessor with Lychee's min/max pixels (the grids come from real image sizes).
The processor is built with video_processor=None (the video processor needs torchvision; no video is used).

Truncation cases follow the policy of `PromptBuilder`: the document text is cut to the LONGEST prefix of whole
characters (grapheme clusters, `regex` \\X) whose prompt fits, found here by exhaustive search from the full
length downwards; the expected ids are the reference pipeline's ids for that shortened text.

For every case `encodings` lists (rendered text with one <|image_pad|> per image -> tokenizer ids) for the
texts the builder tokenizes outside the truncation search, so tests can run on a table tokenizer.

Requires: transformers 4.57.x, tokenizers, pillow, regex.  Run from the package root:
    python3 tools/make_prompt_fixtures.py [--tokenizer Fixtures/tokenizer/qwen2-tokenizer.json.gz]
"""
import argparse
import gzip
import json
import os
import tempfile

import regex
import tokenizers
import transformers
from PIL import Image
from transformers import Qwen2_5_VLProcessor, Qwen2TokenizerFast, Qwen2VLImageProcessor
from transformers.processing_utils import ProcessorMixin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Fixtures", "prompt", "lychee_prompts.json")

QWEN25VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] "
    "== 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}"
    "{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}"
)
SYSTEM = ('Judge whether the Document meets the requirements based on the Query and the Instruct provided. '
          'Note that the answer can only be "yes" or "no".')
DEFAULT_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
MIN_PIXELS, MAX_PIXELS = 4 * 28 * 28, 1280 * 28 * 28


def make_processor(tokenizer_json):
    original = ProcessorMixin.check_argument_for_proper_class

    def check(self, name, arg):
        if name == "video_processor" and arg is None:
            return None
        return original(self, name, arg)

    ProcessorMixin.check_argument_for_proper_class = check
    tok = Qwen2TokenizerFast(tokenizer_file=tokenizer_json)
    images = Qwen2VLImageProcessor(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    return Qwen2_5_VLProcessor(image_processor=images, tokenizer=tok, video_processor=None,
                               chat_template=QWEN25VL_CHAT_TEMPLATE)


def side_content(prefix, text, image_count):
    content = [{"type": "text", "text": prefix}]
    content += [{"type": "image", "image": "file:///unused.png"} for _ in range(image_count)]
    if text:
        content.append({"type": "text", "text": text})
    return content


def messages(instruction, query_text, query_images, doc_text, doc_images):
    user = [{"type": "text", "text": "<Instruct>: " + instruction}]
    user += side_content("<Query>:", query_text, query_images)
    user += side_content("\n<Document>:", doc_text, doc_images)
    return [{"role": "system", "content": [{"type": "text", "text": SYSTEM}]}, {"role": "user", "content": user}]


class Reference:
    def __init__(self, tokenizer_json):
        self.processor = make_processor(tokenizer_json)
        self.fast = tokenizers.Tokenizer.from_file(tokenizer_json)

    def render(self, instruction, q_text, q_images, d_text, d_images):
        return self.processor.apply_chat_template(
            messages(instruction, q_text, len(q_images), d_text, len(d_images)), tokenize=False,
            add_generation_prompt=True)

    def grids(self, sizes):
        if not sizes:
            return []
        pics = [Image.new("RGB", (w, h), (90, 120, 200)) for w, h in sizes]
        return self.processor.image_processor(images=pics)["image_grid_thw"].tolist()

    def processor_ids(self, text, sizes):
        pics = [Image.new("RGB", (w, h), (90, 120, 200)) for w, h in sizes] or None
        return list(self.processor(text=[text], images=pics)["input_ids"][0])

    def raw_ids(self, text):
        return self.fast.encode(text, add_special_tokens=False).ids

    def count(self, text, grids):
        return len(self.raw_ids(text)) + sum(t * h * w // 4 - 1 for t, h, w in grids)


def build_case(ref, spec):
    instruction = spec.get("instruction")
    instr = DEFAULT_INSTRUCTION if instruction is None else instruction
    q, d = spec["query"], spec["document"]
    q_sizes, d_sizes = q.get("image_sizes", []), d.get("image_sizes", [])
    q_grids, d_grids = ref.grids(q_sizes), ref.grids(d_sizes)
    grids = q_grids + d_grids
    max_length = spec.get("max_length", 3200)
    if max_length == "empty document":  # exactly the prompt with an empty document text: all text is cut
        max_length = ref.count(ref.render(instr, q["text"], q_grids, "", d_grids), grids)

    def rendered(doc_text, with_doc=True):
        if with_doc:
            return ref.render(instr, q["text"], q_grids, doc_text, d_grids)
        return ref.render(instr, q["text"], q_grids, "", [])

    full_text = rendered(d["text"])
    encodings = {full_text: ref.raw_ids(full_text)}
    case = {
        "name": spec["name"], "instruction": instruction, "max_length": max_length,
        "query": {"text": q["text"], "image_sizes": q_sizes, "images": q_grids},
        "document": {"text": d["text"], "image_sizes": d_sizes, "images": d_grids},
    }
    full_count = ref.count(full_text, grids)
    if full_count <= max_length:
        kept_text, truncation = d["text"], None
    else:
        bare = rendered("", with_doc=False)
        images_only = rendered("")
        encodings[bare] = ref.raw_ids(bare)
        encodings[images_only] = ref.raw_ids(images_only)
        if ref.count(bare, q_grids) > max_length:
            case["expected_error"] = {"kind": "queryTooLong", "tokens": ref.count(bare, q_grids)}
        elif ref.count(images_only, grids) > max_length:
            case["expected_error"] = {"kind": "documentImagesTooLong", "tokens": ref.count(images_only, grids)}
        else:
            chars = regex.findall(r"\X", d["text"])
            kept = len(chars) - 1
            while ref.count(rendered("".join(chars[:kept])), grids) > max_length:
                kept -= 1
            kept_text = "".join(chars[:kept])
            truncation = {"original_token_count": full_count, "original_document_characters": len(chars),
                          "kept_document_characters": kept}
    case["encodings"] = [{"text": t, "ids": ids} for t, ids in encodings.items()]
    if "expected_error" in case:
        return case

    text = rendered(kept_text)
    ids = ref.processor_ids(text, q_sizes + d_sizes)
    expanded, image = [], 0
    for i in ref.raw_ids(text):  # cross-check: tokenizing once, then expanding each pad, gives the same ids
        if i == 151655:
            t, h, w = grids[image]
            expanded += [i] * (t * h * w // 4)
            image += 1
        else:
            expanded.append(i)
    assert expanded == ids, spec["name"]
    pads = [k for k, i in enumerate(ids) if i == 151655 and (k == 0 or ids[k - 1] != 151655)]
    assert len(pads) == len(grids), (spec["name"], len(pads), len(grids))
    assert len(ids) <= max_length and len(ids) == ref.count(text, grids), spec["name"]
    if truncation is not None:
        truncation["kept_token_count"] = len(ids)
        case["kept_rendered"] = text
    case["expected"] = {"input_ids": ids, "image_pad_starts": pads, "truncation": truncation}
    return case


def long_english(words):
    vocab = ("the retrieval system ranks documents by relevance while images and passages compete for attention "
             "of a careful reader who checks every claim against the query; numbers like 3200 and 1,003,520 "
             "appear, and so do hyphenated-words, URLs such as https://example.org/a?b=c, and (parentheses).").split()
    out, state = [], 12345
    for _ in range(words):
        state = (state * 1103515245 + 12345) % (1 << 31)
        out.append(vocab[state % len(vocab)])
    return " ".join(out)


def long_mixed(repeats):
    block = ("多模态重排序模型会同时阅读文字和图片，然后判断文档是否满足查询的要求。"
             "Café crème, naïve façade — e\u0301 and 👩‍💻 mixed with English text about reranking. "
             "東京の天気は晴れです。 한국어 문장도 있습니다. ")
    return block * repeats


CASES = [
    {"name": "text query, text document",
     "query": {"text": "What is the capital of China?"},
     "document": {"text": "The capital of China is Beijing."}},
    {"name": "image query, text document",
     "query": {"text": "", "image_sizes": [[640, 480]]},
     "document": {"text": "A red double-decker bus on a London street."}},
    {"name": "text query, image document with text",
     "query": {"text": "a cat playing with a ball"},
     "document": {"text": "Photo: kitten and yarn", "image_sizes": [[300, 200]]}},
    {"name": "image and text on both sides",
     "query": {"text": "find this product", "image_sizes": [[512, 512]]},
     "document": {"text": "Stainless steel kettle, 1.7 L", "image_sizes": [[1000, 700]]}},
    {"name": "empty query text and image-only document",
     "query": {"text": ""},
     "document": {"text": "", "image_sizes": [[56, 56]]}},
    {"name": "custom instruction",
     "instruction": "Given a product photo, find listings of the same item",
     "query": {"text": "blue running shoes"},
     "document": {"text": "Men's trail runner, ocean blue, size 42."}},
    {"name": "empty instruction",
     "instruction": "",
     "query": {"text": "x"},
     "document": {"text": "y"}},
    {"name": "CJK, accents and emoji",
     "query": {"text": "东京的天气怎么样？"},
     "document": {"text": "東京の天気は晴れです。Café naïve — e\u0301 👩‍💻 한국어"}},
    {"name": "boundary whitespace and newlines",
     "query": {"text": " leading space and trailing newline\n"},
     "document": {"text": "\n\nstarts with newlines   and ends with spaces   "}},
    {"name": "special token text in the document",
     "query": {"text": "q"},
     "document": {"text": "before<|im_end|>after<|endoftext|>"}},
    {"name": "two document images, tiny and wide",
     "query": {"text": "compare"},
     "document": {"text": "two views", "image_sizes": [[20, 20], [1200, 300]]}},
    {"name": "truncated English text document",
     "max_length": 200,
     "query": {"text": "how do rerankers score documents"},
     "document": {"text": long_english(400)}},
    {"name": "truncated mixed-script document with an image at 3200",
     "query": {"text": "多模态重排序", "image_sizes": [[224, 224]]},
     "document": {"text": long_mixed(40), "image_sizes": [[800, 600]]}},
    {"name": "truncated to nothing",
     "max_length": "empty document",
     "query": {"text": "q"},
     "document": {"text": "every word of this document is cut away because the budget is exhausted"}},
    {"name": "query too long",
     "max_length": 60,
     "query": {"text": long_english(80)},
     "document": {"text": "short"}},
    {"name": "document images too long",
     "max_length": 300,
     "query": {"text": "q"},
     "document": {"text": "caption", "image_sizes": [[448, 448]]}},
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokenizer", default=os.path.join(ROOT, "Fixtures", "tokenizer", "qwen2-tokenizer.json.gz"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tokenizer.json")
        with gzip.open(args.tokenizer, "rb") as src, open(path, "wb") as dst:
            dst.write(src.read())
        ref = Reference(path)
        cases = [build_case(ref, spec) for spec in CASES]
    meta = {"generator": "tools/make_prompt_fixtures.py", "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "tokenizer_file": "Fixtures/tokenizer/qwen2-tokenizer.json.gz",
            "system": SYSTEM, "default_instruction": DEFAULT_INSTRUCTION}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "cases": cases}, f, ensure_ascii=False, separators=(",", ":"))
    for c in cases:
        exp = c.get("expected")
        print(f"{c['name']:<58} " + (f"{len(exp['input_ids'])} ids, truncation={exp['truncation']}" if exp
                                      else f"error {c['expected_error']}"))


if __name__ == "__main__":
    main()
