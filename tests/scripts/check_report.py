"""Open an `ensweep report` page in headless Chromium and check it: no console errors, no
uncaught exceptions, every <img> loaded (complete, naturalWidth > 0), and no horizontal
overflow when laid out 1280 px wide.

Usage:  python3 tests/scripts/check_report.py path/to/report/index.html [--chromium BIN]
Needs:  chromium (Debian package `chromium`) and `pip install websocket-client`.
Exit status 0 when the page is clean; prints a JSON summary either way.
"""
import argparse, json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request
import websocket  # websocket-client


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


WIDTH = 1280  # px, the viewport the layout is checked at


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("html")
    ap.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser") or "chromium")
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()
    url = "file://" + os.path.abspath(args.html)
    port = free_port()
    profile = tempfile.mkdtemp(prefix="ensweep-chromium-")
    proc = subprocess.Popen(
        [args.chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={profile}", f"--remote-debugging-port={port}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + args.timeout
        targets = None
        while time.time() < deadline:
            try:
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2))
                if any(t.get("type") == "page" for t in targets):
                    break
            except OSError:
                pass
            time.sleep(0.2)
        page = next(t for t in targets if t.get("type") == "page")
        ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=args.timeout)
        ids = iter(range(1, 10**6))
        errors, pending = [], {}

        def send(method, **params):
            i = next(ids)
            ws.send(json.dumps({"id": i, "method": method, "params": params}))
            return i

        def pump(until_id=None, until_event=None):
            while time.time() < deadline:
                msg = json.loads(ws.recv())
                m = msg.get("method")
                if m == "Runtime.consoleAPICalled" and msg["params"]["type"] in ("error", "assert"):
                    errors.append({"console": [a.get("value", a.get("description")) for a in msg["params"]["args"]]})
                elif m == "Runtime.exceptionThrown":
                    errors.append({"exception": msg["params"]["exceptionDetails"].get("text")})
                elif m == "Log.entryAdded" and msg["params"]["entry"]["level"] == "error":
                    errors.append({"log": msg["params"]["entry"].get("text")})
                if until_event and m == until_event:
                    return msg
                if until_id and msg.get("id") == until_id:
                    return msg
            raise TimeoutError("chromium did not answer in time")

        for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
            pump(until_id=send(domain))
        # Lay the page out at 1280 px, a laptop's width: nothing may need a horizontal scroll.
        pump(until_id=send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=900,
                           deviceScaleFactor=1, mobile=False))
        send("Page.navigate", url=url)
        pump(until_event="Page.loadEventFired")
        expr = ("JSON.stringify({images: Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, w: i.naturalWidth})),"
                " sections: document.querySelectorAll('section').length, title: document.title,"
                " scroll_width: document.documentElement.scrollWidth, view_width: window.innerWidth})")
        res = pump(until_id=send("Runtime.evaluate", expression=expr, returnByValue=True))
        info = json.loads(res["result"]["result"]["value"])
        broken = [i for i in info["images"] if not i["complete"] or i["w"] == 0]
        overflow = info["scroll_width"] > info["view_width"]
        summary = {"title": info["title"], "sections": info["sections"], "images": len(info["images"]),
                   "broken_images": broken, "console_errors": errors,
                   "width": info["view_width"], "scroll_width": info["scroll_width"],
                   "horizontal_overflow": overflow}
        print(json.dumps(summary, indent=1))
        ok = not broken and not errors and len(info["images"]) > 0 and not overflow
        ws.close()
        return 0 if ok else 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
