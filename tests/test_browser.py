"""The HTML pages in a real browser: headless Chromium renders the evaluate report and the track page (both
from the bundled templates, and branded by a --template folder) with no console errors, makes no request
beyond the file itself, draws the charts, prints to PDF, and the screenshot is not blank.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON messages ending in
NUL on file descriptors 3 and 4), so no port, websocket library or browser download is needed. The
screenshot is checked with a tiny PNG decoder (zlib only). Without /usr/bin/chromium the test skips
locally; .ci/run installs Debian's `chromium` and sets SIGNALWISE_REQUIRE_BROWSER=1, so in CI a missing
browser is a failure, not a skip.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, run_cli

CHROMIUM = os.environ.get("SIGNALWISE_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
    "--window-size=1200,2000",
]
TIMEOUT = 60.0


def _require_chromium() -> None:
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return
    reason = (
        f"headless Chromium not found at {CHROMIUM}: install Debian's `chromium` "
        "(apt-get install -y chromium) or set SIGNALWISE_CHROMIUM"
    )
    if os.environ.get("SIGNALWISE_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


class Browser:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, profile_dir: Path) -> None:
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        # keep our ends away from 3/4, then give the child exactly fds 3 (it reads) and 4 (it writes)
        child_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_chrome_r)
        os.close(from_chrome_w)

        def give_fds() -> None:
            os.dup2(child_r, 3)
            os.dup2(child_w, 4)

        self.stderr_path = profile_dir / "chromium.stderr"
        self._stderr = open(self.stderr_path, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile_dir}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            preexec_fn=give_fds,
            close_fds=False,
        )
        os.close(child_r)
        os.close(child_w)
        self._buf = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the debugging pipe:\n" + self.stderr_tail())
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + TIMEOUT
        while True:
            event = self._read_message(deadline)
            if event.get("method") == method:
                return event
            self.events.append(event)

    def stderr_tail(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")[-3000:]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("Browser.close")
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)
        for fd in (self._r, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._stderr.close()


@contextlib.contextmanager
def browser(tmp_path: Path) -> Iterator[Browser]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    b = Browser(profile)
    try:
        yield b
    finally:
        b.close()


# ---------------------------------------------------------------------------------------------- PNG


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA, non-interlaced PNG into (width, height, rows of raw pixel bytes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    assert header is not None, "PNG without IHDR"
    width, height, depth, color, _comp, _filt, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, f"unsupported PNG: depth {depth}, color {color}"
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        ftype, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def colour_stats(data: bytes) -> tuple[int, float]:
    """(distinct colours, share of pixels that are not the most common colour) of a PNG."""
    width, height, rows = png_pixels(data)
    bpp = len(rows[0]) // width
    counts: dict[bytes, int] = {}
    for row in rows:
        for i in range(0, len(row), bpp):
            px = row[i : i + 3]
            counts[px] = counts.get(px, 0) + 1
    total = width * height
    return len(counts), 1 - max(counts.values()) / total


def test_png_reader_on_a_known_image() -> None:
    # 2x1 RGB: red, then white; filter 1 (Sub) on the only row
    raw = bytes([1, 255, 0, 0, 0, 255, 255])
    ihdr = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )
    width, height, rows = png_pixels(png)
    assert (width, height, rows) == (2, 1, [bytes([255, 0, 0, 255, 255, 255])])
    assert colour_stats(png) == (2, 0.5)


# ---------------------------------------------------------------------------------------------- the test


def _report_html(tmp_path: Path, name: str) -> Path:
    out = tmp_path / f"{name}.html"
    with contextlib.chdir(ROOT):
        result = run_cli(
            "evaluate",
            "--profile",
            f"examples/{name}/profile.yaml",
            "--programs",
            f"examples/{name}/programs.csv",
            "--format",
            "html",
            "-o",
            str(out),
        )
    assert result.exit_code == 0, result.output
    return out


def _problems(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            out.append(
                f"console.{params['type']}: " + " ".join(str(a.get("value")) for a in params.get("args", []))
            )
        elif method == "Runtime.exceptionThrown":
            out.append("exception: " + str(params.get("exceptionDetails", {}).get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
            entry = params["entry"]
            out.append(f"log {entry.get('level')} ({entry.get('source')}): {entry.get('text')}")
    return out


def _load(tmp_path: Path, page: Path) -> tuple[dict[str, Any], bytes, bytes, list[dict[str, Any]], str]:
    """Open `page` in headless Chromium: (DOM facts, screenshot PNG, PDF, protocol events, stderr)."""
    url = page.as_uri()
    with browser(tmp_path) as b:
        target = b.call("Target.createTarget", {"url": "about:blank"})
        session = b.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            b.call(f"{domain}.enable", None, session)
        b.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1200, "height": 2000, "deviceScaleFactor": 1, "mobile": False},
            session,
        )
        b.call("Page.navigate", {"url": url}, session)
        b.wait_for("Page.loadEventFired")
        dom = b.call(
            "Runtime.evaluate",
            {
                "returnByValue": True,
                "expression": """(() => {
            const svgs = [...document.querySelectorAll('svg.chart')];
            const brand = document.querySelector('.brand');
            return {title: document.title,
                    charts: svgs.map(s => { const r = s.getBoundingClientRect();
                                            return [s.id, Math.round(r.width), Math.round(r.height),
                                                    s.querySelectorAll('rect,circle,polyline').length]; }),
                    programs: document.querySelectorAll('article.program').length,
                    sections: [...document.querySelectorAll('section[id]')].map(s => s.id),
                    details: document.querySelectorAll('details.how').length,
                    pre: document.querySelectorAll('pre').length,
                    h2_border: getComputedStyle(document.querySelector('h2')).borderBottomColor,
                    brand: brand ? {text: brand.innerText, bg: getComputedStyle(brand).backgroundColor,
                                    height: Math.round(brand.getBoundingClientRect().height)} : null,
                    height: document.documentElement.scrollHeight};
        })()""",
            },
            session,
        )["result"]["value"]
        shot = base64.b64decode(b.call("Page.captureScreenshot", {"format": "png"}, session)["data"])
        (tmp_path / "screenshot.png").write_bytes(shot)
        pdf = base64.b64decode(b.call("Page.printToPDF", {"printBackground": True}, session)["data"])
        b.call("Runtime.evaluate", {"expression": "0"}, session)  # drain late events
        events = list(b.events)
        stderr = b.stderr_tail()
    problems = _problems(events)
    assert not problems, "the browser reported problems:\n" + "\n".join(problems)
    requested = sorted(
        {e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"}
    )
    assert requested == [url], f"the page requested more than itself: {requested}"
    colours, ink = colour_stats(shot)
    assert colours >= 16 and ink > 0.02, (
        f"screenshot looks blank: {colours} colours, {ink:.1%} non-background; "
        f"see {tmp_path / 'screenshot.png'}\n{stderr}"
    )
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000, "printing to PDF failed"
    return dom, shot, pdf, events, stderr


@pytest.mark.parametrize("name", ["gold-silver-im", "at-risk-im"])
def test_html_report_renders_in_headless_chromium(tmp_path: Path, name: str) -> None:
    _require_chromium()
    dom, _shot, pdf, _events, _stderr = _load(tmp_path, _report_html(tmp_path, name))
    assert dom["title"].startswith("Signal plan: ")
    assert [c[0] for c in dom["charts"]] == ["sw-fit-chart", "sw-region-chart"]
    for chart_id, width, height, shapes in dom["charts"]:
        assert width > 300 and height > 100 and shapes > 5, (chart_id, width, height, shapes)
    assert dom["programs"] > 10 and dom["height"] > 5000 and dom["details"] > 10 and dom["brand"] is None
    assert len(pdf) > 20_000


def _track_html(tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / "season.html"
    ex = ROOT / "examples" / "gold-silver-im"
    result = run_cli("track", "--log", str(ex / "interview-log.csv"), "--programs", str(ex / "programs.csv"),
                     "--specialty", "internal-medicine", "--cycle", "eras-2026", "--as-of", "2025-11-15",
                     "--target", "12", "--format", "html", "-o", str(out), *extra)
    assert result.exit_code == 0, result.output
    return out


def test_track_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    _require_chromium()
    dom, *_ = _load(tmp_path, _track_html(tmp_path))
    assert dom["title"].startswith("Interview season as of 2025-11-15")
    assert dom["sections"] == ["pace", "rates", "over-time", "now", "by-program"]
    assert dom["pre"] == 0 and dom["details"] >= 2  # real sections, not Markdown in a <pre>
    [(chart_id, width, height, shapes)] = dom["charts"]
    assert chart_id == "pace-chart" and width > 300 and height > 100 and shapes >= 1


BRANDED = ROOT / "tests" / "templates" / "branded"


@pytest.mark.parametrize("page", ["evaluate", "track"])
def test_branded_template_renders_in_headless_chromium(tmp_path: Path, page: str) -> None:
    """An office's header and colours (tests/templates/branded) show on both pages, with no console errors."""
    _require_chromium()
    if page == "evaluate":
        out = tmp_path / "branded.html"
        with contextlib.chdir(ROOT):
            result = run_cli("evaluate", "--profile", "examples/at-risk-im/profile.yaml", "--programs",
                             "examples/at-risk-im/programs.csv", "--format", "html", "-o", str(out),
                             "--template", str(BRANDED))
        assert result.exit_code == 0, result.output
    else:
        out = _track_html(tmp_path, "--template", str(BRANDED))
    dom, *_ = _load(tmp_path, out)
    assert dom["brand"] is not None and dom["brand"]["text"].startswith("Lakeside Advising Office")
    assert dom["brand"]["bg"] == "rgb(18, 57, 91)" and dom["brand"]["height"] > 20  # brand.css.j2 applied
    assert dom["h2_border"] == "rgb(18, 57, 91)"
    assert dom["charts"], "the bundled content is still there"
