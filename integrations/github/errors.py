"""How every GitHub adapter meets GitHub's failures: the mapping of PyGithub and network errors
onto the port errors, and the client retry policy that never sleeps inside a worker.

Rate limits (primary: 403/429 with `x-ratelimit-remaining: 0`; secondary: a `retry-after`
header or GitHub's "secondary rate limit" message), 5xx, 408 and network failures become
`TransientError` with a `retry_after` hint (`retry-after`, else the primary reset, else GitHub's
advice of a minute); anything else GitHub refuses (bad credentials, 404, 422) becomes
`PermanentError` carrying GitHub's own words.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime

import requests
from github import GithubException
from github.Requester import Requester
from urllib3.util.retry import Retry

from worker.ports import PermanentError, SutureError, TransientError
from worker.titles import one_line

# GitHub's advice when a secondary rate limit comes without `retry-after`: wait at least a minute.
SECONDARY_RATE_LIMIT_WAIT = 60.0

# Only idempotent GETs are retried here, briefly, on 5xx and failed connects; POSTs never are
# (a retried create could file a second issue), rate limits never are (403/429 are not in the
# list and `Retry-After` is not honoured, so nothing sleeps for a minute inside a worker).
DEFAULT_RETRY = Retry(
    total=2, connect=2, read=0, status=2,
    status_forcelist=(500, 502, 503, 504),
    allowed_methods=frozenset({"GET"}),
    backoff_factor=0.25,
    respect_retry_after_header=False,
    raise_on_status=False,  # hand the last 5xx to PyGithub, which keeps status and headers
)


def translate_github_error(exc: Exception, action: str) -> SutureError:
    """Map a PyGithub or network failure to `TransientError` or `PermanentError`."""
    if not isinstance(exc, GithubException):
        return TransientError(f"GitHub unreachable while {action}: {type(exc).__name__}: {exc}")
    headers = {str(k).lower(): str(v) for k, v in (exc.headers or {}).items()}
    message = github_message(exc)
    text = f"GitHub answered {exc.status} while {action}: {message}"
    if _is_rate_limited(exc.status, headers, message):
        return TransientError(text, retry_after=_rate_limit_wait(headers, message, exc),
                              answered=True)
    if exc.status >= 500 or exc.status == 408:
        return TransientError(text, retry_after=_retry_after(headers), answered=True)
    return PermanentError(text)


@contextmanager
def github_errors(action: str) -> Iterator[None]:
    """Raise any PyGithub or network failure inside the block as a port error."""
    try:
        yield
    except (GithubException, requests.RequestException) as exc:
        raise translate_github_error(exc, action) from exc


def github_message(exc: GithubException) -> str:
    """GitHub's own words: `message` plus the reasons in `errors[]`, kept short."""
    data = exc.data if isinstance(exc.data, dict) else {}
    message = str(data.get("message") or exc.message or "no message")
    reasons = []
    for item in data.get("errors") or []:
        if isinstance(item, dict):
            reasons.append(str(item.get("message") or " ".join(
                str(item[key]) for key in ("resource", "field", "code") if item.get(key))))
        else:
            reasons.append(str(item))
    if reasons:
        message += f" ({'; '.join(reasons)})"
    return message[:500]


def _is_rate_limited(status: int, headers: dict[str, str], message: str) -> bool:
    if status == 429:
        return True
    return status == 403 and (
        headers.get("x-ratelimit-remaining") == "0"
        or "retry-after" in headers
        or Requester.isRateLimitError(message)
    )


def _rate_limit_wait(headers: dict[str, str], message: str, exc: GithubException) -> float:
    """Seconds to wait: `retry-after`, else until `x-ratelimit-reset`, else GitHub's minute."""
    retry_after = _retry_after(headers)
    if retry_after is not None:
        return retry_after
    wait = getattr(exc, "wait", None)  # RateLimitExceededExceedsMaxWait knows it already
    if isinstance(wait, int | float):
        return float(wait)
    reset = headers.get("x-ratelimit-reset", "")
    if headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
        return max(int(reset) - time.time(), 0.0) + 1.0  # the reset second itself is unclear
    return SECONDARY_RATE_LIMIT_WAIT


def _retry_after(headers: dict[str, str]) -> float | None:
    """`Retry-After` in seconds (it may also be an HTTP date); None when absent or unreadable."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


MAX_TITLE = 256  # GitHub rejects longer issue and pull request titles
MAX_BODY = 65_536  # and longer bodies ("body is too long")


def fit_title(title: str, fallback: str) -> str:
    """`title` on one line within GitHub's limit, cut at a word (`fallback` when it is empty)."""
    return one_line(title, MAX_TITLE, fallback)


def fit_body(body: str, marker: str) -> str:
    """`body` within GitHub's limit, always carrying `marker` (cut before it when too long)."""
    tail = "" if marker in body else f"\n\n{marker}\n"
    if len(body) + len(tail) <= MAX_BODY:
        return body + tail
    note = "\n\n[truncated]\n"
    return body[: MAX_BODY - len(note) - len(marker) - 2] + note + marker + "\n"
