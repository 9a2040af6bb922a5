"""A scripted chat-completions stand-in: a real HTTP server speaking the OpenAI wire format.

Each POST to `/v1/chat/completions` (or `/chat/completions`) answers with the next scripted
assistant message, wrapped as the API does: `id`, `object`, `created`, `model`, one choice with
`finish_reason` ("tool_calls" when the message calls tools, else "stop") and `usage`. A script is
a list of messages (`{"content": ...}` or `{"tool_calls": [...]}`, optionally with a `usage`
override) or a callable `(request_body, index) -> message` for models that loop. When a list
runs out the stand-in answers 409, so a test that scripted too few turns fails loudly. Requests
are recorded (`chat_requests`) so tests can assert the tools schema, the returned tool results
and the Authorization header; `fail_with` injects 429s and 5xx.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from integrations.standins.base import Call, Reply, StandIn

Script = list[dict[str, Any]] | Callable[[dict[str, Any], int], dict[str, Any]]


def tool_call(name: str, arguments: dict[str, Any] | str, call_id: str | None = None,
              ) -> dict[str, Any]:
    """A tool call as the API sends it; a string `arguments` is sent as is (even if broken)."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id or f"call_{name}", "type": "function",
            "function": {"name": name, "arguments": text}}


class ChatStandIn(StandIn):
    """A chat-completions server whose answers come from a script."""

    def __init__(self, script: Script, model: str = "stand-in-model", port: int = 0) -> None:
        super().__init__(port)
        self.script = script
        self.model = model
        self._turn = 0
        self.chat_requests: list[Call] = []  # requests the script answered (not faults)
        self._turn_lock = threading.Lock()
        for path in (r"/v1/chat/completions", r"/chat/completions"):
            self.route("POST", path, self._complete)

    def fail_with(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next `times` requests with `status` and an OpenAI-style error body."""
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        kind = ("rate_limit_exceeded" if status == 429 else "server_error" if status >= 500
                else "invalid_request_error")
        self.fail_next(Reply(status, {"error": {"message": f"injected {status}", "type": kind,
                                                "code": kind}}, headers), times)

    def _complete(self, call: Call) -> Reply:
        body = call.json()
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return Reply(400, {"error": {"message": "messages is required",
                                         "type": "invalid_request_error"}})
        with self._turn_lock:
            index = self._turn
            self._turn += 1
            self.chat_requests.append(call)
        message = self._next(body, index)
        if message is None:
            return Reply(409, {"error": {"message": f"script has no turn {index}",
                                         "type": "invalid_request_error"}})
        return Reply(200, self._envelope(body, message, index))

    def _next(self, body: dict[str, Any], index: int) -> dict[str, Any] | None:
        if callable(self.script):
            return dict(self.script(body, index))
        return dict(self.script[index]) if index < len(self.script) else None

    def _envelope(self, body: dict[str, Any], scripted: dict[str, Any],
                  index: int) -> dict[str, Any]:
        usage = scripted.pop("usage", None)
        message: dict[str, Any] = {"role": "assistant", "content": scripted.get("content")}
        if scripted.get("tool_calls"):
            message["tool_calls"] = scripted["tool_calls"]
        if usage is None:  # a deterministic count: four characters a token
            prompt = len(json.dumps(body["messages"])) // 4
            completion = max(1, len(json.dumps(message)) // 4)
            usage = {"prompt_tokens": prompt, "completion_tokens": completion,
                     "total_tokens": prompt + completion}
        return {
            "id": f"chatcmpl-standin-{index}", "object": "chat.completion",
            "created": 1_767_225_600 + index, "model": body.get("model") or self.model,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": "tool_calls" if "tool_calls" in message else "stop"}],
            "usage": usage,
        }
