"""Schemathesis hooks for scripts/client-compat.sh: the two request rules no JSON Schema can state.

1. An image must be a decodable image file. The OpenAPI document can only say "a string"; in the
   requests schemathesis generates as valid, every non-empty image string (`image`, and the `url` of
   an `image_url` part) is replaced by a real 2x2 PNG, so that a valid request is valid all the way.
   Requests generated as invalid are left alone.
2. vLLM /score pairs text_1[i] with text_2[i] when text_1 has several items: both lists must then have
   the same length. Valid-looking requests that break this cross-field rule are filtered out.

Loaded with SCHEMATHESIS_HOOKS=tools.schemathesis_hooks (PYTHONPATH at the repository root).
"""
import schemathesis
from schemathesis.generation.modes import GenerationMode

PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8//8/AwMDEwMDAwMDAwAkBgMB/DXemwAAAABJRU5ErkJggg=="


def with_real_images(value):
    """`value` with every non-empty image string replaced by PNG."""
    if isinstance(value, list):
        return [with_real_images(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key == "image" and isinstance(item, str) and item:
            out[key] = PNG
        elif key == "image_url" and isinstance(item, str) and item:
            out[key] = PNG
        elif key == "image_url" and isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"]:
            out[key] = dict(item, url=PNG)
        else:
            out[key] = with_real_images(item)
    return out


def is_positive(case):
    return case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE


def count(items):
    return len(items) if isinstance(items, list) else 1


@schemathesis.hook
def map_case(context, case):
    if is_positive(case) and isinstance(case.body, (dict, list)):
        case.body = with_real_images(case.body)
    return case


@schemathesis.hook
def filter_case(context, case):
    if not is_positive(case) or not isinstance(case.body, dict) or not case.path.endswith("score"):
        return True
    first = case.body.get("text_1", case.body.get("data_1"))
    second = case.body.get("text_2", case.body.get("data_2"))
    return count(first) == 1 or count(first) == count(second)
