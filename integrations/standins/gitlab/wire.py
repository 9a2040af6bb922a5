"""GitLab's wire conventions the stand-in shares across routes: error bodies, offset
pagination headers, and the faults GitLab really produces.

Error bodies follow GitLab's API helpers (`lib/api/helpers.rb`): `{"message": "404 Project Not
Found"}`, `{"message": "401 Unauthorized"}`, validation failures as `{"message": [..]}` or
`{"message": {"field": [..]}}`, and Grape's parameter errors as `{"error": "..."}`. A throttled
request is Rack::Attack's plain-text "Retry later" with `Retry-After` and `RateLimit-*`
headers. Pagination is GitLab's offset style: `x-page`, `x-per-page`, `x-total`,
`x-total-pages`, `x-next-page`, `x-prev-page` and a `Link` header.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from integrations.standins.base import Call, Reply

T = TypeVar("T")

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
RATE_LIMIT = 2000  # GitLab.com's authenticated API limit per minute


def error(status: int, message: Any, headers: dict[str, str] | None = None) -> Reply:
    """GitLab's `{"message": ...}` error."""
    return Reply(status, {"message": message}, headers=dict(headers or {}))


def not_found(what: str = "") -> Reply:
    """`404 <What> Not Found`, or GitLab's bare `404 Not found`."""
    return error(404, f"404 {what} Not Found" if what else "404 Not found")


def unauthorized() -> Reply:
    """A missing or wrong token."""
    return error(401, "401 Unauthorized")


def bad_request(text: str) -> Reply:
    """A Grape parameter error (`{"error": "..."}`)."""
    return Reply(400, {"error": text})


def rate_limited(retry_after: int) -> Reply:
    """Rack::Attack's answer to a throttled request."""
    reset = int(time.time()) + retry_after
    headers = {"Retry-After": str(retry_after), "RateLimit-Name": "throttle_authenticated_api",
               "RateLimit-Limit": str(RATE_LIMIT), "RateLimit-Observed": str(RATE_LIMIT + 1),
               "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset),
               "RateLimit-ResetTime": time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                    time.gmtime(reset))}
    return Reply(429, b"Retry later\n", headers=headers, content_type="text/plain")


def server_error(status: int) -> Reply:
    """A 5xx: GitLab's JSON 500, or the HTML page its proxy answers with for the others."""
    if status == 500:
        return error(500, "500 Internal Server Error")
    page = f"<html><body><h1>{status}</h1>GitLab is not responding</body></html>"
    return Reply(status, page.encode(), content_type="text/html")


def _int_arg(call: Call, name: str, default: int) -> int:
    try:
        return int(call.arg(name) or default)
    except ValueError:
        return default


def paginate(call: Call, base: str, items: Sequence[T]) -> tuple[list[T], dict[str, str]]:
    """The page of `items` the call asked for, and GitLab's pagination headers."""
    per_page = min(max(_int_arg(call, "per_page", DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
    page = max(_int_arg(call, "page", 1), 1)
    pages = max(math.ceil(len(items) / per_page), 1)

    def link(number: int, rel: str) -> str:
        query = {key: values[0] for key, values in call.query.items()}
        query.update(page=str(number), per_page=str(per_page))
        return f'<{base}{call.path}?{urlencode(query)}>; rel="{rel}"'

    links = [link(page - 1, "prev")] if 1 < page <= pages else []
    links += [link(page + 1, "next")] if page < pages else []
    links += [link(1, "first"), link(pages, "last")]
    headers = {
        "x-page": str(page), "x-per-page": str(per_page), "x-total": str(len(items)),
        "x-total-pages": str(pages), "x-next-page": str(page + 1) if page < pages else "",
        "x-prev-page": str(page - 1) if 1 < page <= pages else "", "Link": ", ".join(links),
    }
    start = (page - 1) * per_page
    return list(items[start:start + per_page]), headers
