import base64, io, json, sys, urllib.request
import numpy as np
from PIL import Image
y, x = np.mgrid[0:512, 0:768]
px = np.stack([(x * 5) % 256, (y * 3) % 256, (x + y) % 256], axis=-1).astype(np.uint8)
buf = io.BytesIO(); Image.fromarray(px).save(buf, format="JPEG", quality=90)
image = base64.b64encode(buf.getvalue()).decode()
body = {"query": {"text": "find this", "image": image},
        "documents": [f"document {i} about a striped pattern of colours" for i in range(10)]}
req = urllib.request.Request(sys.argv[1] + "/v1/rerank", data=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"})
res = json.load(urllib.request.urlopen(req, timeout=60))
json.dump(sorted((r["index"], r["relevance_score"]) for r in res["results"]), open(sys.argv[2], "w"))
