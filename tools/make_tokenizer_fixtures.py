#!/usr/bin/env python3
"""Build the Qwen2 tokenizer fixtures used by `Tests/TokenizersTests`.

What it writes (paths relative to the package root):
  Fixtures/tokenizer/qwen2-tokenizer.json.gz  a real-vocabulary Qwen2 `tokenizer.json` (gzip -9), merges in the
                                              older "a b" string form, laid out like Qwen2.5-VL's own file.
  Fixtures/tokenizer/golden.json              golden ids and decoded strings from the HF `tokenizers` library.
It reads Fixtures/tokenizer/document.txt (a hand-written ~3,200-token document, committed) as one corpus entry.

How the tokenizer.json is made:
  * vocab: the 151,643 ranks of `qwen.tiktoken` (PyPI package `dashscope`, `dashscope/resources/qwen.tiktoken`),
    each token's bytes mapped to the GPT-2 byte-level alphabet; id = rank.
  * merges: for each multi-byte token in rank order, the pair (a, b) that byte-pair merging of the token's own
    bytes reaches when only merges of lower rank are allowed (so a and b are tokens and a + b is the token).
    This is the usual tiktoken -> HF conversion; one merge per token, rank of merge = order of the token.
  * added tokens 151643..151664 as in Qwen2.5-VL's tokenizer.json (ids, `special` flags), normalizer NFC,
    pre-tokenizer Split(Qwen2 regex, Isolated) + ByteLevel(no prefix space, no regex), decoder ByteLevel.
Cross-check (the script fails otherwise): for every corpus text, `tokenizers` on this file gives the same ids as
`tiktoken` with Qwen's pattern on the NFC-normalised text.

Run from the package root (Python 3.10+; needs `pip install tokenizers tiktoken dashscope`):
    python3 tools/make_tokenizer_fixtures.py
It is deterministic: running it again rewrites identical files.
"""

import base64
import gzip
import json
import os
import random
import sys
import unicodedata

import dashscope
import tiktoken
import tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "Fixtures", "tokenizer")

QWEN_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# Qwen2.5-VL's added tokens, in id order from 151643; the first 14 are special, the rest are not.
ADDED_TOKENS = [
    ("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True),
    ("<|object_ref_start|>", True), ("<|object_ref_end|>", True), ("<|box_start|>", True),
    ("<|box_end|>", True), ("<|quad_start|>", True), ("<|quad_end|>", True),
    ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
    ("<|image_pad|>", True), ("<|video_pad|>", True),
    ("<tool_call>", False), ("</tool_call>", False), ("<|fim_prefix|>", False), ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False), ("<|fim_pad|>", False), ("<|repo_name|>", False), ("<|file_sep|>", False),
]
FIRST_ADDED_ID = 151643


def byte_level_alphabet():
    """The GPT-2 byte -> printable character table used by ByteLevel pre-tokenizers."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1))
                 + list(range(ord("\u00ae"), ord("\u00ff") + 1)))
    table = {}
    extra = 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return table


def load_ranks():
    path = os.path.join(os.path.dirname(dashscope.__file__), "resources", "qwen.tiktoken")
    ranks = {}
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
    assert len(ranks) == FIRST_ADDED_ID and sorted(ranks.values()) == list(range(FIRST_ADDED_ID)), "bad qwen.tiktoken"
    return ranks


def split_of(token, ranks):
    """Byte-pair merge `token`'s bytes using only ranks below its own; returns the final parts."""
    limit = ranks[token]
    parts = [token[i:i + 1] for i in range(len(token))]
    while len(parts) > 2:
        best, best_rank = None, limit
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and r < best_rank:
                best, best_rank = i, r
        if best is None:
            break
        parts[best:best + 2] = [parts[best] + parts[best + 1]]
    return parts


def build_tokenizer_json(ranks):
    alphabet = byte_level_alphabet()
    to_text = lambda b: "".join(alphabet[x] for x in b)
    by_rank = sorted(ranks.items(), key=lambda kv: kv[1])
    vocab = {to_text(token): rank for token, rank in by_rank}
    merges = []
    for token, _ in by_rank:
        if len(token) < 2:
            continue
        parts = split_of(token, ranks)
        if len(parts) != 2:
            sys.exit(f"token {token!r} cannot be reached by merges ({len(parts)} parts)")
        merges.append(f"{to_text(parts[0])} {to_text(parts[1])}")
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": FIRST_ADDED_ID + i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": special}
            for i, (content, special) in enumerate(ADDED_TOKENS)
        ],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN_PATTERN}, "behavior": "Isolated", "invert": False},
            byte_level,
        ]},
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


