"""What a webhook body must be before suture parses it, and parsing it strictly.

Checked in order of cost: the content type (415), the nesting depth by a byte scan that skips
strings (400, before `json.loads` can recurse or a serialiser overflow its stack later), UTF-8
that decodes strictly (400: `json.loads` on bytes would let encoded surrogates through), JSON
without NaN, Infinity or numbers that overflow to infinity (400: PostgreSQL's json refuses them),
escaped lone surrogates (400: they cannot be stored as UTF-8), and an object at the top (422).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from worker.web.rejection import Rejection

JSON_TYPES = {"application/json", "text/json"}
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_OPEN = frozenset(b"[{")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def check_content_type(value: str | None) -> None:
    """Refuse (415) a body declared as anything but UTF-8 JSON; an absent type is taken as JSON."""
    if value is None or not value.strip():
        return
    media, _, params = value.partition(";")
    media = media.strip().lower()
    if media not in JSON_TYPES and not (media.startswith("application/")
                                        and media.endswith("+json")):
        raise Rejection(415, f"content type {media[:60]!r} is not accepted: send application/json")
    charset = re.search(r"charset\s*=\s*\"?([A-Za-z0-9._-]+)", params)
    if charset and charset.group(1).lower().replace("_", "-") not in {"utf-8", "utf8"}:
        raise Rejection(415, f"charset {charset.group(1)[:30]!r} is not accepted: send UTF-8")


def too_deep(body: bytes, limit: int) -> bool:
    """Whether arrays and objects in `body` nest deeper than `limit` (strings are skipped)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # cannot nest deeper than it has brackets: most bodies end here
    bare = _STRING.sub(b"", body) if b'"' in body else body
    depth = 0
    for byte in bare.translate(None, _NOT_BRACKETS):
        if byte in _OPEN:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(body: bytes, max_depth: int) -> dict[str, Any]:
    """The JSON object in `body`, or a `Rejection` saying why not."""
    if too_deep(body, max_depth):
        raise Rejection(400, f"body is not JSON suture accepts: nested deeper than {max_depth}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejection(400, f"body is not UTF-8: byte {exc.start} is invalid") from None
    try:
        payload = json.loads(text, parse_float=_finite, parse_constant=_no_constants)
    except RecursionError:  # only with a depth limit above the interpreter's own
        raise Rejection(400, "body is not JSON suture accepts: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, NaN, infinities, over-long integers
        raise Rejection(400, f"body is not JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(payload):
        raise Rejection(400, "body is not JSON suture accepts: an escaped lone surrogate")
    if not isinstance(payload, dict):
        raise Rejection(422, "body must be a JSON object")
    return payload


def _has_lone_surrogate(payload: Any) -> bool:
    # Escaped pairs were joined by the parser; anything left cannot be encoded as UTF-8.
    try:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
