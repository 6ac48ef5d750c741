#!/usr/bin/env python3
"""Makes the fuzzers' seed corpora under Fuzz/Corpus/ from the test fixtures (standard library only).

Seeds are kept small (every file under 40 KiB, the whole corpus well under 2 MB) so that mutations stay fast:
- SafeTensorsHeader: the small fixture files whole, plus small valid files that keep the real names, dtypes and
  bytes of the smallest tensors of each fixture checkpoint (re-packed), and each fixture's header alone.
- TokenizerJSON: the tiny checkpoint's tokenizer.json, and a cut-down copy (first vocabulary entries and the
  merges they allow) that loads and is fast to parse.
- Image<Format>: the fixture images of that format under 40 KiB; the BMPs over 16 KiB as 16x12 crops
  (or their first 4 KiB where a crop makes no sense).
- RequestJSON: v1/v2 bodies in every shape the API takes, images from the fixtures as base64 and data URLs.
Run from the package root: python3 tools/make_fuzz_seeds.py
"""
import base64
import glob
import json
import os
import shutil
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURES = os.path.join(ROOT, "Fixtures")
CORPUS = os.path.join(ROOT, "Fuzz", "Corpus")
MAX_SEED = 40 * 1024


def fresh(target):
    folder = os.path.join(CORPUS, target)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    return folder


def write(folder, name, data):
    assert len(data) <= MAX_SEED, f"{name}: {len(data)} bytes"
    with open(os.path.join(folder, name), "wb") as file:
        file.write(data)


def read(path):
    with open(path, "rb") as file:
        return file.read()


# MARK: safetensors

def safetensors_header(data):
    length = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + length]), data[8 + length:]


