"""Server-sent events as the model APIs stream them, for the model stand-ins.

`events` renders `(event name or None, JSON object)` pairs as an SSE body; `chat_chunks` splits a
scripted chat-completions message into the chunks OpenAI streams (role, content pieces, the
finish, and a usage chunk when the request asked for one).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from integrations.standins.base import Reply


def events(items: Sequence[tuple[str | None, dict[str, Any]]], done: bool = False) -> Reply:
    """A 200 whose body is the events, each `event:` line (when named) and its `data:` line."""
    lines = []
    for name, data in items:
        if name:
            lines.append(f"event: {name}")
        lines.append(f"data: {json.dumps(data)}")
        lines.append("")
    if done:
        lines += ["data: [DONE]", ""]
    return Reply(200, ("\n".join(lines) + "\n").encode(), content_type="text/event-stream")


def pieces(text: str, size: int = 8) -> list[str]:
    """`text` cut into pieces of `size` characters, as a model streams it."""
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def chat_chunks(envelope: dict[str, Any], include_usage: bool) -> Reply:
    """A chat completion (`envelope`, as the non-streaming API returns it) streamed as chunks."""
    choice = envelope["choices"][0]
    message = choice["message"]
    base = {"id": envelope["id"], "object": "chat.completion.chunk",
            "created": envelope["created"], "model": envelope["model"]}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[None, dict[str, Any]]:
        return None, {**base, "choices": [{"index": 0, "delta": delta,
                                           "finish_reason": finish}]}

    items = [chunk({"role": "assistant", "content": ""})]
    items += [chunk({"content": piece}) for piece in pieces(message.get("content") or "")]
    for number, call in enumerate(message.get("tool_calls") or []):
        items.append(chunk({"tool_calls": [{"index": number, **call}]}))
    items.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        items.append((None, {**base, "choices": [], "usage": envelope["usage"]}))
    return events(items, done=True)
