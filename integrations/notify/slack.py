"""Slack notifiers: an incoming webhook (`SlackWebhook`, httpx) and a bot posting with
`chat.postMessage` (`SlackBot`, the official slack-sdk `WebClient`).

Both send `worker.notify.render_for_slack`'s message (scrubbed and escaped there) and translate
Slack's answers into suture's two errors. A webhook answers with a short text (`invalid_payload`,
`channel_not_found`, ...) and an HTTP status: 429 and 5xx are transient, any other refusal is
permanent. The Web API answers `{"ok": false, "error": ...}`: `ratelimited` (HTTP 429) and
Slack's own failures are transient, everything else (`invalid_auth`, `channel_not_found`,
`not_in_channel`, ...) permanent. `Retry-After` becomes `TransientError.retry_after`. The
WebClient gets no retry handlers, so it never sleeps or retries inside a worker: the actor's
retry, which honours the hint, does. The webhook URL is itself the secret, so no message here
includes it.
"""

from __future__ import annotations

import http.client
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from worker.egress import Channel, outbound_value
from worker.notify import Notice, render_for_slack
from worker.ports import PermanentError, SutureError, TransientError
from worker.scrub import scrub_text

# Web API errors that are Slack's trouble, not ours (Slack's list of common errors).
TRANSIENT_API_ERRORS = frozenset({"ratelimited", "rate_limited", "internal_error",
                                  "fatal_error", "service_unavailable", "request_timeout"})
_DETAIL_LIMIT = 200


def retry_after(headers: Any) -> float | None:
    """`Retry-After` in seconds (Slack sends whole seconds; an HTTP date is read too)."""
    value = ""
    for name, raw in dict(headers or {}).items():
        if str(name).lower() == "retry-after":
            value = str(raw).strip()
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


class SlackWebhook:
    """Posts notices to one channel through a Slack incoming webhook."""

    name = "slack-webhook"

    def __init__(self, url: str, user_ids: dict[str, str] | None = None, *,
                 timeout: float = 10.0, client: httpx.Client | None = None) -> None:
        self._url = url
        self._user_ids = dict(user_ids or {})
        self._timeout = timeout
        self._client = client  # given: the caller's to close; else one per notice (they are rare)

    def send(self, notice: Notice) -> str:
        """Post `notice`; Slack answers only `ok`, so the notice's key is what identifies it."""
        payload = outbound_value(render_for_slack(notice, self._user_ids), Channel.SLACK)
        try:
            if self._client is not None:
                response = self._client.post(self._url, json=payload)
            else:
                with httpx.Client(timeout=self._timeout) as client:
                    response = client.post(self._url, json=payload)
        except httpx.TimeoutException as exc:
            raise TransientError(f"Slack webhook timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise TransientError(f"Slack webhook unreachable ({type(exc).__name__})") from None
        if response.status_code == 200:
            return notice.key
        raise webhook_error(response)


def webhook_error(response: httpx.Response) -> SutureError:
    """The error for a webhook's refusal, with Slack's error text."""
    status = response.status_code
    detail = response.text.strip()[:_DETAIL_LIMIT] or response.reason_phrase
    if status == 429:
        return TransientError(f"Slack webhook rate-limited: {detail}",
                              retry_after=retry_after(response.headers))
    if status >= 500:
        return TransientError(f"Slack webhook failed with {status}: {detail}")
    return PermanentError(f"Slack webhook refused the message ({status}): {detail}")


class SlackBot:
    """Posts notices to a channel as a Slack app's bot user (`chat.postMessage`)."""

    name = "slack-bot"

    def __init__(self, token: str, channel: str, user_ids: dict[str, str] | None = None, *,
                 base_url: str = "https://slack.com/api/", timeout: float = 10.0) -> None:
        self.channel = channel
        self._user_ids = dict(user_ids or {})
        # No retry handlers: the SDK's default retries a failed connection itself, and its
        # rate-limit handler would sleep for Retry-After inside the worker.
        self._client = WebClient(token=token, base_url=base_url, timeout=int(max(timeout, 1)),
                                 retry_handlers=[])

    def send(self, notice: Notice) -> str:
        """Post `notice`; returns `<channel id>:<ts>`, which names the message in Slack."""
        payload = outbound_value(render_for_slack(notice, self._user_ids), Channel.SLACK)
        try:
            response = self._client.chat_postMessage(
                channel=self.channel, metadata={"event_type": "suture_notice",
                                                "event_payload": {"key": scrub_text(notice.key)}},
                **payload)
        except SlackApiError as exc:
            raise api_error(exc) from None
        except (OSError, http.client.HTTPException) as exc:  # URLError and timeouts included
            raise TransientError(f"Slack API unreachable ({type(exc).__name__})") from None
        except SlackClientError as exc:
            raise PermanentError(f"Slack client refused the request: {exc}") from None
        return f"{response.get('channel') or self.channel}:{response.get('ts')}"


def api_error(exc: SlackApiError) -> SutureError:
    """The error for a Web API refusal (`ok: false`), keyed on Slack's error code."""
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = getattr(response, "data", None)
    code = str(data.get("error") or "") if isinstance(data, dict) else ""
    code = code[:_DETAIL_LIMIT] or f"HTTP {status}"
    if status == 429 or code in ("ratelimited", "rate_limited"):
        return TransientError(f"Slack rate-limited chat.postMessage: {code}",
                              retry_after=retry_after(getattr(response, "headers", None)))
    if status >= 500 or code in TRANSIENT_API_ERRORS:
        return TransientError(f"Slack failed chat.postMessage: {code}")
    return PermanentError(f"Slack refused chat.postMessage: {code}")
