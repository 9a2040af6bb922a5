"""Rendering the review pages: one Jinja2 environment with autoescape always on, and every value
a template prints passed through `scrub_text` first (its `finalize`), so no template can forget.

Responses carry a content security policy allowing only this origin's images and the page's own
inline style and script (by a per-response nonce): text from an error that slipped through
escaping still could not run. A refused request is a page with its status and the reason.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.responses import HTMLResponse

from worker.scrub import scrub_text
from worker.web.pages.audit import entry_fields, run_audit

TEMPLATES = Path(__file__).resolve().parent / "templates"
# The longest text shown in one place; patches and logs beyond it are cut (the PR has them).
MAX_SHOWN = 20_000
SHORT = 256  # values up to this long are remembered once scrubbed


class PageRefusal(Exception):
    """A page request refused, with the status and the reason shown on the page."""

    def __init__(self, status: int, reason: str, back: str = "/") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.back = back  # the page the refused request came from


@lru_cache(maxsize=8192)
def _scrubbed_short(text: str) -> str:
    # Pages repeat the same short values (states, projects, culprits) on every row, and
    # scrubbing is pure: each distinct one is scrubbed once.
    return scrub_text(text)


def _finalize(value: Any) -> Any:
    """What a template prints: scrubbed text (markup this package built is left as it is)."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        if len(value) <= SHORT:
            return _scrubbed_short(value)
        return scrub_text(value[:MAX_SHOWN] + ("…" if len(value) > MAX_SHOWN else ""))
    return value


def href(url: object) -> str:
    """`url` when it is safe to link to (http, https or this site's own path), else "#"."""
    text = str(url or "").strip()
    if text.startswith("/") and not text.startswith("//"):
        return text
    return text if urlsplit(text).scheme in ("http", "https") else "#"


def when(moment: datetime | None) -> str:
    """A time as `2026-11-01 14:03:07 UTC`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def age(moment: datetime | None, now: datetime) -> str:
    """How long ago `moment` was, coarsely: `3 d 4 h`, `5 h 12 min`, `40 s`."""
    if moment is None:
        return ""
    seconds = max(int((now - moment).total_seconds()), 0)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{seconds} s"


def seconds(value: float | None) -> str:
    """A duration in seconds, short."""
    return "" if value is None else f"{value:.1f} s" if value < 600 else str(
        timedelta(seconds=int(value)))


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                      undefined=StrictUndefined, finalize=_finalize, trim_blocks=True,
                      lstrip_blocks=True)
    env.filters.update(href=href, when=when, seconds=seconds)
    env.globals.update(age=age, entry_fields=entry_fields, run_audit=run_audit)
    return env


ENVIRONMENT = _environment()


def render(template: str, code: int = 200, **context: Any) -> HTMLResponse:
    """The page `template` rendered with `context`, with the pages' security headers."""
    nonce = secrets.token_urlsafe(16)
    values = {"user": None, "notice": "", "csrf": "", **context, "nonce": Markup(nonce)}
    html = ENVIRONMENT.get_template(template).render(values)
    return HTMLResponse(html, status_code=code, headers=headers(nonce))


def headers(nonce: str) -> dict[str, str]:
    """Security headers of a page whose inline style and script carry `nonce`."""
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; img-src 'self'; style-src 'nonce-{nonce}'; "
            f"script-src 'nonce-{nonce}'; connect-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }
