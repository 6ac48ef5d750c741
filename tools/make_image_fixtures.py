#!/usr/bin/env python3
"""Makes the image fixtures and their golden values under Fixtures/images/.

Reference: Pillow (decoding, `convert("RGB")`, BICUBIC resize), the `fetch_image` resize of
qwen-vl-utils (its functions are loaded from the installed package source, since importing the package
needs torch), then transformers' slow `Qwen2VLImageProcessor` with Lychee's min/max pixels.

Requires: pillow, numpy, transformers, qwen-vl-utils (no torch needed). Run from the package root:
    python3 tools/make_image_fixtures.py
"""
import ast
import base64
import copy
import importlib.util
import io
import json
import math
import os
import struct
import zlib
from io import BytesIO
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
from PIL import Image
from transformers import Qwen2VLImageProcessor

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Fixtures", "images")
MIN_PIXELS, MAX_PIXELS = 3136, 1_003_520


def load_qwen_vl_utils():
    """The resize helpers of qwen_vl_utils.vision_process, without importing torch."""
    spec = importlib.util.find_spec("qwen_vl_utils")
    path = os.path.join(os.path.dirname(spec.origin), "vision_process.py")
    tree = ast.parse(open(path).read())
    functions = {"round_by_factor", "ceil_by_factor", "floor_by_factor", "smart_resize", "to_rgb", "fetch_image"}
    constants = {"MAX_RATIO", "SPATIAL_MERGE_SIZE", "IMAGE_MIN_TOKEN_NUM", "IMAGE_MAX_TOKEN_NUM"}
    body = [
        node for node in tree.body
        if (isinstance(node, ast.FunctionDef) and node.name in functions)
        or (isinstance(node, ast.Assign) and any(getattr(t, "id", None) in constants for t in node.targets))
    ]
    namespace = dict(math=math, base64=base64, copy=copy, BytesIO=BytesIO, Image=Image, Optional=Optional,
                     Union=Union, Tuple=Tuple, Dict=Dict, List=List, Any=Any, requests=None)
    exec(compile(ast.Module(body=body, type_ignores=[]), path, "exec"), namespace)
    return namespace


QWEN = load_qwen_vl_utils()
PROCESSOR = Qwen2VLImageProcessor(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)


# MARK: source pictures (deterministic, smooth enough to compress, detailed enough to test resampling)

def picture(width, height, seed=0):
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rng = np.random.RandomState(seed)
    r = 127 + 120 * np.sin(x / (7 + seed) + y / 13)
    g = 127 + 120 * np.cos(np.hypot(x - width / 3, y - height / 2) / 9)
    b = (x * 255 / max(1, width - 1) + y * 97 / max(1, height - 1)) % 256
    image = np.stack([r, g, b], axis=-1) + rng.normal(0, 3, (height, width, 3))
    image[height // 4: height // 2, width // 5: width // 2] = [250, 20, 40]  # sharp edges
    return np.clip(image, 0, 255).astype(np.uint8)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def raw_png(width, height, color_type, depth, rows, interlace=0):
    """A PNG from raw rows (filter byte 0 added here), for layouts Pillow cannot write.
    With interlace=1, `rows` is an array (height, width, channels) split into the 7 Adam7 passes."""
    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        raw = b""
        for x0, y0, dx, dy in passes:
            sub = rows[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += b"".join(b"\x00" + row.tobytes() for row in sub)
    else:
        raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(raw, 9))
            + png_chunk(b"IEND", b""))


def save(image, name, **options):
    buffer = io.BytesIO()
    image.save(buffer, **options)
    write(name, buffer.getvalue())


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as handle:
        handle.write(data)


