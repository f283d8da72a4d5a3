#!/usr/bin/env python3
"""Open an HTML file in headless Chromium over the DevTools protocol (through a pipe: no port,
no network, python3's standard library only) and check it as a browser sees it.

    cdp-check.py CHROMIUM PAGE.html OUTDIR [WIDTHxHEIGHT ...]

For each size: a screenshot of the viewport (OUTDIR/NAME-WxH.png) and of the whole page
(OUTDIR/NAME-WxH-full.png); then the page printed on A4 (OUTDIR/NAME-a4.pdf). Fails (exit 1)
when the page asks for anything but itself (any request that is not the file or a data: URL),
logs a console error or warning, or throws. Prints one line per check.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, chromium):
        self.profile = tempfile.mkdtemp(prefix="copylab-chromium-")
        # fd 3: we write commands; fd 4: chromium writes answers and events.
        cmd_r, self.cmd_w = os.pipe()
        self.ans_r, ans_w = os.pipe()
        os.set_inheritable(cmd_r, True)
        os.set_inheritable(ans_w, True)

        def fds():
            os.dup2(cmd_r, 3)
            os.dup2(ans_w, 4)

        self.proc = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            preexec_fn=fds,
            # Kept open so that fds 3 and 4, made in preexec_fn, reach chromium.
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.profile, "stderr.log"), "wb"),
        )
        os.close(cmd_r)
        os.close(ans_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def _read_message(self, timeout):
        deadline = time.time() + timeout
        while b"\0" not in self.buf:
            if time.time() > deadline:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self.ans_r, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed the pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        mid = self.next_id
        m = {"id": mid, "method": method, "params": params or {}}
        if session:
            m["sessionId"] = session
        os.write(self.cmd_w, json.dumps(m).encode() + b"\0")
        while True:
            r = self._read_message(timeout)
            if r.get("id") == mid:
                if "error" in r:
                    raise RuntimeError(f"{method}: {r['error']}")
                return r.get("result", {})
            self.events.append(r)

    def wait_event(self, name, timeout=60):
        for i, e in enumerate(self.events):
            if e.get("method") == name:
                return self.events.pop(i)
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self._read_message(deadline - time.time())
            if r.get("method") == name:
                return r
            self.events.append(r)
        raise TimeoutError(f"no {name}")

    def stderr_tail(self):
        try:
            return open(os.path.join(self.profile, "stderr.log"), errors="replace").read()[-2000:]
        except OSError:
            return ""

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["rm", "-rf", self.profile], check=False)


def main():
    chromium, page, outdir = sys.argv[1:4]
    sizes = [tuple(int(x) for x in s.split("x")) for s in sys.argv[4:]] or [(1280, 720), (1920, 1080)]
    url = "file://" + os.path.abspath(page)
    name = os.path.splitext(os.path.basename(page))[0]
    os.makedirs(outdir, exist_ok=True)
    b = Browser(chromium)
    problems = []
    seen = []
    try:
        targets = b.send("Target.getTargets")["targetInfos"]
        tid = next(t["targetId"] for t in targets if t["type"] == "page")
        s = b.send("Target.attachToTarget", {"targetId": tid, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            b.send(f"{domain}.enable", session=s)
        for w, h in sizes:
            b.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": False},
                session=s,
            )
            b.send("Page.navigate", {"url": url}, session=s)
            b.wait_event("Page.loadEventFired")
            time.sleep(0.5)
            shot = b.send("Page.captureScreenshot", {"format": "png"}, session=s)
            path = os.path.join(outdir, f"{name}-{w}x{h}.png")
            open(path, "wb").write(base64.b64decode(shot["data"]))
            metrics = b.send("Page.getLayoutMetrics", session=s)
            content = metrics["cssContentSize"]
            full = b.send(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": w, "height": content["height"], "scale": 1},
                },
                session=s,
            )
            open(os.path.join(outdir, f"{name}-{w}x{h}-full.png"), "wb").write(
                base64.b64decode(full["data"])
            )
            # One picture per section too (at most 1600 px of it), to read each part.
            boxes = b.send(
                "Runtime.evaluate",
                {
                    "expression": "JSON.stringify([...document.querySelectorAll('section[id]')].map(s => { const r = s.getBoundingClientRect(); return [s.id, r.top + scrollY, r.height]; }))",
                    "returnByValue": True,
                },
                session=s,
            )["result"]["value"]
            for sid, top, height in json.loads(boxes):
                part = b.send(
                    "Page.captureScreenshot",
                    {
                        "format": "png",
                        "captureBeyondViewport": True,
                        "clip": {"x": 0, "y": top, "width": w, "height": min(height, 1600), "scale": 1},
                    },
                    session=s,
                )
                open(os.path.join(outdir, f"{name}-{w}x{h}-{sid}.png"), "wb").write(
                    base64.b64decode(part["data"])
                )
            overflow = content["width"] > w + 1
            print(
                f"screenshot {w}x{h}: {path} (page {content['width']:.0f}x{content['height']:.0f} CSS px{', WIDER than the window' if overflow else ''})"
            )
            if overflow:
                problems.append(f"at {w}x{h} the page is {content['width']:.0f} px wide: it scrolls sideways")
        # How the print style lays the first A4 page out (210 mm at 96 dpi = 794 px).
        b.send("Emulation.setEmulatedMedia", {"media": "print"}, session=s)
        b.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 794, "height": 1123, "deviceScaleFactor": 1, "mobile": False},
            session=s,
        )
        time.sleep(0.3)
        shot = b.send("Page.captureScreenshot", {"format": "png"}, session=s)
        open(os.path.join(outdir, f"{name}-print.png"), "wb").write(base64.b64decode(shot["data"]))
        b.send("Emulation.setEmulatedMedia", {"media": ""}, session=s)
        b.send("Emulation.clearDeviceMetricsOverride", session=s)
        pdf = b.send(
            "Page.printToPDF",
            {"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": True, "preferCSSPageSize": True},
            session=s,
        )
        data = base64.b64decode(pdf["data"])
        pdf_path = os.path.join(outdir, f"{name}-a4.pdf")
        open(pdf_path, "wb").write(data)
        pages = data.count(b"/Type /Page") - data.count(b"/Type /Pages")
        print(f"printed on A4: {pdf_path} ({pages} pages)")
        # Anything still queued counts too.
        for e in b.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Network.requestWillBeSent":
                u = p["request"]["url"]
                seen.append(u)
                if not (u == url or u.startswith("data:") or u == "about:blank"):
                    problems.append(f"the page asked for {u}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                problems.append(f"console {p['type']}: {text}")
            elif m == "Runtime.exceptionThrown":
                problems.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif m == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                problems.append(f"log {p['entry']['level']}: {p['entry']['text']} {p['entry'].get('url', '')}")
    except Exception:
        print(b.stderr_tail(), file=sys.stderr)
        raise
    finally:
        b.close()
    print(f"requests: {len(seen)}, all to the file itself: {all(u == url for u in seen)}")
    if problems:
        for p in problems:
            print(f"FAIL: {p}")
        sys.exit(1)
    print("no network request, no console error or warning, no exception")


if __name__ == "__main__":
    main()
