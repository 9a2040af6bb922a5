"""A scripted chat-completions stand-in: a real HTTP server speaking the OpenAI wire format.

Each POST to `/v1/chat/completions` (or `/chat/completions`) answers with the next scripted
assistant message, wrapped as the API does: `id`, `object`, `created`, `model`, one choice with
`finish_reason` ("tool_calls" when the message calls tools, else "stop") and `usage`. A script is
a list of messages (`{"content": ...}` or `{"tool_calls": [...]}`, optionally with a `usage`
override) or a callable `(request_body, index) -> message` for models that loop. When a list
runs out the stand-in answers 409, so a test that scripted too few turns fails loudly. Requests
are recorded (`chat_requests`) so tests can assert the tools schema, the returned tool results
and the Authorization header; `fail_with` injects 429s and 5xx. A request with `"stream": true`
is answered as server-sent chunks, with a usage chunk when `stream_options.include_usage` asks.
The Responses API (`/v1/responses`, whole or streamed) answers from the same script with the
message's text, and `GET /v1/models` lists the model. Given `api_key`, any request without
`Authorization: Bearer <api_key>` gets a 401, as the real API does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from integrations.standins.base import Call, Reply, StandIn
from integrations.standins.sse import chat_chunks, events

Script = list[dict[str, Any]] | Callable[[dict[str, Any], int], dict[str, Any]]


def tool_call(name: str, arguments: dict[str, Any] | str, call_id: str | None = None,
              ) -> dict[str, Any]:
    """A tool call as the API sends it; a string `arguments` is sent as is (even if broken)."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id or f"call_{name}", "type": "function",
            "function": {"name": name, "arguments": text}}


class ChatStandIn(StandIn):
    """A chat-completions server whose answers come from a script."""

    def __init__(self, script: Script, model: str = "stand-in-model", port: int = 0,
                 api_key: str | None = None) -> None:
        super().__init__(port)
        self.script = script
        self.model = model
        self.api_key = api_key
        self._turn = 0
        self.chat_requests: list[Call] = []  # requests the script answered (not faults)
        self._turn_lock = threading.Lock()
        for path in (r"/v1/chat/completions", r"/chat/completions"):
            self.route("POST", path, self._complete)
        for path in (r"/v1/responses", r"/responses"):
            self.route("POST", path, self._respond)
        for path in (r"/v1/models", r"/models"):
            self.route("GET", path, self._models)

    def dispatch(self, call: Call) -> Reply:
        """Refuse a call without the key (when one is set), else route it."""
        if self.api_key is not None \
                and call.headers.get("authorization") != f"Bearer {self.api_key}":
            with self._lock:
                self.calls.append(call)
            return Reply(401, {"error": {"message": "Incorrect API key provided",
                                         "type": "invalid_request_error",
                                         "code": "invalid_api_key"}})
        return super().dispatch(call)

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
        envelope = self._envelope(body, message, index)
        if body.get("stream") is True:
            options = body.get("stream_options")
            return chat_chunks(envelope, isinstance(options, dict)
                               and options.get("include_usage") is True)
        return Reply(200, envelope)

    def _respond(self, call: Call) -> Reply:
        """The Responses API: the next scripted message's text as one output message."""
        body = call.json()
        if not isinstance(body, dict) or "input" not in body:
            return Reply(400, {"error": {"message": "input is required",
                                         "type": "invalid_request_error"}})
        with self._turn_lock:
            index = self._turn
            self._turn += 1
            self.chat_requests.append(call)
        scripted = self._next({"messages": [body["input"]]}, index)
        if scripted is None:
            return Reply(409, {"error": {"message": f"script has no turn {index}",
                                         "type": "invalid_request_error"}})
        text = str(scripted.get("content") or "")
        usage = dict(scripted.get("usage") or {"input_tokens": len(json.dumps(body["input"])) // 4,
                                               "output_tokens": max(1, len(text) // 4)})
        usage.setdefault("total_tokens", usage["input_tokens"] + usage["output_tokens"])
        response = {"id": f"resp_standin_{index}", "object": "response", "status": "completed",
                    "model": body.get("model") or self.model, "usage": usage,
                    "output": [{"type": "message", "id": f"msg_{index}", "role": "assistant",
                                "status": "completed",
                                "content": [{"type": "output_text", "text": text}]}]}
        if body.get("stream") is not True:
            return Reply(200, response)
        return events([
            ("response.created", {"type": "response.created",
                                  "response": {**response, "status": "in_progress",
                                               "usage": None, "output": []}}),
            ("response.output_text.delta", {"type": "response.output_text.delta",
                                            "output_index": 0, "delta": text}),
            ("response.completed", {"type": "response.completed", "response": response})])

    def _models(self, call: Call) -> Reply:
        return Reply(200, {"object": "list", "data": [
            {"id": self.model, "object": "model", "created": 1_767_225_600,
             "owned_by": "stand-in"}]})

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
