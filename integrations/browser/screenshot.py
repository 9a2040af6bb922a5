"""Screenshots of a replayed request on a preview, rendered by the system Chromium.

Playwright drives Debian's `chromium` through `executable_path`; it never downloads a browser
(`playwright install` is not used anywhere). The browser itself sends the replayed request: the
page navigates to the request's URL on the preview and the first navigation is rewritten to the
recorded method, body and headers (`route.continue_`), so a POST renders exactly as the user saw
its answer, under its real URL, with relative links and styles resolved against the preview.
Every other request may go only to the preview's own origin: the page shows text an attacker
chose and runs the application's scripts, and neither may reach anywhere else from this host.
Service workers are off. An answer the browser would download rather than show
(`application/octet-stream`, an attachment) is pictured as a page describing it instead: its
status, type, length and first bytes, escaped (`described.py`). Failures to start Chromium are
`PermanentError` with the fix; a preview that does not answer in time is `TransientError`.
"""

from __future__ import annotations

import os
import shutil
import struct
import time
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import (
    Browser,
    Download,
    Page,
    Response,
    Route,
    ViewportSize,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from integrations.browser.described import PREVIEW_BYTES, described, shown_inline
from worker.ports import PermanentError, TransientError
from worker.preview.evidence import ReplayRequest, Screenshot
from worker.preview.replay import UNRECORDED_DEFAULTS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
INSTALL_HINT = "apt-get install chromium (or set browser.chromium_path)"


def find_chromium(configured: str | Path | None = None) -> str:
    """The Chromium to run: `configured` if given, else `chromium` on PATH; PermanentError
    naming the fix when there is none."""
    if configured:
        path = Path(configured)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        raise PermanentError(f"chromium not found at {path}: {INSTALL_HINT}")
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise PermanentError(f"chromium is not installed: {INSTALL_HINT}")
    return found


def capture(request: ReplayRequest, url: str, path: Path, *,
            chromium: str | Path | None = None, timeout: float = 30.0) -> Screenshot:
    """Render `request` sent to the preview at base URL `url` and save a full-page PNG at `path`.

    `chromium` overrides where the browser is (setting `browser.chromium_path`).
    """
    executable = find_chromium(chromium)
    target = request.target(url)
    parts = urlsplit(target)
    origin = f"{parts.scheme}://{parts.netloc}"
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with sync_playwright() as playwright:
        try:
            # Chromium's sandbox cannot start as root and Chromium refuses to run so without
            # --no-sandbox, which Playwright adds when `chromium_sandbox` is False; any other user
            # keeps the sandbox. --no-proxy-server: a preview is reached directly.
            browser = playwright.chromium.launch(
                executable_path=executable, headless=True, chromium_sandbox=os.geteuid() != 0,
                args=["--no-proxy-server"], timeout=timeout * 1000)
        except PlaywrightError as exc:
            raise PermanentError(f"chromium at {executable} did not start ({_first_line(exc)}): "
                                 f"{INSTALL_HINT}") from exc
        try:
            status = _render(browser, request, target, origin, path, timeout)
            version = browser.version
        finally:
            browser.close()
    data = path.read_bytes()
    width, height = png_size(data)
    return Screenshot(path=str(path), size=len(data), width=width, height=height, status=status,
                      seconds=round(time.monotonic() - started, 3), url=target,
                      chromium_version=version)


def _render(browser: Browser, request: ReplayRequest, target: str, origin: str, path: Path,
            timeout: float) -> int | None:
    context = browser.new_context(
        viewport=_VIEWPORT, service_workers="block", accept_downloads=True,
        user_agent=request.headers.get("User-Agent"),
        locale=_locale(request.headers.get("Accept-Language")))
    try:
        page = context.new_page()
        page.set_default_timeout(timeout * 1000)
        sent: list[bool] = []

        def route(route: Route) -> None:
            asked = route.request
            if _origin(asked.url) != origin:
                route.abort("blockedbyclient")
            elif not sent and asked.is_navigation_request() and asked.frame == page.main_frame:
                sent.append(True)
                recorded = {k.lower(): v for k, v in request.headers.items()}
                # The browser's own Accept and User-Agent go unless production sent them too.
                headers = {**{k: v for k, v in asked.headers.items()
                              if k.lower() not in UNRECORDED_DEFAULTS}, **recorded}
                route.continue_(method=request.method, headers=headers,
                                post_data=request.content())
            else:
                route.continue_()

        page.route("**/*", route)
        answers: list[Response] = []  # the main frame's navigations, as they are answered
        page.on("response", lambda answer: answers.append(answer)
                if answer.request.is_navigation_request() and answer.frame == page.main_frame
                else None)
        downloads: list[Download] = []
        page.on("download", lambda download: downloads.append(download))
        try:
            try:
                response = page.goto(target, wait_until="load", timeout=timeout * 1000)
                status = response.status if response is not None else None
            except PlaywrightError:
                if not answers or shown_inline(answers[-1].headers):
                    raise
                status = answers[-1].status
                page.set_content(_describe_download(page, answers[-1], downloads, timeout))
            page.screenshot(path=str(path), full_page=True, type="png", timeout=timeout * 1000)
        except PlaywrightError as exc:
            raise TransientError(f"the preview at {origin} could not be rendered: "
                                 f"{_first_line(exc)}") from exc
        return status
    finally:
        context.close()


def _describe_download(page: Page, answer: Response, downloads: list[Download],
                       timeout: float) -> str:
    """The page describing an answer Chromium started to download instead of showing."""
    deadline = time.monotonic() + timeout
    while not downloads and time.monotonic() < deadline:  # the event may come just after
        page.wait_for_timeout(50)
    if not downloads:
        return described(answer.status, answer.headers, b"", None)
    saved = downloads[0].path()  # waits for the download to finish; gone with the context
    with open(saved, "rb") as file:
        return described(answer.status, answer.headers, file.read(PREVIEW_BYTES),
                         os.path.getsize(saved))


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) read from a PNG's header; ValueError when `data` is not a PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _locale(accept_language: str | None) -> str | None:
    """The first language of an Accept-Language header, as a Chromium locale (`fr-FR`)."""
    if not accept_language:
        return None
    first = accept_language.split(",", 1)[0].split(";", 1)[0].strip()
    return first if first and first != "*" and len(first) <= 35 else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
