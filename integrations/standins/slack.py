"""A Slack stand-in: an incoming webhook and the Web API's `chat.postMessage`, over real HTTP.

- `POST /services/T000/B000/XXXX` (`webhook_url`) takes a JSON message (or a form field
  `payload` holding one) and answers `ok` as text/plain, as Slack does; a body that is not a JSON
  object is `400 invalid_payload`, a message with neither `text` nor `blocks` is `400 no_text`,
  malformed blocks `400 invalid_blocks`, any other webhook path `404 no_service` (where each
  string comes from, and which are ours, is in `recorded/SOURCES.md`).
- `POST /api/chat.postMessage` (`api_url`, a WebClient's `base_url`) takes JSON or a form, the
  token as `Authorization: Bearer` (or a `token` field), and answers HTTP 200 with
  `{"ok": true, "channel", "ts", "message"}` shaped after the recorded example
  (`recorded/slack/chat.postMessage.response.json`), or `{"ok": false, "error": ...}`:
  `not_authed`, `invalid_auth`, `channel_not_found`, `no_text`, `invalid_blocks`.
- `fail_ratelimited(retry_after)` answers the next request(s) as Slack's rate limiter does: HTTP
  429 with `Retry-After`, the Web API's body `{"ok": false, "error": "ratelimited"}` (as
  slackapi/python-slack-sdk's own mock server sends it); the webhook's 429 body is not documented,
  so it is ours (`rate_limited`).

`messages()` lists what was posted, in order. The blocks checks are a few of Block Kit's
documented limits (text objects of 1 to 3000 characters, at most 50 blocks), enough to catch a
renderer that overflows them.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any
from urllib.parse import parse_qs

from integrations.standins.base import Call, Reply, StandIn, recorded

TOKEN = "xoxb-0000000000-standin"
WEBHOOK_PATH = "/services/T000/B000/XXXX"
CHANNELS = {"C0SUTURE01": "suture-alerts", "C0GENERAL1": "general"}
WEBHOOK_CHANNEL = "C0SUTURE01"
MAX_BLOCKS = 50
TEXT_LIMIT = 3000


class SlackStandIn(StandIn):
    """A Slack workspace with a few channels, one incoming webhook and one bot token."""

    def __init__(self, token: str = TOKEN, channels: dict[str, str] | None = None,
                 port: int = 0) -> None:
        super().__init__(port)
        self.token = token
        self.channels = dict(CHANNELS if channels is None else channels)
        self._posted: list[dict[str, Any]] = []
        self._ratelimits: list[int] = []
        self._seq = 0
        self._state = threading.Lock()
        self.route("POST", r"/services/.+", self._webhook)
        self.route("POST", r"/api/chat\.postMessage", self._post_message)

    @property
    def webhook_url(self) -> str:
        """The incoming webhook's URL."""
        return self.url + WEBHOOK_PATH

    @property
    def api_url(self) -> str:
        """The Web API's base URL (`WebClient(base_url=...)`)."""
        return self.url + "/api/"

    def fail_ratelimited(self, retry_after: int = 30, times: int = 1) -> None:
        """Answer the next `times` requests with 429 and `Retry-After: retry_after`."""
        with self._state:
            self._ratelimits.extend([retry_after] * times)

    def messages(self) -> list[dict[str, Any]]:
        """Posted messages, oldest first: `via` ("webhook" or "api"), `channel` (an id), `ts`,
        `text`, `blocks` and the whole `payload` as received."""
        with self._state:
            return copy.deepcopy(self._posted)

    # -- webhook --------------------------------------------------------------------------

    def _webhook(self, call: Call) -> Reply:
        limited = self._take_ratelimit()
        if limited is not None:
            return _text(429, "rate_limited", {"Retry-After": str(limited)})
        if call.path != WEBHOOK_PATH:
            return _text(404, "no_service")
        payload = _webhook_payload(call)
        if payload is None:
            return _text(400, "invalid_payload")
        error = _message_error(payload)
        if error:
            return _text(400, error)
        self._record("webhook", WEBHOOK_CHANNEL, payload)
        return _text(200, "ok")

    # -- Web API --------------------------------------------------------------------------

    def _post_message(self, call: Call) -> Reply:
        limited = self._take_ratelimit()
        if limited is not None:
            return Reply(429, {"ok": False, "error": "ratelimited"},
                         {"Retry-After": str(limited)})
        args = _api_args(call)
        if args is None:
            return _api_error("invalid_json")
        token = _bearer(call) or str(args.get("token") or "")
        if not token:
            return _api_error("not_authed")
        if token != self.token:
            return _api_error("invalid_auth")
        channel = self._channel_id(str(args.get("channel") or ""))
        if channel is None:
            return _api_error("channel_not_found")
        if isinstance(args.get("blocks"), str):
            try:
                args["blocks"] = json.loads(args["blocks"])
            except ValueError:
                return _api_error("invalid_blocks")
        error = _message_error(args)
        if error:
            return _api_error(error)
        ts = self._record("api", channel, args)
        message = copy.deepcopy(recorded("slack/chat.postMessage.response.json")["message"])
        message.pop("attachments", None)
        message.update(text=args.get("text") or "", ts=ts)
        if args.get("blocks"):
            message["blocks"] = args["blocks"]
        return Reply(200, {"ok": True, "channel": channel, "ts": ts, "message": message})

    def _channel_id(self, channel: str) -> str | None:
        if channel in self.channels:
            return channel
        name = channel.removeprefix("#")
        return next((cid for cid, known in self.channels.items() if known == name), None)

    # -- state ----------------------------------------------------------------------------

    def _take_ratelimit(self) -> int | None:
        with self._state:
            return self._ratelimits.pop(0) if self._ratelimits else None

    def _record(self, via: str, channel: str, payload: dict[str, Any]) -> str:
        with self._state:
            self._seq += 1
            ts = f"{int(time.time())}.{self._seq:06d}"
            self._posted.append({"via": via, "channel": channel, "ts": ts,
                                 "text": payload.get("text"), "blocks": payload.get("blocks"),
                                 "payload": copy.deepcopy(payload)})
            return ts


