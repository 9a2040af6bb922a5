"""Replaying the failing request on the base and fixed previews, and judging what came back.

The same scrubbed request (`replayable`, from `worker.preview.rebuild`) goes to both previews,
each with its own client so a cookie one sets never reaches the other. The base must fail the
way production did (a 5xx, or a response naming the exception class) and the fix must not (a
non-5xx that does not name it). A preview that does not answer is evidence, not a crash: the
judgement says so. Response excerpts are scrubbed, because an application's error page can echo
the request and its own secrets.
"""

from __future__ import annotations

import re
import time
from typing import Literal

import httpx

from worker.preview.evidence import NoReplay, ReplayEvidence, ReplayRequest, ReplayResponse
from worker.preview.rebuild import replayable
from worker.scrub import scrub_text

__all__ = ["NoReplay", "ReplayEvidence", "ReplayRequest", "judge", "replay", "replayable"]

_MAX_READ = 256 * 1024
_SCRUB_CHARS = 4000
_EXCERPT_CHARS = 500
# Names too generic to say "the same error": every error page contains them.
_GENERIC = frozenset({"error", "exception", "baseexception", "throwable"})


def replay(request: ReplayRequest, base_url: str, fix_url: str, *, timeout: float = 30.0,
           transport: httpx.BaseTransport | None = None) -> ReplayEvidence:
    """Send `request` to the base and the fixed preview and judge the two answers.

    `transport` replaces the network (tests); every failure to get an answer is recorded in the
    evidence rather than raised.
    """
    base = _send(request, "base", base_url, timeout, transport)
    fix = _send(request, "fix", fix_url, timeout, transport)
    reproduced, fixed, reasons = judge(request, base, fix)
    return ReplayEvidence(request=request, base=base, fix=fix, reproduced_on_base=reproduced,
                          fixed=fixed, reasons=reasons)


def judge(request: ReplayRequest, base: ReplayResponse,
          fix: ReplayResponse) -> tuple[bool, bool, list[str]]:
    """(reproduced on base, fixed, reasons): one reason for each judgement, plus caveats."""
    failure = _failure_name(request)
    reproduced, reason = _reproduces(base, failure)
    reasons = [reason]
    fixed, reason = _fixes(fix, failure)
    reasons.append(reason)
    if not reproduced and request.placeholders:
        reasons.append("placeholders stood in for removed values, which may be why the base "
                       "did not fail")
    return reproduced, fixed, reasons


def _reproduces(base: ReplayResponse, failure: str | None) -> tuple[bool, str]:
    if not base.answered:
        return False, f"the base preview did not answer ({base.error})"
    if base.server_error:
        return True, f"the base answered {base.status}, a server error as in production"
    if base.names_exception:
        return True, f"the base answered {base.status} naming {failure}"
    return False, (f"the base answered {base.status} without a server error"
                   + (f" or {failure}" if failure else "") + ": the failure did not reproduce")


def _fixes(fix: ReplayResponse, failure: str | None) -> tuple[bool, str]:
    if not fix.answered:
        return False, f"the fix preview did not answer ({fix.error})"
    if fix.server_error:
        return False, f"the fix still answers {fix.status}"
    if fix.names_exception:
        return False, f"the fix answered {fix.status} but still names {failure}"
    if fix.status is not None and fix.status >= 400:
        return True, (f"the fix answered {fix.status}: the request is now refused rather than "
                      "failing; check that is intended")
    return True, f"the fix answered {fix.status}"


def _failure_name(request: ReplayRequest) -> str | None:
    """The exception's class name as a page would print it, unless it is too generic."""
    if not request.exception:
        return None
    short = re.split(r"[.:\\/]", request.exception.strip())[-1]
    return short if short and short.lower() not in _GENERIC else None


# Headers an HTTP client sends by itself that shape an answer; sent only when production's were.
UNRECORDED_DEFAULTS = frozenset({"accept", "user-agent"})


def _send(request: ReplayRequest, target: Literal["base", "fix"], base_url: str,
          timeout: float, transport: httpx.BaseTransport | None) -> ReplayResponse:
    url = request.target(base_url)
    shown = scrub_text(url)
    started = time.monotonic()
    # trust_env=False: a preview is reached directly, never through a proxy from the environment.
    try:
        with (_client(request, timeout, transport) as client,
              client.stream(request.method, url, headers=request.headers,
                            content=request.content()) as response):
            raw = _read_limited(response)
            status, encoding = response.status_code, response.charset_encoding
    except httpx.TimeoutException:
        return ReplayResponse(target=target, url=shown, seconds=time.monotonic() - started,
                              error=f"no answer within {timeout:g} s")
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        return ReplayResponse(target=target, url=shown, seconds=time.monotonic() - started,
                              error=f"{type(exc).__name__}: {scrub_text(str(exc))[:200]}")
    text = _decode(raw, encoding)
    failure = _failure_name(request)
    named = bool(failure and re.search(rf"(?<!\w){re.escape(failure)}(?!\w)", text))
    return ReplayResponse(target=target, url=shown, status=status,
                          seconds=time.monotonic() - started, excerpt=excerpt(text),
                          names_exception=named)


def _client(request: ReplayRequest, timeout: float,
            transport: httpx.BaseTransport | None) -> httpx.Client:
    """A client that adds no header production did not get: httpx's own `Accept: */*` and
    `User-Agent` would change what an application answers (content negotiation)."""
    client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                          transport=transport)
    recorded = {name.lower() for name in request.headers}
    for name in UNRECORDED_DEFAULTS - recorded:
        del client.headers[name]
    return client


def _read_limited(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= _MAX_READ:
            break
    return b"".join(chunks)[:_MAX_READ]


def _decode(raw: bytes, encoding: str | None) -> str:
    try:
        return raw.decode(encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return raw.decode("utf-8", errors="replace")


def excerpt(text: str) -> str:
    """The start of a response body, whitespace collapsed and scrubbed, at most 500 characters.

    Scrubbing comes before cutting, so a secret cut in two is still recognised."""
    collapsed = " ".join(text.split())[:_SCRUB_CHARS]
    return scrub_text(collapsed)[:_EXCERPT_CHARS]
