"""The datadog-api-client plumbing under `DatadogSource`: configuration, calls and failures.

`build_configuration` points the client at a Datadog site (or a stand-in) with suture's keys and
the client's own retries off; `call` runs one API operation, waiting out a rate limit that
resets within `max_wait` seconds, and turns every failure into `TransientError` (429, 408, 5xx,
network) or `PermanentError` (other 4xx, malformed replies; `NotFound` for 404). `plain` turns a
response model back into wire-shaped JSON data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

import urllib3
from datadog_api_client import Configuration
from datadog_api_client.exceptions import ApiException, OpenApiException

from integrations.datadog.cursor import format_cursor
from worker.ports import PermanentError, TransientError
from worker.settings import DatadogSettings

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
MAX_ATTEMPTS = 3
T = TypeVar("T")


class NotFound(PermanentError):
    """Datadog answered 404."""


def build_configuration(settings: DatadogSettings) -> Configuration:
    """A client configuration for a Datadog site, or for `settings.host` (a stand-in)."""
    if settings.api_key is None or settings.app_key is None:
        raise PermanentError("datadog polling needs datadog.api_key and datadog.app_key")
    config = Configuration(host=settings.host) if settings.host else Configuration()
    if not settings.host:
        config.server_variables["site"] = settings.site
    # Keys come from suture's settings only, replacing whatever DD_* variables the client read.
    config.api_key = {"apiKeyAuth": settings.api_key.get_secret_value(),
                      "appKeyAuth": settings.app_key.get_secret_value()}
    config.request_timeout = REQUEST_TIMEOUT
    # The client's own retries stay off: they sleep inside urllib3 for the full
    # X-RateLimit-Reset (often a minute) and cannot be observed; `call` waits only briefly
    # and otherwise hands the reset to the caller as `TransientError.retry_after`.
    config.enable_retry = False
    try:
        config.get_host_from_settings(config.server_index, config.server_variables)
    except ValueError as exc:  # `site` is not one of the client's Datadog sites
        raise PermanentError(f"datadog.site: {exc}") from None
    return config


def call(operation: Callable[[], T], *, sleep: Callable[[float], None], max_wait: float) -> T:
    """Run one API operation, waiting out short rate limits and translating failures."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return operation()
        except ApiException as exc:
            error = translate(exc)
            wait = None
            if exc.status == 429 and isinstance(error, TransientError):
                wait = error.retry_after
            if wait is None or wait > max_wait or attempt == MAX_ATTEMPTS:
                raise error from exc
        except urllib3.exceptions.HTTPError as exc:
            raise TransientError(f"datadog unreachable: {exc}") from exc
        except OpenApiException as exc:
            raise PermanentError(f"datadog sent an unexpected response: {exc}") from exc
        log.info("datadog rate limit reached; waiting %.1f s", wait)
        sleep(wait)
    raise AssertionError("unreachable")  # the last attempt always returns or raises


def translate(exc: ApiException) -> TransientError | PermanentError:
    """The suture error for a failed Datadog call, carrying Datadog's `errors` text."""
    status = exc.status or 0
    detail = _errors_text(exc.body)
    if status == 429:
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        reset = _seconds(headers.get("x-ratelimit-reset"))
        bucket = headers.get("x-ratelimit-name", "?")
        return TransientError(f"datadog rate limit {bucket} reached: {detail}", retry_after=reset)
    if status in (0, 408) or status >= 500:
        return TransientError(f"datadog answered {status or 'nothing'}: {detail}")
    if status == 404:
        return NotFound(f"datadog answered 404: {detail}")
    return PermanentError(f"datadog answered {status}: {detail}")


def plain(model: Any) -> dict[str, Any]:
    """A client response model as wire-shaped JSON data (datetimes back to ISO strings)."""
    return _jsonable(model.to_dict())


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return format_cursor(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date | UUID):
        return str(value)
    return value


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _errors_text(body: Any) -> str:
    errors = body.get("errors") if isinstance(body, dict) else body
    if isinstance(errors, list):
        errors = "; ".join(
            str(e.get("detail") or e.get("title") or e) if isinstance(e, dict) else str(e)
            for e in errors
        )
    return str(errors)[:500]
