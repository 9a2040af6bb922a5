"""A scripted Anthropic Messages stand-in: a real HTTP server speaking Anthropic's wire format.

Each `POST /v1/messages` answers with the next scripted message (`{"content": text}`, optionally
with a `usage` override), whole or, when the request sets `"stream": true`, as the API's
server-sent events: `message_start` (input tokens), `content_block_start`/`_delta`/`_stop`,
`message_delta` (the output tokens) and `message_stop`. `GET /v1/models` lists the model.
Like the real API it wants `anthropic-version`, and given `api_key`, `x-api-key: <api_key>`:
without them it answers 400 and 401. Requests are kept in `message_requests`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from integrations.standins.base import Call, Reply, StandIn
from integrations.standins.sse import events, pieces

Script = list[dict[str, Any]] | Callable[[dict[str, Any], int], dict[str, Any]]


def _error(status: int, kind: str, message: str) -> Reply:
    return Reply(status, {"type": "error", "error": {"type": kind, "message": message}})


class MessagesStandIn(StandIn):
    """An Anthropic Messages server whose answers come from a script."""

    def __init__(self, script: Script, model: str = "claude-stand-in", port: int = 0,
                 api_key: str | None = None) -> None:
        super().__init__(port)
        self.script = script
        self.model = model
        self.api_key = api_key
        self.message_requests: list[Call] = []
        self._turn = 0
        self._turn_lock = threading.Lock()
        self.route("POST", r"/v1/messages", self._message)
        self.route("GET", r"/v1/models", self._models)

    def dispatch(self, call: Call) -> Reply:
        """Refuse a call without the version or the key, as the API does, else route it."""
        if "anthropic-version" not in call.headers:
            with self._lock:
                self.calls.append(call)
            return _error(400, "invalid_request_error", "anthropic-version header is required")
        if self.api_key is not None and call.headers.get("x-api-key") != self.api_key:
            with self._lock:
                self.calls.append(call)
            return _error(401, "authentication_error", "invalid x-api-key")
        return super().dispatch(call)

    def _message(self, call: Call) -> Reply:
        body = call.json()
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) \
                or not isinstance(body.get("max_tokens"), int):
            return _error(400, "invalid_request_error", "messages and max_tokens are required")
        with self._turn_lock:
            index = self._turn
            self._turn += 1
            self.message_requests.append(call)
        scripted = (dict(self.script(body, index)) if callable(self.script)
                    else dict(self.script[index]) if index < len(self.script) else None)
        if scripted is None:
            return _error(409, "invalid_request_error", f"script has no turn {index}")
        text = str(scripted.get("content") or "")
        usage = dict(scripted.get("usage") or {
            "input_tokens": len(json.dumps(body["messages"])) // 4,
            "output_tokens": max(1, len(text) // 4)})
        message = {"id": f"msg_standin_{index}", "type": "message", "role": "assistant",
                   "model": body.get("model") or self.model,
                   "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                   "stop_sequence": None, "usage": usage}
        if body.get("stream") is not True:
            return Reply(200, message)
        start = {**message, "content": [], "stop_reason": None,
                 "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1}}
        items: list[tuple[str | None, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": start}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}})]
        items += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                           "delta": {"type": "text_delta", "text": piece}})
                  for piece in pieces(text)]
        items += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
                  ("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                     "usage": {"output_tokens": usage["output_tokens"]}}),
                  ("message_stop", {"type": "message_stop"})]
        return events(items)

    def _models(self, call: Call) -> Reply:
        return Reply(200, {"data": [{"type": "model", "id": self.model,
                                     "display_name": "Stand-in",
                                     "created_at": "2026-01-01T00:00:00Z"}],
                           "has_more": False, "first_id": self.model, "last_id": self.model})