def make_sources():
    rgb = Image.fromarray(picture(160, 120))
    save(rgb, "baseline.jpg", format="JPEG", quality=90)
    save(rgb, "progressive.jpg", format="JPEG", quality=85, progressive=True)
    save(rgb, "subsampling444.jpg", format="JPEG", quality=95, subsampling=0)
    save(rgb, "subsampling422.jpg", format="JPEG", quality=95, subsampling=1)
    save(rgb.convert("L"), "gray.jpg", format="JPEG", quality=90)
    save(rgb.convert("CMYK"), "cmyk.jpg", format="JPEG", quality=90)
    save(Image.fromarray(picture(1000, 1100, seed=3)), "large.jpg", format="JPEG", quality=70)

    save(rgb, "rgb.png", format="PNG")
    rgba = rgb.copy()
    alpha = Image.fromarray((np.indices((120, 160)).sum(axis=0) * 2 % 256).astype(np.uint8))
    rgba.putalpha(alpha)
    save(rgba, "rgba.png", format="PNG")
    save(rgb.convert("L"), "gray.png", format="PNG")
    la = rgb.convert("L")
    la.putalpha(alpha)
    save(la, "gray_alpha.png", format="PNG")
    save(rgb.convert("1"), "gray1bit.png", format="PNG")
    save(rgb.quantize(64), "palette.png", format="PNG")
    palette_trns = rgb.quantize(16)
    save(palette_trns, "palette_trns.png", format="PNG", transparency=3)
    pixels = picture(160, 120, seed=1)
    write("interlaced.png", raw_png(160, 120, 2, 8, pixels, interlace=1))
    wide = (picture(64, 48, seed=2).astype(np.uint16) * 257 + np.arange(64)[None, :, None] * 3).astype(">u2")
    write("rgb16.png", raw_png(64, 48, 2, 16, [r.tobytes() for r in wide]))
    gray16 = (np.arange(64 * 48).reshape(48, 64) * 23 % 700).astype(">u2")  # many values above 255
    write("gray16.png", raw_png(64, 48, 0, 16, [r.tobytes() for r in gray16]))
    gray_alpha16 = np.stack([gray16 * 90, np.full_like(gray16, 40000)], axis=-1).astype(">u2")
    write("gray_alpha16.png", raw_png(64, 48, 4, 16, [r.tobytes() for r in gray_alpha16]))
    rgba16 = np.concatenate([wide, (wide[..., :1] // 2)], axis=-1).astype(">u2")
    write("rgba16.png", raw_png(64, 48, 6, 16, [r.tobytes() for r in rgba16]))

    save(rgb, "lossy.webp", format="WEBP", quality=80)
    save(rgb, "lossless.webp", format="WEBP", lossless=True)
    save(rgba, "alpha.webp", format="WEBP", quality=80)

    save(rgb.quantize(32), "first_frame.gif", format="GIF")
    frames = [rgb.quantize(32), Image.fromarray(picture(160, 120, seed=5)).quantize(32)]
    frames[0].save(os.path.join(OUT, "animated.gif"), save_all=True, append_images=frames[1:], duration=100)

    save(rgb, "rgb24.bmp", format="BMP")
    save(rgb.quantize(200), "palette8.bmp", format="BMP")
    save(rgba, "rgba32.bmp", format="BMP")  # Pillow writes BITFIELDS with an alpha mask
    save(rgb.convert("1"), "mono1.bmp", format="BMP")

    save(Image.fromarray(picture(3, 5, seed=4)), "tiny_3x5.png", format="PNG")
    save(Image.fromarray(picture(30, 2000, seed=6)), "tall_30x2000.png", format="PNG")
    save(Image.fromarray(picture(2000, 10, seed=7)), "wide_2000x10.png", format="PNG")  # ratio exactly 200
    save(Image.new("1", (6000, 4000), 1), "huge_6000x4000.png", format="PNG")  # one colour, tiny on disk


def make_bad_inputs():
    """Files every decoder must refuse with a clear error; the expected error kind is in golden.json."""
    good_jpeg = open(os.path.join(OUT, "baseline.jpg"), "rb").read()
    good_png = open(os.path.join(OUT, "rgb.png"), "rb").read()
    good_webp = open(os.path.join(OUT, "lossy.webp"), "rb").read()
    good_gif = open(os.path.join(OUT, "first_frame.gif"), "rb").read()
    good_bmp = open(os.path.join(OUT, "rgb24.bmp"), "rb").read()
    write("bad_truncated.jpg", good_jpeg[: len(good_jpeg) // 2])
    write("bad_truncated.png", good_png[: len(good_png) // 2])
    write("bad_truncated.webp", good_webp[: len(good_webp) // 2])
    write("bad_truncated.gif", good_gif[: len(good_gif) // 2])
    write("bad_truncated.bmp", good_bmp[: len(good_bmp) // 2])
    corrupt = bytearray(good_png)
    idat = corrupt.index(b"IDAT")
    corrupt[idat + 20: idat + 60] = b"\xAB" * 40
    write("bad_corrupt.png", bytes(corrupt))
    corrupt_jpeg = bytearray(good_jpeg)
    sof = corrupt_jpeg.index(b"\xFF\xC0")
    corrupt_jpeg[sof + 9] = 7  # 7 components: not a JPEG layout libjpeg accepts
    write("bad_corrupt.jpg", bytes(corrupt_jpeg))
    write("bad_unknown.txt", b"this is not an image, just text\n")
    write("bad_empty.png", b"")
    bomb = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    write("bad_bomb.png", b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", bomb) + png_chunk(b"IEND", b""))
    giant = struct.pack(">IIBBBBB", 200000, 1, 8, 2, 0, 0, 0)
    write("bad_giant_side.png", b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", giant) + png_chunk(b"IEND", b""))
    zero = bytearray(good_bmp)
    zero[18:22] = struct.pack("<i", 0)
    write("bad_zero_width.bmp", bytes(zero))
    write("bad_rle.bmp", good_bmp[:30] + struct.pack("<I", 1) + good_bmp[34:])
    save(Image.fromarray(picture(10, 2100, seed=8)), "bad_ratio_10x2100.png", format="PNG")


BAD = {
    "bad_truncated.jpg": "truncated", "bad_truncated.png": "truncated", "bad_truncated.webp": "truncated",
    "bad_truncated.gif": "truncated", "bad_truncated.bmp": "truncated", "bad_corrupt.png": "corrupt",
    "bad_corrupt.jpg": "corrupt", "bad_unknown.txt": "unknownFormat", "bad_empty.png": "emptyData",
    "bad_bomb.png": "tooManyPixels", "bad_giant_side.png": "dimensionTooLarge", "bad_zero_width.bmp": "zeroSize",
    "bad_rle.bmp": "unsupported", "bad_ratio_10x2100.png": "aspectRatioTooLarge",
}

# Files whose pixel values are stored in full (float32 little-endian); others get checksums and samples.
FULL_PIXEL_VALUES = {"tiny_3x5.png", "gray16.png", "rgba16.png", "rgb16.png"}
# Files whose resized image is stored as a PNG (all others are checked through a SHA-256 of the bytes).
RESIZED_PNG = {"tiny_3x5.png", "tall_30x2000.png", "wide_2000x10.png", "baseline.jpg", "rgb.png", "rgba.png",
               "gray16.png", "lossy.webp"}


def reference(image):
    """qwen_vl_utils.fetch_image resize, then the processor; returns resized uint8 and processor output."""
    fetched = QWEN["fetch_image"]({"image": image, "min_pixels": MIN_PIXELS, "max_pixels": MAX_PIXELS})
    height, width = fetched.height, fetched.width
    second = PROCESSOR.resample
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize as processor_resize
    h2, w2 = processor_resize(height, width, factor=28, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    final = fetched if (h2, w2) == (height, width) else fetched.resize((w2, h2), second)
    output = PROCESSOR(images=[fetched], return_tensors="np")
    return np.asarray(final.convert("RGB")), output["pixel_values"].astype(np.float32), output["image_grid_thw"][0]


def fnv1a64(data):
    """64-bit FNV-1a of the bytes, as hex (the tests compute the same; no crypto library needed)."""
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def smart_resize_table():
    """Reference sizes of qwen_vl_utils.smart_resize for many (height, width), errors as null."""
    rng = np.random.RandomState(7)
    sizes = [(120, 160), (5, 3), (1, 1), (28, 28), (42, 42), (70, 14), (2000, 10), (10, 2000), (10, 2100),
             (9000, 12000), (4000, 3000), (1080, 1920), (1003, 1001), (14, 2800), (3, 600), (3, 601)]
    sizes += [(int(h), int(w)) for h, w in rng.randint(1, 5000, (60, 2))]
    table = []
    for height, width in sizes:
        try:
            expected = list(QWEN["smart_resize"](height, width, 28, MIN_PIXELS, MAX_PIXELS))
        except ValueError:
            expected = None
        table.append({"height": height, "width": width, "expected": expected})
    return table


def golden_case(name):
    opened = Image.open(os.path.join(OUT, name))
    case = {"file": name, "format": opened.format, "pil_mode": opened.mode, "width": opened.width,
            "height": opened.height}
    decoded = opened.convert("RGB")
    decoded_bytes = np.asarray(decoded).tobytes()
    case["decoded_fnv1a64"] = fnv1a64(decoded_bytes)
    if len(decoded_bytes) <= 64 * 48 * 3 * 2 or name.endswith(".jpg") and opened.width <= 160:
        write(f"golden/{name}.decoded.rgb", decoded_bytes)
        case["decoded_rgb"] = f"golden/{name}.decoded.rgb"
    case.update(golden_pipeline(decoded, name, ""))
    if opened.mode == "RGBA":  # qwen_vl_utils' own to_rgb: composited over white
        composited = QWEN["to_rgb"](opened)
        case["composited_fnv1a64"] = fnv1a64(np.asarray(composited).tobytes())
        case["composited"] = golden_pipeline(composited, name, ".composited")
    return case


def golden_pipeline(image, name, suffix):
    resized, values, grid = reference(image)
    result = {"grid_thw": [int(v) for v in grid], "tokens": int(np.prod(grid)) // 4,
              "resized_width": int(resized.shape[1]), "resized_height": int(resized.shape[0]),
              "resized_fnv1a64": fnv1a64(resized.tobytes())}
    if name in RESIZED_PNG:
        Image.fromarray(resized).save(os.path.join(OUT, f"golden/{name}{suffix}.resized.png"))
        result["resized_png"] = f"golden/{name}{suffix}.resized.png"
    flat = values.reshape(-1).astype(np.float64)
    rng = np.random.RandomState(len(name))
    picks = sorted(set(rng.randint(0, flat.size, 64).tolist()) | {0, flat.size - 1})
    result["pixel_values"] = {"rows": int(values.shape[0]), "columns": int(values.shape[1]),
                              "sum": float(flat.sum()), "abs_sum": float(np.abs(flat).sum()),
                              "samples": [[int(i), float(values.reshape(-1)[i])] for i in picks]}
    if name in FULL_PIXEL_VALUES and not suffix:
        write(f"golden/{name}.pixel_values.f32", values.astype("<f4").tobytes())
        result["pixel_values"]["f32"] = f"golden/{name}.pixel_values.f32"
    return result


def main():
    os.makedirs(os.path.join(OUT, "golden"), exist_ok=True)
    for entry in os.listdir(os.path.join(OUT, "golden")):
        os.remove(os.path.join(OUT, "golden", entry))
    make_sources()
    make_bad_inputs()
    names = sorted(n for n in os.listdir(OUT) if os.path.isfile(os.path.join(OUT, n)) and not n.startswith("bad_")
                   and n != "golden.json")
    cases = [golden_case(name) for name in names]
    golden = {"min_pixels": MIN_PIXELS, "max_pixels": MAX_PIXELS, "cases": cases,
              "smart_resize": smart_resize_table(),
              "bad": [{"file": k, "error": v} for k, v in sorted(BAD.items())]}
    with open(os.path.join(OUT, "golden.json"), "w") as handle:
        json.dump(golden, handle, indent=1)
        handle.write("\n")
    print(f"{len(cases)} cases, {len(BAD)} bad inputs")


if __name__ == "__main__":
    main()