def _text(status: int, body: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, body, headers or {}, content_type="text/plain; charset=utf-8")


def _api_error(error: str) -> Reply:
    return Reply(200, {"ok": False, "error": error})  # the Web API answers errors with 200


def _bearer(call: Call) -> str:
    scheme, _, token = call.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _webhook_payload(call: Call) -> dict[str, Any] | None:
    raw = call.body.decode("utf-8", "replace")
    if call.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raw = (parse_qs(raw).get("payload") or [""])[0]
    try:
        payload = json.loads(raw)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _api_args(call: Call) -> dict[str, Any] | None:
    if call.headers.get("content-type", "").startswith("application/json"):
        try:
            args = call.json()
        except ValueError:
            return None
        return args if isinstance(args, dict) else None
    form = parse_qs(call.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in form.items()}


def _message_error(payload: dict[str, Any]) -> str | None:
    text, blocks = payload.get("text"), payload.get("blocks")
    if not (isinstance(text, str) and text.strip()) and not blocks and not payload.get(
            "attachments"):
        return "no_text"
    if blocks is not None and not _blocks_valid(blocks):
        return "invalid_blocks"
    return None


def _blocks_valid(blocks: Any) -> bool:
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return False
    return all(isinstance(block, dict) and isinstance(block.get("type"), str)
               and all(_text_valid(obj) for obj in _text_objects(block)) for block in blocks)


def _text_objects(value: Any) -> list[dict[str, Any]]:
    """Every text object (`{"type": "mrkdwn" | "plain_text", "text": ...}`) inside `value`."""
    if isinstance(value, list):
        return [obj for item in value for obj in _text_objects(item)]
    if not isinstance(value, dict):
        return []
    if value.get("type") in ("mrkdwn", "plain_text"):
        return [value]
    return [obj for item in value.values() for obj in _text_objects(item)]


def _text_valid(obj: dict[str, Any]) -> bool:
    text = obj.get("text")
    return isinstance(text, str) and 1 <= len(text) <= TEXT_LIMIT
