"""Screenshots of replayed requests, rendered by the system Chromium through Playwright against
a real local HTTP server: real PNGs, POSTs sent by the browser, other origins blocked."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from integrations.browser import capture, png_size
from integrations.browser.described import described, shown_inline
from integrations.browser.screenshot import PNG_SIGNATURE
from worker.ports import PermanentError, TransientError
from worker.preview.evidence import ReplayRequest

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None,
                                reason="chromium is not installed (apt-get install chromium)")

NORMAL = ("<html><body style='font:24px sans-serif'><h1>Your cart</h1><p>Total: 0 EUR</p>"
          "</body></html>")
ERROR = ("<html><body style='background:#fee;font:16px monospace'><h1 style='color:#b00'>"
         "Internal Server Error</h1><pre>" + "Traceback line\n" * 120
         + "ZeroDivisionError: division by zero</pre></body></html>")

DOWNLOAD = b"PK\x03\x04<script>alert(1)</script>" + bytes(range(256)) * 20


class Site:
    """A stdlib HTTP server: `/cart` renders normally, `/crash` is a long 500 page, and a POST
    shows what it received. Every request is kept in `seen`."""

    def __init__(self, extra: str = "") -> None:
        self.seen: list[dict[str, str]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                site.seen.append({"method": self.command, "path": self.path, "body": body,
                                  "type": self.headers.get("Content-Type") or "",
                                  "accept": self.headers.get("Accept") or ""})
                status, page = 200, NORMAL.replace("</body>", extra + "</body>")
                if self.path.startswith(("/download", "/old")):
                    self._special()
                    return
                if self.path.startswith("/crash"):
                    status, page = 500, ERROR
                elif self.command == "POST":
                    status, page = 500, ERROR.replace("Traceback line", f"posted {body}")
                data = page.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _special(self) -> None:
                if self.path.startswith("/old"):  # a redirect the browser follows itself
                    self.send_response(302)
                    self.send_header("Location", "/cart")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = DOWNLOAD if self.path == "/download" else b""
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if data:
                    self.send_header("Content-Disposition", 'attachment; filename="r.bin"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    started = Site()
    yield started
    started.close()


def get(path: str) -> ReplayRequest:
    return ReplayRequest(method="GET", path=path, headers={"Accept-Language": "en-GB"})


def test_an_error_page_and_a_normal_page_give_two_real_different_pngs(site, tmp_path):
    normal = capture(get("/cart"), site.url, tmp_path / "normal.png", timeout=20)
    error = capture(get("/crash"), site.url, tmp_path / "error.png", timeout=20)
    for shot in (normal, error):
        data = Path(shot.path).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and shot.size == len(data)
        assert png_size(data) == (shot.width, shot.height)
        assert shot.width == 1280 and shot.chromium_version and shot.seconds > 0
    assert (normal.status, error.status) == (200, 500)
    assert error.height > 800 >= normal.height  # the whole long error page, not the viewport
    assert Path(normal.path).read_bytes() != Path(error.path).read_bytes()
    assert normal.url == f"{site.url}/cart"


def test_a_post_is_sent_by_the_browser_and_its_answer_rendered(site, tmp_path):
    posted = ReplayRequest(method="POST", path="/cart/caf%C3%A9", query="currency=EUR&q=a+b",
                           headers={"Content-Type": "application/json"},
                           body=json.dumps({"items": []}), body_kind="json")
    shot = capture(posted, site.url, tmp_path / "post.png", timeout=20)
    page = capture(get("/cart/caf%C3%A9"), site.url, tmp_path / "get.png", timeout=20)
    assert shot.status == 500 and page.status == 200
    first = site.seen[0]
    assert (first["method"], first["path"], first["body"]) == (
        "POST", "/cart/caf%C3%A9?currency=EUR&q=a+b", '{"items": []}')
    assert first["type"] == "application/json"
    assert Path(shot.path).read_bytes() != Path(page.path).read_bytes()


def test_requests_to_other_origins_are_blocked(tmp_path):
    elsewhere = Site()
    page = Site(extra=f"<img src='{elsewhere.url}/tracker.png'>"
                      f"<script src='{elsewhere.url}/x.js'></script>")
    try:
        shot = capture(get("/cart"), page.url, tmp_path / "page.png", timeout=20)
    finally:
        page.close()
        elsewhere.close()
    assert shot.status == 200
    assert [seen["path"] for seen in page.seen] == ["/cart"]
    assert elsewhere.seen == []


def test_a_missing_chromium_is_a_permanent_error_with_the_fix(tmp_path, monkeypatch):
    with pytest.raises(PermanentError, match="apt-get install chromium"):
        capture(get("/"), "http://127.0.0.1:9", tmp_path / "x.png",
                chromium=tmp_path / "no-chromium")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PermanentError, match="apt-get install chromium"):
        capture(get("/"), "http://127.0.0.1:9", tmp_path / "x.png")


def test_a_preview_that_does_not_answer_is_transient(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(TransientError, match="could not be rendered"):
        capture(get("/"), closed, tmp_path / "x.png", timeout=10)


def test_png_size_refuses_what_is_not_a_png():
    with pytest.raises(ValueError):
        png_size(b"GIF89a" + b"\x00" * 30)


def test_an_answer_the_browser_would_download_is_shown_as_a_description(site, tmp_path):
    # Chromium only downloads these; the picture describes them instead of failing.
    attached = capture(get("/download"), site.url, tmp_path / "download.png", timeout=20)
    empty = capture(get("/download-empty"), site.url, tmp_path / "empty.png", timeout=20)
    for shot in (attached, empty):
        assert Path(shot.path).read_bytes().startswith(PNG_SIGNATURE) and shot.status == 200
    assert Path(attached.path).read_bytes() != Path(empty.path).read_bytes()
    assert [seen["path"] for seen in site.seen] == ["/download", "/download-empty"]


def test_a_redirect_is_followed_by_the_browser(site, tmp_path):
    shot = capture(get("/old"), site.url, tmp_path / "old.png", timeout=20)
    assert shot.status == 200
    assert [seen["path"] for seen in site.seen] == ["/old", "/cart"]


def test_the_description_escapes_the_answer_and_says_what_it_was():
    page = described(200, {"Content-Type": "application/octet-stream",
                           "Content-Disposition": 'attachment; filename="<b>.bin"'},
                     DOWNLOAD, len(DOWNLOAD))
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;.bin" in page
    assert f"{len(DOWNLOAD):,} bytes" in page and "first 2,048 shown" in page
    assert "(empty)" in described(200, {"Content-Type": "application/zip"}, b"", 0)
    assert "unknown" in described(200, {}, b"", None)
    assert shown_inline({"Content-Type": "text/html; charset=utf-8"})
    assert shown_inline({"content-type": "application/json"}) and shown_inline({})
    assert not shown_inline({"Content-Type": "application/octet-stream"})
    assert not shown_inline({"Content-Type": "text/csv", "Content-Disposition": "attachment"})


def test_the_browser_sends_no_accept_header_production_did_not(site, tmp_path):
    capture(ReplayRequest(method="GET", path="/cart"), site.url, tmp_path / "a.png", timeout=20)
    capture(ReplayRequest(method="GET", path="/cart", headers={"Accept": "text/html"}),
            site.url, tmp_path / "b.png", timeout=20)
    assert [seen["accept"] for seen in site.seen] == ["", "text/html"]
