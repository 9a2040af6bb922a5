"""The review pages' check: whether they are on, how people sign in, and what to fix when
the way chosen is weak (a short token) or does not survive a restart (a header alone)."""

from __future__ import annotations

from worker.doctor.model import Check, Status
from worker.settings import Settings

MIN_TOKEN = 24
MAKE_TOKEN = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def check_pages(settings: Settings) -> Check:
    """The review pages are off, or on with a strong enough way to sign in."""
    pages = settings.pages
    if not pages.enabled:
        return Check("review pages", Status.OK, "off (no pages.token or pages.trusted_header): "
                                                "/ is a 404")
    ways = (["token login"] if pages.token is not None else []) + (
        [f"the proxy's {pages.trusted_header} header"] if pages.trusted_header else [])
    found = "on: " + " and ".join(ways)
    if pages.token is not None and len(pages.token.get_secret_value()) < MIN_TOKEN:
        return Check("review pages", Status.WARNING,
                     f"{found}; pages.token is shorter than {MIN_TOKEN} characters",
                     f"set SUTURE_PAGES__TOKEN to a long random value: {MAKE_TOKEN}")
    if pages.token is None:
        return Check("review pages", Status.WARNING,
                     f"{found}; without pages.token, forms are signed with a key made at start: "
                     "a restart, or a second web process, refuses forms opened before",
                     f"also set SUTURE_PAGES__TOKEN (it keys the signatures): {MAKE_TOKEN}")
    return Check("review pages", Status.OK, found)
