"""python-gitlab set up for a worker, and GitLab's failures mapped onto suture's two errors.

python-gitlab obeys 429s by default: `Gitlab.http_request` has `obey_rate_limit=True` and
`max_retries=10`, so a throttled call sleeps for `Retry-After` (up to ten times) inside the
worker, and `retry_transient_errors=True` would do the same for 5xx. `WorkerGitlab` forces both
off on every request, so a refusal surfaces at once and the actor retries later with the hint.
python-gitlab's exceptions carry no headers, so the client keeps the headers of the last failed
response of each thread (`failure_headers`) for `translate_gitlab_error` to read `Retry-After`
and `RateLimit-Reset` from.

    401, 403, 404, other 4xx      → PermanentError (the token, its scopes, the project)
    408, 429, 5xx, network, junk  → TransientError (with `retry_after` when GitLab gave one)
"""

from __future__ import annotations

import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any

import gitlab
import requests
from gitlab import exceptions as gl_exc

from worker.ports import PermanentError, SutureError, TransientError

# GitLab.com throttles per minute; a 429 without any hint is worth that wait.
DEFAULT_RATE_LIMIT_WAIT = 60.0

_REASONS = {
    401: "the token is missing, wrong, expired or revoked",
    403: "the token lacks the scope or role this needs (a project access token with the "
         "Developer role and the `api` and `write_repository` scopes is enough)",
    404: "not found, or not visible to the token",
}


class WorkerGitlab(gitlab.Gitlab):
    """A `gitlab.Gitlab` that never sleeps on a rate limit or retries a failed request."""

    def __init__(self, url: str, private_token: str, *, timeout: float = 15) -> None:
        session = requests.Session()
        session.hooks["response"].append(self._keep_failure)
        self._failures = threading.local()
        super().__init__(url, private_token=private_token, timeout=timeout, per_page=100,
                         retry_transient_errors=False, keep_base_url=True, session=session)

    def http_request(self, verb: str, path: str, *args: Any, **kwargs: Any
                     ) -> requests.Response:
        """python-gitlab's request, with its rate-limit and transient-error retries off."""
        kwargs["obey_rate_limit"] = False
        kwargs["retry_transient_errors"] = False
        self._failures.headers = {}
        return super().http_request(verb, path, *args, **kwargs)

    def failure_headers(self) -> dict[str, str]:
        """Headers (lower-cased names) of this thread's last failed response."""
        return dict(getattr(self._failures, "headers", {}))

    def _keep_failure(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.status_code >= 400:
            self._failures.headers = {k.lower(): v for k, v in response.headers.items()}


def translate_gitlab_error(exc: Exception, action: str,
                           headers: dict[str, str] | None = None) -> SutureError:
    """Map a python-gitlab or network failure to `TransientError` or `PermanentError`;
    `headers` are those of the failed response (see `WorkerGitlab.failure_headers`)."""
    if isinstance(exc, SutureError):
        return exc
    if isinstance(exc, requests.RequestException | gl_exc.GitlabParsingError):
        return TransientError(f"GitLab unreachable while {action}: {type(exc).__name__}: {exc}")
    if isinstance(exc, gl_exc.RedirectError):
        return PermanentError(f"GitLab redirected while {action} (is base_url right, https "
                              f"and without a trailing path?): {exc.error_message}")
    if not isinstance(exc, gl_exc.GitlabError) or exc.response_code is None:
        return TransientError(f"GitLab failed while {action}: {type(exc).__name__}: {exc}")
    status, found = exc.response_code, dict(headers or {})
    text = f"GitLab answered {status} while {action}: {_message(exc)}"
    if status == 429:
        return TransientError(text, retry_after=retry_after(found, DEFAULT_RATE_LIMIT_WAIT),
                              answered=True)
    if status >= 500 or status == 408:
        return TransientError(text, retry_after=retry_after(found), answered=True)
    reason = _REASONS.get(status)
    return PermanentError(f"{text} ({reason})" if reason else text)


def retry_after(headers: dict[str, str], default: float | None = None) -> float | None:
    """Seconds to wait: `Retry-After` (seconds or an HTTP date), else until
    `RateLimit-Reset` (epoch seconds), else `default`."""
    value = headers.get("retry-after", "").strip()
    if value:
        try:
            return max(float(value), 0.0)
        except ValueError:
            try:
                return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
            except (TypeError, ValueError):
                pass
    reset = headers.get("ratelimit-reset", "").strip()
    if reset.isdigit():
        return max(int(reset) - time.time(), 0.0) + 1.0  # the reset second itself is unclear
    return default


def _message(exc: gl_exc.GitlabError) -> str:
    """GitLab's own words (`message` may be a string, a list or a field → reasons map)."""
    message: Any = exc.error_message
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    if isinstance(message, list):
        message = "; ".join(str(item) for item in message)
    elif isinstance(message, dict):
        message = "; ".join(f"{key} {_reasons(value)}" for key, value in message.items())
    text = " ".join(str(message or "no message").split())
    return text[:500]


def _reasons(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
