"""A minimal headless Chromium driver over the DevTools protocol, for the demo checkout test.

Starts Debian's `chromium` with --remote-debugging-port=0 in a scratch profile, reads the port
from DevToolsActivePort, and speaks CDP to the page target over a websocket (python3-websocket).
Only what the test needs: navigate, evaluate, click at an element's centre with real mouse
events, type into an input, screenshots, and the page's uncaught exceptions and console errors.
"""

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import websocket  # python3-websocket

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium():
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    def __init__(self, width=900, height=1100, timeout=30):
        self.exe = find_chromium()
        if not self.exe:
            raise RuntimeError("chromium not installed (Debian package chromium, deploy/install-deps.sh)")
        self.profile = tempfile.mkdtemp(prefix="orderpay-chromium.")
        args = [self.exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--mute-audio",
                "--remote-debugging-port=0", "--remote-allow-origins=*",
                "--user-data-dir=" + self.profile, "--window-size=%d,%d" % (width, height), "about:blank"]
        self.log = open(os.path.join(self.profile, "chromium.log"), "wb")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.ids = itertools.count(1)
        self.events = []
        self.ws = None
        try:
            port = self._wait_port(timeout)
            targets = json.load(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10))
            page = next(t for t in targets if t["type"] == "page")
            self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=timeout,
                                                  suppress_origin=True)
            self.send("Page.enable")
            self.send("Runtime.enable")
            self.send("Network.enable")
            self.send("Emulation.setDeviceMetricsOverride",
                      width=width, height=height, deviceScaleFactor=1, mobile=False)
        except Exception:
            self.close()
            raise

    def _wait_port(self, timeout):
        path = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("chromium exited with %s: %s" % (self.proc.returncode, self.output()))
            if os.path.exists(path):
                with open(path, encoding="ascii") as f:
                    first = f.readline().strip()
                if first.isdigit():
                    return int(first)
            time.sleep(0.1)
        raise RuntimeError("chromium did not open its DevTools port in %ds: %s" % (timeout, self.output()))

    def output(self):
        self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def send(self, method, **params):
        """One CDP command; returns its result (events seen meanwhile are kept in self.events)."""
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def evaluate(self, expression):
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError("evaluate %r: %s" % (expression, res["exceptionDetails"]))
        return res["result"].get("value")

    def navigate(self, url, timeout=20):
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && location.href === %s" % json.dumps(url), timeout)

    def wait_for(self, expression, timeout=20, step=0.1):
        """Polls a JS expression until it is truthy; returns its value, or raises TimeoutError."""
        deadline = time.time() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.time() > deadline:
                raise TimeoutError("waited %ss for %s" % (timeout, expression))
            time.sleep(step)

    def click(self, selector):
        """A real left click (mouse moved, pressed, released) at the centre of the element."""
        box = self.evaluate(
            "(() => { const el = document.querySelector(%s); if (!el) return null; el.scrollIntoView({block: 'center'});"
            " const r = el.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2, r.width]; })()"
            % json.dumps(selector))
        if not box or box[2] == 0:
            raise RuntimeError("%s is not on the page or not visible" % selector)
        x, y = box[0], box[1]
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        self.send("Input.dispatchMouseEvent", type="mousePressed", x=x, y=y, button="left", clickCount=1)
        self.send("Input.dispatchMouseEvent", type="mouseReleased", x=x, y=y, button="left", clickCount=1)

    def type_into(self, selector, text):
        """Focuses an input, selects what it holds, and types `text` as key events."""
        self.evaluate("(() => { const el = document.querySelector(%s); el.focus(); el.select(); })()" % json.dumps(selector))
        self.send("Input.insertText", text=text)

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def page_errors(self):
        """Uncaught exceptions and console.error calls seen so far."""
        out = []
        for e in self.events:
            if e["method"] == "Runtime.exceptionThrown":
                out.append(e["params"]["exceptionDetails"].get("exception", {}).get("description")
                           or e["params"]["exceptionDetails"].get("text"))
            elif e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error":
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in e["params"]["args"]))
        return out

    def replies(self, url_prefix):
        """(method, url, status, headers, body bytes) of every finished response whose URL starts
        with url_prefix, from the Network events seen so far (bodies fetched from the browser)."""
        methods, responses, out = {}, {}, []
        for e in list(self.events):
            p = e.get("params", {})
            if e["method"] == "Network.requestWillBeSent":
                methods[p["requestId"]] = p["request"]["method"]
            elif e["method"] == "Network.responseReceived":
                responses[p["requestId"]] = p["response"]
            elif e["method"] == "Network.loadingFinished" and p["requestId"] in responses:
                r = responses[p["requestId"]]
                if not r["url"].startswith(url_prefix):
                    continue
                try:
                    b = self.send("Network.getResponseBody", requestId=p["requestId"])
                    body = base64.b64decode(b["body"]) if b.get("base64Encoded") else b["body"].encode()
                except RuntimeError:
                    body = b""  # no body (a 304, a HEAD)
                out.append((methods.get(p["requestId"], "GET"), r["url"], r["status"], r["headers"], body))
        return out

    def close(self):
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001 (closing anyway)
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        # Chromium's own helpers (zygote, renderer) share the session we started it in.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)
