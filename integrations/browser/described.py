"""What a screenshot shows for an answer the browser would not display: a page describing it.

Chromium downloads `application/octet-stream`, archives and anything sent as an attachment
instead of rendering it, so there would be nothing to take a picture of. The reviewer still
needs to see what came back; the page gives the status, the content type, the length, the file
name the answer suggested and its first bytes. Every value is the preview's answer to a
request rebuilt from production data, so all of it is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

# Types Chromium renders itself; anything else (or an attachment) becomes a download.
_INLINE_PREFIXES = ("text/", "image/", "video/", "audio/")
_INLINE_TYPES = frozenset({"application/json", "application/xml", "application/xhtml+xml",
                           "application/javascript", "application/ld+json",
                           "application/problem+json", "image/svg+xml"})
PREVIEW_BYTES = 2048  # of the body, shown


def shown_inline(headers: Mapping[str, str]) -> bool:
    """Whether Chromium would display an answer with these headers rather than download it."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if lowered.get("content-disposition", "").strip().lower().startswith("attachment"):
        return False
    kind = lowered.get("content-type", "").split(";", 1)[0].strip().lower()
    return not kind or kind in _INLINE_TYPES or kind.startswith(_INLINE_PREFIXES)


def described(status: int, headers: Mapping[str, str], first: bytes,
              length: int | None) -> str:
    """An HTML page describing an answer that would have been downloaded: its `first` bytes
    of `length` in all (None when the download could not be read)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    kind = lowered.get("content-type", "") or "no content type"
    disposition = lowered.get("content-disposition", "")
    size = "unknown" if length is None else f"{length:,} bytes"
    rows = [("status", str(status)), ("content type", kind), ("length", size)]
    if disposition:
        rows.append(("disposition", disposition))
    table = "".join(f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
                    for name, value in rows)
    first = first[:PREVIEW_BYTES]
    shown = html.escape(first.decode("ascii", "backslashreplace")) if first else "(empty)"
    more = f" (first {len(first):,} shown)" if length and length > len(first) else ""
    return ("<!doctype html><html><head><meta charset='utf-8'><title>A download</title>"
            "<style>body{font:16px sans-serif;margin:2em}th{text-align:left;padding-right:1em}"
            "pre{background:#f4f4f4;padding:1em;white-space:pre-wrap;word-break:break-all}"
            "</style></head><body><h1>The preview answered with a file to download</h1>"
            "<p>A browser would save this answer rather than show it; this page describes it."
            f"</p><table>{table}</table><h2>Body{more}</h2><pre>{shown}</pre></body></html>")
