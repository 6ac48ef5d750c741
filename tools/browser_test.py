#!/usr/bin/env python3
"""Headless-browser test of the lychee-rerank web page (stdlib only: no pip packages).

Drives Debian's Chromium over the DevTools protocol (its --remote-debugging-port WebSocket):
loads the page served at BASE_URL, types a query, pastes documents as lines, attaches an image to
one document through its file input, presses Rerank with a real mouse click, waits for the ranking,
and checks that the ranked results carry the same scores, in the same order, as the API returns for
the same request. Saves desktop and phone screenshots (PNG) to OUT_DIR.

Usage: tools/browser_test.py BASE_URL IMAGE_PATH OUT_DIR   (scripts/browser-test.sh starts the server)
"""
import base64, json, os, shutil, socket, struct, subprocess, sys, tempfile, time, urllib.parse, urllib.request


class WebSocket:
    """A minimal RFC 6455 client: text frames out (masked), frames in (fragments joined, pings answered)."""

    def __init__(self, url, timeout=60):
        parts = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise RuntimeError("DevTools closed the connection during the WebSocket handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("DevTools refused the WebSocket handshake: " + head.decode(errors="replace"))

    def _exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise RuntimeError("DevTools closed the WebSocket")
            data += chunk
        return data

    def _send_frame(self, opcode, payload):
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, text):
        self._send_frame(0x1, text.encode())

    def recv(self):
        message = b""
        while True:
            first, second = self._exact(2)
            opcode, n = first & 0x0F, second & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            mask = self._exact(4) if second & 0x80 else None
            payload = self._exact(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0x8:
                raise RuntimeError("DevTools closed the WebSocket")
            message += payload
            if first & 0x80:
                return message.decode()


class DevTools:
    def __init__(self, ws_url):
        self.ws = WebSocket(ws_url)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method} failed: {message['error']}")
                return message.get("result", {})

    def js(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, what, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.js(expression):
                return
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what}")

    def click(self, selector):
        box = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView({{block: 'center'}});"
                      " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def type_into(self, selector, text):
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", text=text)

    def screenshot(self, path, width, height, mobile):
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)
        time.sleep(0.3)
        full_height = self.js("Math.ceil(document.documentElement.scrollHeight)")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=max(height, full_height),
                  deviceScaleFactor=1, mobile=mobile)
        time.sleep(0.3)
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("browser test: Chromium not found; run scripts/install-deps.sh (Debian package chromium)")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    base, image_path, out_dir = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    os.makedirs(out_dir, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="lychee-chromium-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    browser = subprocess.Popen(
        [find_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--no-default-browser-check", f"--remote-debugging-port={port}",
         f"--user-data-dir={profile}", "--window-size=1280,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        targets = None
        while time.time() < deadline:
            try:
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2))
                if any(t.get("type") == "page" for t in targets):
                    break
            except OSError:
                pass
            time.sleep(0.2)
        page = next((t for t in targets or [] if t.get("type") == "page"), None)
        if not page:
            raise RuntimeError("Chromium's DevTools endpoint did not come up")
        tools = DevTools(page["webSocketDebuggerUrl"])
        tools.call("Page.enable")
        tools.call("Runtime.enable")
        tools.call("DOM.enable")
        tools.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        tools.call("Page.navigate", url=base + "/")
        tools.wait_for("document.readyState === 'complete' && !!document.querySelector('#model-status.ready')",
                       "the page to load and the model to be ready")

        # Query, documents as pasted lines, and an image on the second document.
        tools.type_into("#query-text", "a red bicycle")
        tools.click("#presets button:nth-child(2)")
        tools.click("#paste-many-toggle")
        tools.type_into("#paste-many-text", "A red bicycle leaning on a wall\nA bowl of soup\nA photo of a street")
        tools.click("#paste-many-add")
        tools.wait_for("document.querySelectorAll('#documents .doc').length === 3", "three documents")
        root = tools.call("DOM.getDocument")["root"]["nodeId"]
        node = tools.call("DOM.querySelector", nodeId=root, selector="#documents .doc:nth-child(3) .doc-image-input")["nodeId"]
        tools.call("DOM.setFileInputFiles", nodeId=node, files=[os.path.abspath(image_path)])
        tools.wait_for("!!document.querySelector('#documents .doc:nth-child(3) .thumb[src^=\"data:image\"]')",
                       "the document image thumbnail")
        tools.click("#rerank")
        tools.wait_for("document.querySelectorAll('#results .result').length === 3", "three ranked results")
        shown = tools.js("[...document.querySelectorAll('#results .result')].map(r => [Number(r.dataset.index), Number(r.dataset.score)])")
        instruction = tools.js("document.querySelector('#instruction').value")
        summary = tools.js("document.querySelector('#summary').textContent")
        thumbs = tools.js("document.querySelectorAll('#results .result img').length")

        # The same request through the API.
        with open(image_path, "rb") as f:
            image = "data:image/jpeg;base64," + base64.b64encode(f.read()).decode()
        request = {"query": {"text": "a red bicycle"}, "instruction": instruction, "documents": [
            {"text": "A red bicycle leaning on a wall"}, {"text": "A bowl of soup"},
            {"text": "A photo of a street", "image": image}]}
        answer = json.load(urllib.request.urlopen(urllib.request.Request(
            base + "/v1/rerank", data=json.dumps(request).encode(), headers={"Content-Type": "application/json"}),
            timeout=60))
        expected = [[r["index"], r["relevance_score"]] for r in answer["results"]]
        print("page:", shown)
        print("api: ", expected)
        print("summary:", summary)
        problems = []
        if [i for i, _ in shown] != [i for i, _ in expected]:
            problems.append("the page ranks the documents differently from the API")
        if any(abs(a[1] - b[1]) > 1e-6 for a, b in zip(shown, expected)):
            problems.append("the page shows scores that differ from the API's")
        if thumbs != 1:
            problems.append(f"expected one result thumbnail, found {thumbs}")
        if "tokens" not in summary or " s" not in summary:
            problems.append("the summary lacks the time taken or the tokens")

        tools.screenshot(os.path.join(out_dir, "desktop.png"), 1280, 900, False)
        tools.screenshot(os.path.join(out_dir, "phone.png"), 390, 844, True)
        print("screenshots:", os.path.join(out_dir, "desktop.png"), os.path.join(out_dir, "phone.png"))
        if problems:
            sys.exit("browser test FAILED: " + "; ".join(problems))
        print("browser test passed")
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
