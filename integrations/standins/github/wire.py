"""GitHub REST wire conventions the stand-in shares across routes.

Error bodies (`message`, `documentation_url`, `status`), `Link`-header pagination with
`per_page`/`page`, and the primary rate-limit buckets behind the `x-ratelimit-*` headers that
GitHub sends on every response. Rate-limit resets are epoch seconds, as GitHub sends them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from integrations.standins.base import Call, Reply

T = TypeVar("T")

DOCS = "https://docs.github.com/rest"
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
SECONDARY_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID 0000:0000."
)


def error(status: int, message: str, doc: str = DOCS, errors: list[dict[str, Any]] | None = None,
          headers: dict[str, str] | None = None) -> Reply:
    """An error reply in GitHub's shape."""
    body: dict[str, Any] = {"message": message, "documentation_url": doc, "status": str(status)}
    if errors is not None:
        body["errors"] = errors
    return Reply(status, body, headers=dict(headers or {}))


def not_found(doc: str = DOCS) -> Reply:
    """GitHub's 404, which it also returns for repositories the token cannot see."""
    return error(404, "Not Found", doc)


def validation_failed(errors: list[dict[str, Any]], doc: str = DOCS) -> Reply:
    """GitHub's 422 "Validation Failed" with its `errors` list."""
    return error(422, "Validation Failed", doc, errors)


def _int_arg(call: Call, name: str, default: int) -> int:
    try:
        return int(call.arg(name) or default)
    except ValueError:
        return default


def paginate(call: Call, base: str, items: Sequence[T]) -> tuple[list[T], dict[str, str]]:
    """The page of `items` the call asked for, and the `Link` header for its neighbours."""
    per_page = min(max(_int_arg(call, "per_page", DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
    page = max(_int_arg(call, "page", 1), 1)
    last = max(math.ceil(len(items) / per_page), 1)

    def link(number: int, rel: str) -> str:
        query = {key: values[0] for key, values in call.query.items()}
        query["page"] = str(number)
        return f'<{base}{call.path}?{urlencode(query)}>; rel="{rel}"'

    links = []
    if page > 1:
        links += [link(min(page - 1, last), "prev"), link(1, "first")]
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    start = (page - 1) * per_page
    return list(items[start:start + per_page]), ({"Link": ", ".join(links)} if links else {})


@dataclass
class Bucket:
    """One primary rate-limit resource."""

    limit: int
    window: int
    remaining: int = 0
    reset: int = 0

    def refill_if_due(self, now: float) -> None:
        """Start a new window once the reset time has passed."""
        if now >= self.reset:
            self.remaining = self.limit
            self.reset = int(now) + self.window

    def headers(self, resource: str) -> dict[str, str]:
        """The `x-ratelimit-*` headers describing this bucket."""
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-used": str(self.limit - self.remaining),
            "x-ratelimit-resource": resource,
        }

    def as_json(self) -> dict[str, int]:
        """This bucket as `GET /rate_limit` reports it."""
        used = self.limit - self.remaining
        return {"limit": self.limit, "used": used, "remaining": self.remaining, "reset": self.reset}


class RateLimits:
    """Primary rate limits per resource: `core` 5000 per hour, `search` 30 per minute."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets = {"core": Bucket(5000, 3600), "search": Bucket(30, 60)}

    def charge(self, resource: str) -> tuple[bool, dict[str, str]]:
        """Spend one request of `resource`; False (and the headers) when none was left."""
        with self._lock:
            bucket = self._buckets[resource]
            bucket.refill_if_due(time.time())
            allowed = bucket.remaining > 0
            if allowed:
                bucket.remaining -= 1
            return allowed, bucket.headers(resource)

    def headers(self, resource: str) -> dict[str, str]:
        """The current `x-ratelimit-*` headers of `resource`, without spending a request."""
        with self._lock:
            bucket = self._buckets[resource]
            bucket.refill_if_due(time.time())
            return bucket.headers(resource)

    def set_remaining(self, resource: str, remaining: int) -> None:
        """Force the remaining count of `resource` for the current window (0: exhausted)."""
        with self._lock:
            bucket = self._buckets[resource]
            bucket.refill_if_due(time.time())
            bucket.remaining = remaining

    def snapshot(self) -> dict[str, Any]:
        """The `GET /rate_limit` body."""
        with self._lock:
            now = time.time()
            for bucket in self._buckets.values():
                bucket.refill_if_due(now)
            resources = {name: bucket.as_json() for name, bucket in self._buckets.items()}
        return {"resources": resources, "rate": resources["core"]}