def pack_safetensors(entries, metadata=None):
    """entries: [(name, dtype, shape, bytes)] -> a valid file, tensors back to back."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, blob in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def safetensors_seeds():
    folder = fresh("SafeTensorsHeader")
    for path in sorted(glob.glob(os.path.join(FIXTURES, "**", "*.safetensors"), recursive=True)):
        data = read(path)
        label = os.path.relpath(path, FIXTURES).replace(os.sep, "_").removesuffix(".safetensors")
        if len(data) <= 4096:
            write(folder, label + ".safetensors", data)
            continue
        header, body = safetensors_header(data)
        metadata = header.pop("__metadata__", None)
        small = sorted(header.items(), key=lambda item: item[1]["data_offsets"][1] - item[1]["data_offsets"][0])
        entries = []
        for name, entry in small[:12]:
            begin, end = entry["data_offsets"]
            entries.append((name, entry["dtype"], entry["shape"], body[begin:end]))
        write(folder, label + "-small.safetensors", pack_safetensors(entries, metadata))
        length = struct.unpack("<Q", data[:8])[0]
        write(folder, label + "-header-only.safetensors", data[:8 + length])


# MARK: tokenizer.json

def tokenizer_seeds():
    folder = fresh("TokenizerJSON")
    source = os.path.join(FIXTURES, "checkpoints", "tiny-tied-newer", "tokenizer.json")
    data = read(source)
    write(folder, "tiny-checkpoint-tokenizer.json", data)
    tokenizer = json.loads(data)
    vocab = tokenizer["model"]["vocab"]
    kept = {token: rank for token, rank in vocab.items() if rank < 300}
    merges = []
    for merge in tokenizer["model"]["merges"]:
        left, right = merge if isinstance(merge, list) else merge.split(" ")
        if left in kept and right in kept and left + right in kept:
            merges.append(merge)
    small = dict(tokenizer)
    small["model"] = dict(tokenizer["model"], vocab=kept, merges=merges)
    small["added_tokens"] = [dict(token, id=300 + index) for index, token in enumerate(tokenizer["added_tokens"])]
    write(folder, "cut-down-tokenizer.json", json.dumps(small, ensure_ascii=False).encode())
    legacy = dict(small, model=dict(small["model"], merges=[" ".join(m) if isinstance(m, list) else m for m in merges]))
    legacy["normalizer"] = None
    write(folder, "cut-down-string-merges.json", json.dumps(legacy, ensure_ascii=False).encode())


# MARK: images

IMAGE_SUFFIXES = {"ImageJPEG": ".jpg", "ImagePNG": ".png", "ImageWebP": ".webp", "ImageGIF": ".gif", "ImageBMP": ".bmp"}


def crop_bmp(data, width, height):
    """A top-left crop of an uncompressed 24/32-bit bottom-up BMP with a 40+ byte DIB header."""
    offset, dib = struct.unpack("<I", data[10:14])[0], struct.unpack("<I", data[14:18])[0]
    old_width, old_height = struct.unpack("<ii", data[18:26])
    bits = struct.unpack("<H", data[28:30])[0]
    old_stride, stride = (bits * old_width + 31) // 32 * 4, (bits * width + 31) // 32 * 4
    rows = []
    for row in range(height):  # the top rows of a bottom-up file are its last rows
        start = offset + (abs(old_height) - height + row) * old_stride
        rows.append(data[start:start + stride])
    head = bytearray(data[:offset])
    struct.pack_into("<ii", head, 18, width, height)
    struct.pack_into("<I", head, 34, stride * height)
    struct.pack_into("<I", head, 2, offset + stride * height)
    return bytes(head) + b"".join(rows)


def image_seeds():
    images = os.path.join(FIXTURES, "images")
    for target, suffix in IMAGE_SUFFIXES.items():
        folder = fresh(target)
        for path in sorted(glob.glob(os.path.join(images, "*" + suffix))):
            data = read(path)
            if suffix == ".bmp" and len(data) > 16 * 1024:
                compression, width = struct.unpack("<I", data[30:34])[0], struct.unpack("<i", data[18:22])[0]
                if compression == 0 and width > 16:
                    write(folder, "crop16x12-" + os.path.basename(path), crop_bmp(data, 16, 12))
                else:
                    write(folder, "head-" + os.path.basename(path), data[:4096])
            elif len(data) <= MAX_SEED:
                write(folder, os.path.basename(path), data)
    for path in glob.glob(os.path.join(FIXTURES, "checkpoints", "images", "*")):
        data = read(path)
        target = "ImageJPEG" if path.endswith(".jpg") else "ImagePNG"
        if len(data) <= MAX_SEED:
            write(os.path.join(CORPUS, target), "checkpoint-" + os.path.basename(path), data)


# MARK: request bodies

def request_seeds():
    folder = fresh("RequestJSON")
    png = base64.b64encode(read(os.path.join(FIXTURES, "images", "tiny_3x5.png"))).decode()
    gif = base64.b64encode(read(os.path.join(FIXTURES, "images", "bad_truncated.gif"))[:200]).decode()
    bodies = {
        "v1-text.json": {"query": "a red bicycle", "documents": ["a bicycle", "a car"]},
        "v1-all-fields.json": {
            "model": "lychee", "query": {"text": "cats"}, "documents": ["a cat", {"text": "a dog"}],
            "instruction": "Find pets", "top_n": 1, "return_documents": True, "max_tokens_per_doc": 80},
        "v1-image-data-url.json": {
            "query": {"image": "data:image/png;base64," + png},
            "documents": [{"text": "tiny", "image": "data:image/png;base64," + png}, "text only"]},
        "v2-bare-base64.json": {
            "model": "m", "query": "what is this", "documents": [{"image": png}, {"image": gif}], "top_n": 2},
        "v2-image-url.json": {"query": {"image": "https://example.com/a.png"}, "documents": ["x"]},
        "v1-empty-items.json": {"query": "", "documents": [{}, {"text": ""}, {"image": ""}]},
        "v1-bad-data-url.json": {"query": {"image": "data:image/png,notbase64"}, "documents": ["d"]},
        "v1-wrong-types.json": {"query": 5, "documents": "one", "top_n": 1.5},
    }
    for name, body in bodies.items():
        write(folder, name, json.dumps(body).encode())
    write(folder, "unicode-escapes.json", b'{"query":"caf\\u00e9 \\ud83d\\ude00","documents":["\\u0000"]}')
    write(folder, "not-utf8.json", b'{"query":"\xff\xfe","documents":["d"]}')


if __name__ == "__main__":
    safetensors_seeds()
    tokenizer_seeds()
    image_seeds()
    request_seeds()
    total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(CORPUS, "*", "*")))
    print(f"seeds: {len(glob.glob(os.path.join(CORPUS, '*', '*')))} files, {total} bytes")
