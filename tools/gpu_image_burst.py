#!/usr/bin/env python3
"""Bursts of concurrent requests that share new images, against a running `lychee-rerank serve`.

Each round makes IMAGES new 768x512 images (JPEG with Pillow, else BMP), then CLIENTS threads send at once one
`/v1/rerank` request each: its own query, the round's images as documents. Prints, per round, the burst's wall
time, p50/max latency, errors, and from `/metrics` how many images the vision tower embedded
(`lychee_images_embedded`), how many it decoded on the host (`lychee_images_decoded`), the image cache's hits
during the round and, with `--pid`, the server's CPU seconds: a burst should decode and embed each new image once,
not once a request.

    python3 tools/gpu_image_burst.py --url http://127.0.0.1:7860 --clients 32 --rounds 3 --images 5
"""

import argparse
import base64
import io
import json
import os
import struct
import threading
import time
import urllib.request

import numpy as np


def image_bytes(seed, width=768, height=512):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([(x * (seed % 7 + 1)) % 256, (y * 3 + seed * 17) % 256, (x + y) % 256], axis=-1)
    pixels = (pixels + rng.integers(0, 40, size=pixels.shape)).clip(0, 255).astype(np.uint8)
    try:
        from PIL import Image

        out = io.BytesIO()
        Image.fromarray(pixels).save(out, format="JPEG", quality=90)
        return out.getvalue(), "image/jpeg"
    except ImportError:
        rows = pixels[::-1, :, ::-1].reshape(height, width * 3)
        padding = (4 - (width * 3) % 4) % 4
        data = b"".join(row.tobytes() + b"\0" * padding for row in rows)
        header = struct.pack("<2sIHHI", b"BM", 54 + len(data), 0, 0, 54)
        info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(data), 2835, 2835, 0, 0)
        return header + info + data, "image/bmp"


def metric(url, name):
    text = urllib.request.urlopen(url + "/metrics", timeout=30).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def cpu_seconds(pid):
    """User plus system CPU time of process `pid` (0 when not given or gone)."""
    if not pid:
        return 0.0
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:7860")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pid", type=int, help="the server's process id, to report its CPU seconds a round")
    parser.add_argument("--json-out")
    args = parser.parse_args()

    rows = []
    print("round  requests  burst s  p50 ms  max ms  errors  images embedded  images decoded  cache hits  server cpu s")
    for round_index in range(args.rounds):
        documents = []
        for index in range(args.images):
            data, mime = image_bytes(args.seed * 1000 + round_index * 100 + index)
            documents.append({"image": f"data:{mime};base64," + base64.b64encode(data).decode()})
        bodies = [
            json.dumps({"query": f"burst {round_index} client {client}", "documents": documents}).encode()
            for client in range(args.clients)
        ]
        embedded_before = metric(args.url, "lychee_images_embedded")
        hits_before = metric(args.url, "lychee_image_cache_hits")
        decoded_before = metric(args.url, "lychee_images_decoded")
        cpu_before = cpu_seconds(args.pid)
        latencies, errors = [], []
        lock = threading.Lock()
        barrier = threading.Barrier(args.clients)

        def send(body):
            request = urllib.request.Request(
                args.url + "/v1/rerank", data=body, headers={"Content-Type": "application/json"}
            )
            barrier.wait()
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=300) as response:
                    results = json.load(response)["results"]
                    ok = len(results) == args.images
            except Exception as error:  # an error is a figure here, not a crash
                ok = False
                with lock:
                    errors.append(str(error)[:200])
            with lock:
                latencies.append(time.perf_counter() - start)
                if not ok and not errors:
                    errors.append("wrong result count")

        threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        burst = time.perf_counter() - start
        embedded = metric(args.url, "lychee_images_embedded") - embedded_before
        hits = metric(args.url, "lychee_image_cache_hits") - hits_before
        decoded = metric(args.url, "lychee_images_decoded") - decoded_before
        cpu = cpu_seconds(args.pid) - cpu_before
        latencies.sort()
        row = {
            "round": round_index + 1,
            "requests": args.clients,
            "burstSeconds": burst,
            "p50Milliseconds": 1000 * latencies[len(latencies) // 2],
            "maxMilliseconds": 1000 * latencies[-1],
            "errors": len(errors),
            "imagesEmbedded": embedded,
            "imagesDecoded": decoded,
            "cacheHits": hits,
            "serverCPUSeconds": cpu,
        }
        rows.append(row)
        print(
            f"{row['round']:5d}  {row['requests']:8d}  {burst:7.3f}  {row['p50Milliseconds']:6.0f}  "
            f"{row['maxMilliseconds']:6.0f}  {row['errors']:6d}  {embedded:15.0f}  {decoded:14.0f}  {hits:10.0f}  "
            f"{cpu:12.2f}"
        )
        for error in errors[:3]:
            print("  error:", error)
    if args.json_out:
        with open(args.json_out, "w") as out:
            json.dump(rows, out, indent=1)


if __name__ == "__main__":
    main()
