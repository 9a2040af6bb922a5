"""The HTTP layer for Sentry's REST API: authentication, errors, rate limits and pagination.

`SentryClient` sends authenticated GETs and POSTs to `/api/0/...` paths on one base URL (sentry.io,
a region host, a self-hosted origin or a stand-in) and turns every failure into `TransientError` or
`PermanentError`. Sentry sends no `Retry-After`: a 429 waits until `X-Sentry-Rate-Limit-Reset`
(epoch seconds) when that is at most `max_wait` away, and otherwise raises `TransientError` with
`retry_after` so the calling actor retries later instead of blocking a worker. A 429 means Sentry
did nothing, so a rate-limited POST is retried like a GET. Pages are followed through the `Link`
header's `rel="next"` entry while it says `results="true"`; only its cursor is used, so the bearer
token never travels to a host named in a response.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from worker.ports import PermanentError, TransientError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
RESET_HEADER = "X-Sentry-Rate-Limit-Reset"
REMAINING_HEADER = "X-Sentry-Rate-Limit-Remaining"


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint and the cursor of the next one (None on the last page)."""

    items: list[Any]
    next_cursor: str | None


class SentryNotFound(PermanentError):
    """Sentry answered 404: the organisation, issue or event does not exist (or is not visible)."""


class SentryClient:
    """Authenticated GETs and POSTs against Sentry's REST API with rate-limit handling.

    `sleep` and `clock` are injectable so tests never wait for real; `max_wait` caps how long one
    call may block on a rate limit, and `max_attempts` how many 429s one call absorbs.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_wait: float = 5.0,
        max_attempts: int = 4,
        backoff: float = 1.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._owns_http = client is None
        self._http = client if client is not None else httpx.Client(timeout=DEFAULT_TIMEOUT)
        self._sleep = sleep
        self._clock = clock
        self.max_wait = max_wait
        self.max_attempts = max_attempts
        self.backoff = backoff
        # Set when a response reports an exhausted budget: the next call waits until then.
        self._resume_at: float | None = None

    def close(self) -> None:
        """Close the connection pool if this client created it."""
        if self._owns_http:
            self._http.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET `path` (e.g. `/api/0/organizations/acme/issues/`) and return the parsed JSON."""
        return _json(self._send(path, params or {}))

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST `body` as JSON to `path` and return the parsed JSON answer."""
        return _json(self._send(path, {}, body))

    def put(self, path: str, body: dict[str, Any]) -> Any:
        """PUT `body` as JSON to `path` (an update) and return the parsed JSON answer."""
        return _json(self._send(path, {}, body, method="PUT"))

    def pages(
        self, path: str, params: dict[str, Any] | None = None, *, max_pages: int = 10
    ) -> Iterator[Page]:
        """Yield each page of a list endpoint, following `rel="next"` for up to `max_pages` pages.

        The last page yielded has a `next_cursor` when Sentry still had more to give.
        """
        query = dict(params or {})
        for _ in range(max_pages):
            response = self._send(path, query)
            items = _json(response)
            if not isinstance(items, list):
                kind = type(items).__name__
                raise PermanentError(f"sentry {path}: expected a JSON list, got {kind}")
            page = Page(items, next_cursor(response))
            yield page
            if page.next_cursor is None:
                return
            query["cursor"] = page.next_cursor

    def _send(
        self, path: str, params: dict[str, Any], body: dict[str, Any] | None = None,
        method: str = "POST",
    ) -> httpx.Response:
        url = f"{self.base_url}/{path.lstrip('/')}"
        attempt = 0
        while True:
            self._wait_for_budget()
            response = self._request(url, params, body, method)
            if response.status_code != 429:
                self._note_budget(response)
                return _checked(response, path)
            wait = self._rate_limit_wait(response, attempt)
            attempt += 1
            if wait > self.max_wait or attempt >= self.max_attempts:
                raise TransientError(f"sentry rate limit on {path}: {_detail(response)}", wait)
            log.info("sentry rate limit on %s; waiting %.1f s", path, wait)
            self._sleep(wait)

    def _request(
        self, url: str, params: dict[str, Any], body: dict[str, Any] | None,
        method: str = "POST",
    ) -> httpx.Response:
        try:
            if body is not None:
                return self._http.request(method, url, params=params, json=body,
                                          headers=self._headers)
            return self._http.get(url, params=params, headers=self._headers)
        except httpx.TimeoutException as exc:
            raise TransientError(f"sentry timed out: {exc}") from exc
        except httpx.TransportError as exc:  # connect, read and protocol errors
            raise TransientError(f"sentry unreachable: {exc}") from exc

    def _rate_limit_wait(self, response: httpx.Response, attempt: int) -> float:
        reset = _number(response.headers.get(RESET_HEADER))
        until_reset = None if reset is None else reset - self._clock()
        # A reset already past (clock skew) would mean retrying at once: back off instead.
        return until_reset if until_reset and until_reset > 0 else self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        return self.backoff * 2**attempt

    def _note_budget(self, response: httpx.Response) -> None:
        remaining = _number(response.headers.get(REMAINING_HEADER))
        reset = _number(response.headers.get(RESET_HEADER))
        self._resume_at = reset if remaining is not None and remaining <= 0 else None

    def _wait_for_budget(self) -> None:
        # The previous answer said the budget is spent: asking now would only earn a 429.
        if self._resume_at is None:
            return
        wait = self._resume_at - self._clock()
        if wait > self.max_wait:
            raise TransientError("sentry rate-limit budget exhausted", wait)
        self._resume_at = None
        if wait > 0:
            self._sleep(wait)


def next_cursor(response: httpx.Response) -> str | None:
    """The cursor of the `rel="next"` link when it has results, else None."""
    link = response.links.get("next")
    if not link or link.get("results", "").lower() != "true":
        return None
    if link.get("cursor"):
        return link["cursor"]
    values = parse_qs(urlsplit(link.get("url", "")).query).get("cursor")
    return values[0] if values else None


def _checked(response: httpx.Response, path: str) -> httpx.Response:
    status = response.status_code
    if status < 300:
        return response
    message = f"sentry {path}: HTTP {status}: {_detail(response)}"
    if status >= 500:
        raise TransientError(message)
    if status == 404:
        raise SentryNotFound(message)
    raise PermanentError(message)


def _detail(response: httpx.Response) -> str:
    """Sentry's `detail` message, or the start of the body when it is not the usual JSON."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return response.text[:200]


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise PermanentError(f"sentry answered non-JSON: {response.text[:200]!r}") from exc


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
