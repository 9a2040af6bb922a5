"""Readiness of a preview: GET its health URL until it answers with a status below 500, the
process behind it ends, or the time allowed runs out.

"Answers" means a whole HTTP response, never just a connection: a served sandbox port accepts
from the start (the relay holds the listener before the application listens, and closes each
connection it cannot carry on), so only a reply shows the application is up. Any status below
500 counts, since a 404 on "/" still shows an application that is up and routing; a 5xx means
it is up but broken, or a proxy in front of it cannot reach it yet, and is waited out like a
refused connection. Redirects are not followed: a 3xx is an answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

INTERVAL = 0.2  # seconds between looks
REQUEST_SECONDS = 5.0  # how long one look may wait for its answer


@dataclass
class Readiness:
    """How the wait ended: ready or not, after how long, what the last look saw, and the exit
    code of the process behind the URL if it ended."""

    ready: bool
    seconds: float
    last: str
    exit_code: int | None = None


def wait_ready(url: str, *, seconds: float, exit_code: Callable[[], int | None] | None = None,
               local: bool = True, interval: float = INTERVAL,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> Readiness:
    """Look at `url` until it answers below 500 or `seconds` pass; stop at once when
    `exit_code` reports that the process serving it has ended. `local` URLs (the sandbox's
    served port) never go through the host's proxy variables."""
    started = clock()
    deadline = started + seconds
    last = "no answer yet"
    with httpx.Client(follow_redirects=False, trust_env=not local) as client:
        while True:
            code = exit_code() if exit_code else None
            if code is not None:
                return Readiness(False, clock() - started, last, code)
            remaining = deadline - clock()
            if remaining <= 0:
                return Readiness(False, clock() - started, last)
            try:
                response = client.get(url, timeout=min(REQUEST_SECONDS, remaining))
            except httpx.HTTPError as error:
                last = _describe(error)
            else:
                last = f"HTTP {response.status_code}"
                if response.status_code < 500:
                    return Readiness(True, clock() - started, last)
            sleep(max(min(interval, deadline - clock()), 0.0))


def _describe(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.ConnectError):
        return "the connection was refused"
    if isinstance(error, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(error, httpx.RemoteProtocolError):
        return "the connection closed without an answer"
    return f"{type(error).__name__}: {error}"