def corpus():
    """(name, text) pairs covering scripts, emoji, code, whitespace, special tokens and edge cases."""
    with open(os.path.join(OUT_DIR, "document.txt"), encoding="utf-8") as f:
        document = f.read()
    nfd = unicodedata.normalize("NFD", "Crème brûlée, naïve café, Ångström, São Paulo, 한국어")
    return [
        ("empty", ""),
        ("english", "Hello, world! The quick brown fox jumps over the lazy dog."),
        ("english_multiline", "First line.\nSecond line, with more words.\n\nA new paragraph after a blank line."),
        ("chinese", "今天天气很好，我们去公园散步吧。机器学习模型需要大量的数据进行训练。"),
        ("japanese", "東京は日本の首都です。ひらがなとカタカナ、そして漢字を使います。ｶﾀｶﾅ（半角）も。"),
        ("korean", "안녕하세요, 세계! 한국어 문장을 토큰화합니다. 감사합니다."),
        ("arabic", "مرحبا بالعالم. اللغة العربية تكتب من اليمين إلى اليسار، والأرقام ١٢٣٤٥."),
        ("hindi", "नमस्ते दुनिया। हिन्दी देवनागरी लिपि में लिखी जाती है।"),
        ("thai", "สวัสดีชาวโลก ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ"),
        ("russian_greek", "Привет, мир! Ελληνικά γράμματα: αβγδε ΑΒΓΔΕ."),
        ("emoji", "I love 🍕 and 🎉! Family: 👨‍👩‍👧‍👦 Flags: 🇫🇷🇯🇵🇺🇸 Skin: 👍🏽👋🏿 Heart: ❤️ Keycap: 1️⃣"),
        ("emoji_only", "😀😃😄😁😆😅🤣😂🙂🙃"),
        ("code_python", "def add(a, b):\n\treturn a + b\n\nif __name__ == \"__main__\":\n\tprint(add(1, 2))\n"),
        ("code_crlf", "int main() {\r\n    printf(\"hi\\n\");\r\n    return 0;\r\n}\r\n"),
        ("code_swift", "let xs: [Int] = [1, 2, 3]\nfor x in xs where x % 2 == 1 { print(\"\\(x)\") }\n"),
        ("json", "{\"key\": [1, 2.5, -3e10, null, true], \"nested\": {\"a\": \"b\"}}"),
        ("numbers", "Pi is 3.14159265358979, e is 2.71828; 1,000,000 and 12345678901234567890 and ½ ² ① Ⅻ ٣"),
        ("contractions", "I'm sure you'll see we'd've done it. It's John's, isn't it? They're here, we've gone."),
        ("contractions_case", "DON'T WON'T I'LL We'Ve She'S THEY'RE I'M I'D 'S 'T 'Re 'vE 'LL 'd"),
        ("contraction_long_s", "it'ſ odd 'ſ"),
        ("apostrophes", "' '' ''' 'x 'sx don' t rock'n'roll ’s ’t"),
        ("spaces_runs", "a  b   c    d\t\te \t f  \n  g   "),
        ("unicode_spaces", "a\u00a0b\u3000c\u2003d\u2002e\u2009f\u202fg\u205fh\u1680i\u200bj\u00a0\u00a0k \u3000 l"),
        ("odd_whitespace", "x\u0085y\u001cz\u001fw\u180ev\u2028u\u2029t\u000bs\u000cr"),
        ("trailing_spaces", "trailing spaces   "),
        ("trailing_newlines", "trailing newlines\n\n\n"),
        ("leading_whitespace", "   \n\t leading"),
        ("only_spaces", "     "),
        ("only_newlines", "\n\n\r\n\r\r\n"),
        ("spaces_then_newline", "end.   \n   next \r\n\t\n x"),
        ("nfd_input", nfd),
        ("nfd_mixed", "e\u0301 a\u0308 o\u0302\u0323 \u1100\u1161\u11a8 \u212b \u2126"),
        ("special_chat", "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"),
        ("special_vision", "<|vision_start|><|image_pad|><|image_pad|><|image_pad|><|vision_end|>Describe it."),
        ("special_all", "".join(content for content, _ in ADDED_TOKENS)),
        ("special_near_miss", "<|im_start| <|im_start <im_start|> <|im_end|<|endoftext|>> <||> <|IM_START|>"),
        ("special_glued", "word<|endoftext|>word <|im_end|>  <tool_call>{\"a\":1}</tool_call> x<|fim_pad|>"),
        ("special_in_spaces", "  <|im_start|>  \n<|im_end|>\n\n"),
        ("punctuation", "Wait... what?!? (yes) [no] {maybe} <tag> #hash @at $100 %50 ^_^ &amp; *bold* ~~x~~ | \\ /"),
        ("urls", "See https://example.com/path?q=1&r=two#frag or mailto:someone@example.org."),
        ("mixed_scripts", "Mixing English, 中文, 日本語, 한국어, and العربية in one sentence: ok."),
        ("combining_marks", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇ and a\u0301\u0302\u0303\u0304 here"),
        ("private_and_rare", "\ue000\U000f0000 \U0001d400\U0001d401 \u0378 \U00010000 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"),
        ("long_word", "a" * 10000),
        ("long_mixed_word", "pneumonoultramicroscopicsilicovolcanoconiosis" * 50),
        ("long_digits", "1234567890" * 100),
        ("long_spaces", " " * 1000 + "x" + "\n" * 500),
        ("document", document),
    ]


# Extra added tokens exercising every flag; spliced after Qwen's own in `flag_tokens.json`.
FLAG_TOKENS = [
    {"content": "<mask>", "lstrip": True, "rstrip": False, "single_word": False, "normalized": False, "special": True},
    {"content": "[R]", "lstrip": False, "rstrip": True, "single_word": False, "normalized": False, "special": False},
    {"content": "cat", "lstrip": False, "rstrip": False, "single_word": True, "normalized": False, "special": False},
    {"content": "cafe\u0301", "lstrip": False, "rstrip": False, "single_word": False, "normalized": True,
     "special": False},
    {"content": "<both>", "lstrip": True, "rstrip": True, "single_word": True, "normalized": False, "special": True},
]

FLAG_TEXTS = [
    "a <mask> b", "a\u00a0\u3000<mask>b", "<mask>", "x<mask>  <mask>", "[R]   tail", "[R]\n\nx", "[R][R] [R]",
    "cat", "a cat sat", "concatenate", "cat_like cat1 (cat) cats", "caté x", "\u05d0cat", "cat\u0301",
    "café", "cafe\u0301", "un café noir", "CAFÉ", "  <both>  x", "a<both>b", "a <both> b",
    "<|im_start|>cat<mask>[R] <both>", "",
]


def flag_cases(spec):
    """Encodings with FLAG_TOKENS appended to the added tokens. Ids follow `tokenizers`' rule: a content already
    in the vocabulary keeps its id ("cat"), the others continue after Qwen's added tokens."""
    flagged = json.loads(json.dumps(spec))
    next_id = FIRST_ADDED_ID + len(ADDED_TOKENS)
    entries = []
    for token in FLAG_TOKENS:
        known = spec["model"]["vocab"].get(token["content"])
        entries.append(dict(token, id=known if known is not None else next_id))
        next_id += known is None
    flagged["added_tokens"] = flagged["added_tokens"] + entries
    hf = tokenizers.Tokenizer.from_str(json.dumps(flagged))
    for entry in entries:
        assert hf.token_to_id(entry["content"]) == entry["id"], entry
    cases = []
    for sample in FLAG_TEXTS:
        ids = hf.encode(sample, add_special_tokens=False).ids
        cases.append({"text": sample, "ids": ids, "decoded": hf.decode(ids, skip_special_tokens=False),
                      "decoded_skip_special": hf.decode(ids, skip_special_tokens=True)})
    return {"added_tokens": entries, "cases": cases}


# Characters the random strings are drawn from: every class the split pattern and NFC care about.
FUZZ_ALPHABET = (
    list("aAbsStTrReEvVmMlLdDxyzſ'’\"0123456789.,;:!?-_()[]{}<>|/\\#@$%^&*+=~`")
    + [" "] * 8 + ["\n"] * 3 + ["\r", "\t", "\u000b", "\u000c", "\u0085", "\u00a0", "\u1680", "\u2003", "\u2028",
                                 "\u3000", "\u200b", "\u200d", "\u001c"]
    + list("éüñßÅΩж中文日本語한국어ąعربيةहिन्दीไทย①½²Ⅻ٣") + ["\u0301", "\u0308", "\u0323", "\u1100", "\u1161", "\u11a8"]
    + ["😀", "👍", "\U0001f3fd", "🇫", "🇷", "\ufe0f", "\U0001d400"]
    + ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|", "|>", "<tool_call>"]
)


def fuzz_corpus(count=400, seed=20240601):
    """Deterministic random strings mixing all character classes, to compare beyond hand-picked cases."""
    rng = random.Random(seed)
    return [(f"fuzz_{i}", "".join(rng.choice(FUZZ_ALPHABET) for _ in range(rng.randint(1, 40))))
            for i in range(count)]


def main():
    ranks = load_ranks()
    spec = build_tokenizer_json(ranks)
    text = json.dumps(spec, ensure_ascii=False, indent=2)
    hf = tokenizers.Tokenizer.from_str(text)
    tk = tiktoken.Encoding(
        "qwen", pat_str=QWEN_PATTERN, mergeable_ranks=ranks,
        special_tokens={content: FIRST_ADDED_ID + i for i, (content, _) in enumerate(ADDED_TOKENS)})

    cases = []
    for name, sample in corpus() + fuzz_corpus():
        ids = hf.encode(sample, add_special_tokens=False).ids
        expected = tk.encode(unicodedata.normalize("NFC", sample), allowed_special="all")
        if ids != expected:
            sys.exit(f"cross-check failed for {name!r}: tokenizers {ids[:40]} vs tiktoken {expected[:40]}")
        cases.append({
            "name": name,
            "text": sample,
            "ids": ids,
            "decoded": hf.decode(ids, skip_special_tokens=False),
            "decoded_skip_special": hf.decode(ids, skip_special_tokens=True),
        })
    for case in cases:
        if len(case["text"]) <= 200:
            case["pieces"] = [piece for piece, _ in hf.pre_tokenizer.pre_tokenize_str(
                hf.normalizer.normalize_str(case["text"]))]
    document_tokens = len(next(c for c in cases if c["name"] == "document")["ids"])
    if not 3000 <= document_tokens <= 3400:
        sys.exit(f"document.txt is {document_tokens} tokens; keep it near 3,200")

    # Decoding of arbitrary id lists: cut multi-byte characters, unknown ids, special tokens.
    chinese = hf.encode("今天天气很好🎉ok", add_special_tokens=False).ids
    emoji_bytes = [hf.token_to_id(t) for t in ("ðŁ", "İ", "ī")]
    decode_cases = [
        {"ids": chinese[1:], "skip_special": False},
        {"ids": chinese[:-2], "skip_special": False},
        {"ids": emoji_bytes, "skip_special": False},
        {"ids": emoji_bytes[:2], "skip_special": False},
        {"ids": emoji_bytes[1:] + [9707], "skip_special": False},
        {"ids": [emoji_bytes[0], 9707, emoji_bytes[2], emoji_bytes[0]], "skip_special": False},
        {"ids": [151644, 872, 198, 9707, 151645, 151657], "skip_special": True},
        {"ids": [151644, 872, 198, 9707, 151645, 151657], "skip_special": False},
        {"ids": [9707, 999999, 11], "skip_special": False},
        {"ids": [], "skip_special": False},
    ]
    for case in decode_cases:
        case["text"] = hf.decode(case["ids"], skip_special_tokens=case["skip_special"])

    golden = {
        "tokenizers_version": tokenizers.__version__,
        "tiktoken_version": tiktoken.__version__,
        "vocab_size_with_added": hf.get_vocab_size(with_added_tokens=True),
        "token_ids": {t: hf.token_to_id(t) for t in ["Hello", "Ġworld", "<|im_start|>", "<|file_sep|>", "ĊĊ", "!"]},
        "cases": cases,
        "decode_cases": decode_cases,
        "flag_tokens": flag_cases(spec),
    }
    with open(os.path.join(OUT_DIR, "qwen2-tokenizer.json.gz"), "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
            f.write(text.encode("utf-8"))
    with open(os.path.join(OUT_DIR, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")
    total = sum(len(c["ids"]) for c in cases)
    print(f"ok: {len(spec['model']['merges'])} merges, {len(cases)} cases, {total} golden ids, "
          f"document {document_tokens} tokens")


if __name__ == "__main__":
    main()
