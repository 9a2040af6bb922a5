"""Token usage read from model responses, in OpenAI's and Anthropic's wire formats, whole or
streamed as server-sent events.

Where the usage sits differs by API: chat completions report `usage.prompt_tokens` and
`usage.completion_tokens` (streamed: in the last chunk, when `stream_options.include_usage` is
set); the Responses API reports `usage.input_tokens`/`output_tokens` (streamed: in the
`response.completed` event's `response`); Anthropic's Messages API reports
`usage.input_tokens`/`output_tokens` plus cache tokens (streamed: `message_start` carries the
message's usage and each `message_delta` the output count so far). Every count seen is kept at
its largest, which reads all three correctly. A response without usage is estimated from its
size (four bytes a token), so a server that reports nothing still spends the budget.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

_INPUT_FIELDS = ("prompt_tokens", "input_tokens", "cache_creation_input_tokens",
                 "cache_read_input_tokens")
_OUTPUT_FIELDS = ("completion_tokens", "output_tokens")
_MAX_LINE = 4 * 1024 * 1024  # an SSE line longer than this is not read for usage
BYTES_PER_TOKEN = 4


class Usage(BaseModel):
    """Tokens one call used; `reported` is False when they were estimated from sizes."""

    input_tokens: int = 0
    output_tokens: int = 0
    reported: bool = False

    @property
    def total(self) -> int:
        """Input and output tokens together."""
        return self.input_tokens + self.output_tokens


def estimate(request_bytes: int, response_bytes: int) -> Usage:
    """Usage guessed from sizes, for a response that reported none."""
    return Usage(input_tokens=request_bytes // BYTES_PER_TOKEN,
                 output_tokens=response_bytes // BYTES_PER_TOKEN, reported=False)


class UsageReader:
    """Collects usage from a response body fed in pieces (`feed`), JSON or SSE."""

    def __init__(self, streaming: bool) -> None:
        self.streaming = streaming
        self._fields: dict[str, int] = {}
        self._buffer = bytearray()
        self._skipping = False  # inside an over-long SSE line
        self._whole = bytearray()

    def feed(self, chunk: bytes) -> None:
        """Read another piece of the body."""
        if not self.streaming:
            if len(self._whole) + len(chunk) <= _MAX_LINE:
                self._whole += chunk
            return
        self._buffer += chunk
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > _MAX_LINE:
                    self._buffer.clear()
                    self._skipping = True
                return
            line = bytes(self._buffer[:end])
            del self._buffer[:end + 1]
            if self._skipping:
                self._skipping = False
                continue
            self._line(line.strip())

    def usage(self) -> Usage | None:
        """What the response reported, or None when it reported nothing."""
        if not self.streaming:
            self._object(_json(bytes(self._whole)))
        elif self._buffer and not self._skipping:
            self._line(bytes(self._buffer).strip())
            self._buffer.clear()
        if not self._fields:
            return None
        # `prompt_tokens` and `input_tokens` name one count (a server may send both); the
        # cache counts are Anthropic's, apart from its `input_tokens`.
        fields = self._fields
        return Usage(input_tokens=max(fields.get("prompt_tokens", 0),
                                      fields.get("input_tokens", 0))
                     + fields.get("cache_creation_input_tokens", 0)
                     + fields.get("cache_read_input_tokens", 0),
                     output_tokens=max(self._fields.get(name, 0) for name in _OUTPUT_FIELDS),
                     reported=True)

    def _line(self, line: bytes) -> None:
        if not line.startswith(b"data:"):
            return
        data = line[5:].strip()
        if data and data != b"[DONE]":
            self._object(_json(data))

    def _object(self, value: Any) -> None:
        if not isinstance(value, dict):
            return
        self._usage(value.get("usage"))
        for inner in ("response", "message"):  # Responses events; Anthropic's message_start
            nested = value.get(inner)
            if isinstance(nested, dict):
                self._usage(nested.get("usage"))

    def _usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        for name in (*_INPUT_FIELDS, *_OUTPUT_FIELDS):
            count = usage.get(name)
            if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                self._fields[name] = max(self._fields.get(name, 0), count)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None
