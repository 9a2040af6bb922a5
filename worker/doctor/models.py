"""The check of the model endpoints: which ones the tool loop and agent CLIs (through the model
proxy) reach, and whether a key would cross the network in clear text.

No endpoint is not a fault (the fix templates still propose patches), so it is ok and says so.
A key sent over plain HTTP to a host other than this machine is a warning: the proxy keeps it
out of the sandbox, but not off the wire.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from worker.doctor.checks import redact
from worker.doctor.model import Check, Status
from worker.settings import Settings

_LOCAL = frozenset({"127.0.0.1", "localhost", "::1"})


def check_models(settings: Settings) -> Check:
    """What the fix loop's agents reach their models at."""
    fix = settings.fix
    if not fix.enabled:
        return Check("models", Status.OK, "the fix loop is off")
    keyed: list[tuple[str, str]] = []  # (what, url) of each endpoint that sends a key
    found: list[str] = []
    if fix.agent.base_url:
        found.append(f"OpenAI-compatible at {redact(fix.agent.base_url)}"
                     + ("" if fix.agent.api_key else " (no key)"))
        if fix.agent.api_key:
            keyed.append(("fix.agent.base_url", fix.agent.base_url))
    if fix.anthropic.api_key:
        found.append(f"Anthropic at {redact(fix.anthropic.base_url)}")
        keyed.append(("fix.anthropic.base_url", fix.anthropic.base_url))
    if not found:
        return Check("models", Status.OK, "no model endpoint: only the fix templates propose "
                     "patches (set SUTURE_FIX__AGENT__BASE_URL or SUTURE_FIX__ANTHROPIC__API_KEY "
                     "for the tool loop and agent CLIs)")
    clear = [name for name, url in keyed if _in_clear(url)]
    shown = "; ".join(found) + "; agent CLIs reach them through the model proxy"
    if clear:
        return Check("models", Status.WARNING, f"{shown}; {', '.join(clear)} sends its key "
                     "over plain HTTP", "use an https:// URL for " + ", ".join(clear))
    return Check("models", Status.OK, shown)


def _in_clear(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") not in _LOCAL
