"""Check an `ensweep report`.

In headless Chromium: no console errors, no uncaught exceptions, every <img> loaded (complete,
naturalWidth > 0), and no horizontal overflow when laid out 1280 px wide.

In the figure files (standard library only; `--no-browser` runs just these):
  * every figure on the page has an SVG, a PNG (valid header, non-zero size) and a CSV (a header
    and at least one row) beside it, listed in figures/manifest.json, and every listed figure is
    on the page;
  * every heatmap carries a colour bar: a marked box filled by at least 16 distinct colours with
    at least 3 tick labels beside it;
  * no legend box overlaps a plotted point: the legend is clear of every plotting area, and no
    drawn element (dot, line, band, bar) crosses its border.
The plotting areas, legends and colour bars are found by the invisible `ensweep-plot`,
`ensweep-legend` and `ensweep-colorbar` rectangles the report adds; everything else tested is
the drawn geometry itself.

Usage:  python3 tests/scripts/check_report.py path/to/report/index.html [--chromium BIN] [--no-browser]
Needs:  chromium (Debian package `chromium`) and `pip install websocket-client` (browser part).
Exit status 0 when the report is clean; prints a JSON summary either way.
"""
import argparse, json, os, re, shutil, socket, struct, subprocess, sys, tempfile, time, urllib.request
import xml.etree.ElementTree as ET


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


WIDTH = 1280  # px, the viewport the layout is checked at


def tag(el):
    return el.tag.rsplit("}", 1)[-1]


def num(el, key, default=0.0):
    try:
        return float(el.get(key, default))
    except ValueError:
        return default


def marks(root):
    """The (role, box) rectangles the report marks: plot, legend, colorbar."""
    out = []
    for el in root.iter():
        cls = el.get("class", "")
        if tag(el) == "rect" and cls.startswith("ensweep-"):
            x, y = num(el, "x"), num(el, "y")
            out.append((cls[len("ensweep-"):], (x, y, x + num(el, "width"), y + num(el, "height"))))
    return out


def shapes(root, width, height):
    """Drawn elements as (kind, points, fill): dots as their bounding corners, lines and
    polygons as their vertices, rectangles as their corners. The white background is left out."""
    out = []
    for el in root.iter():
        t = tag(el)
        if el.get("class", "").startswith("ensweep-"):
            continue
        if t == "circle":
            cx, cy, r = num(el, "cx"), num(el, "cy"), num(el, "r")
            out.append((t, [(cx - r, cy - r), (cx + r, cy + r)], el.get("fill")))
        elif t in ("polyline", "polygon"):
            pts = [tuple(map(float, p.split(","))) for p in el.get("points", "").split()]
            if pts:
                out.append((t, pts, el.get("fill")))
        elif t == "line":
            out.append((t, [(num(el, "x1"), num(el, "y1")), (num(el, "x2"), num(el, "y2"))], None))
        elif t == "rect":
            x, y, w, h = num(el, "x"), num(el, "y"), num(el, "width"), num(el, "height")
            if w >= width - 1 and h >= height - 1:
                continue  # the background
            out.append((t, [(x, y), (x + w, y + h)], el.get("fill")))
    return out


def inside(p, box, tol=0.5):
    return box[0] - tol <= p[0] <= box[2] + tol and box[1] - tol <= p[1] <= box[3] + tol


def intersects(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def check_svg(path, kind):
    """Problems found in one figure's SVG."""
    root = ET.parse(path).getroot()
    width, height = num(root, "width"), num(root, "height")
    ms = marks(root)
    plots = [b for r, b in ms if r == "plot"]
    problems = []
    if not plots:
        problems.append("no plotting area marked")
    drawn = shapes(root, width, height)
    for role, box in ms:
        if role != "legend":
            continue
        for p in plots:
            if intersects(box, p):
                problems.append(f"legend {box} overlaps plotting area {p}")
        for t, pts, _ in drawn:
            ins = [inside(q, box) for q in pts]
            if t == "circle" or t == "rect":
                bb = (pts[0][0], pts[0][1], pts[1][0], pts[1][1])
                crossing = intersects(bb, box) and not all(ins)
            else:
                crossing = any(ins) and not all(ins)
            if crossing:
                problems.append(f"{t} at {pts[:2]} crosses legend {box}")
                break
    if kind == "heatmap":
        bars = [b for r, b in ms if r == "colorbar"]
        if not bars:
            problems.append("heatmap without a colour bar")
        for box in bars:
            fills = {f for t, pts, f in drawn if t == "rect" and f and all(inside(q, box) for q in pts)}
            if len(fills) < 16:
                problems.append(f"colour bar with {len(fills)} colours")
            ticks = [el for el in root.iter() if tag(el) == "text"
                     and box[2] <= num(el, "x") <= box[2] + 120 and box[1] - 2 <= num(el, "y") <= box[3] + 2]
            if len(ticks) < 3:
                problems.append(f"colour bar with {len(ticks)} tick labels")
    return problems


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def check_files(html_path):
    """Figure files, colour bars and legends; returns (summary, ok)."""
    html = open(html_path, encoding="utf-8").read()
    on_page = re.findall(r'<img alt="([^"]*)"', html)
    fig_dir = os.path.join(os.path.dirname(html_path), "figures")
    manifest = json.load(open(os.path.join(fig_dir, "manifest.json")))
    listed = {m["name"]: m for m in manifest}
    problems = {}
    for name in set(on_page) | set(listed):
        p = []
        m = listed.get(name)
        if m is None:
            p.append("on the page but not in manifest.json")
        elif name not in on_page:
            p.append("in manifest.json but not on the page")
        else:
            for ext in ("svg", "png", "csv"):
                f = os.path.join(fig_dir, m[ext])
                if not os.path.isfile(f) or os.path.getsize(f) == 0:
                    p.append(f"no {ext}")
            png = os.path.join(fig_dir, m["png"])
            if os.path.isfile(png) and not png_size(png):
                p.append("png is not a PNG")
            csv = os.path.join(fig_dir, m["csv"])
            if os.path.isfile(csv) and len(open(csv).read().splitlines()) < 2:
                p.append("csv has no rows")
            svg = os.path.join(fig_dir, m["svg"])
            if os.path.isfile(svg):
                p += check_svg(svg, m["kind"])
        if p:
            problems[name] = p
    kinds = {}
    for m in manifest:
        kinds[m["kind"]] = kinds.get(m["kind"], 0) + 1
    summary = {"figures": len(on_page), "kinds": kinds,
               "legends": sum(len([1 for r, _ in marks(ET.parse(os.path.join(fig_dir, m["svg"])).getroot()) if r == "legend"]) for m in manifest),
               "figure_problems": problems}
    return summary, not problems and len(on_page) > 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("html")
    ap.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser") or "chromium")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--no-browser", action="store_true", help="check the figure files only")
    args = ap.parse_args()
    files, files_ok = check_files(args.html)
    if args.no_browser:
        print(json.dumps(files, indent=1))
        return 0 if files_ok else 1
    import websocket  # websocket-client
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
                   "horizontal_overflow": overflow, **files}
        print(json.dumps(summary, indent=1))
        ok = not broken and not errors and len(info["images"]) > 0 and not overflow and files_ok
        ws.close()
        return 0 if ok else 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
