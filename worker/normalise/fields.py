"""Reading typed values out of untrusted vendor dictionaries, for every normaliser.

Vendor payloads arrive as parsed JSON from webhooks, polls and files; any key may be missing or of
the wrong type. The small readers here turn such values into what `worker.models` wants (strings,
ints, UTC datetimes, flat string dictionaries) or raise `PayloadError` with a reason a person can
act on. They never evaluate what they read: values stay data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

# Used when a document carries no time at all (for example a bare Sentry `entries` list). A fixed
# instant rather than "now" keeps normalisation a pure function: the same document always gives
# the same event, so re-ingesting a file dedupes instead of recording a new occurrence.
MISSING_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)

# Epoch values above this are milliseconds, not seconds (year 33658 in seconds).
_MILLIS_THRESHOLD = 1e12


class PayloadError(ValueError):
    """A vendor document is malformed or is not a shape suture understands; the text says why."""


def require_dict(value: Any, where: str) -> dict[str, Any]:
    """`value` when it is a JSON object, else PayloadError naming `where`."""
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be a JSON object, got {type(value).__name__}")
    return value


def optional_dict(value: Any, where: str) -> dict[str, Any]:
    """`value` as a dict; an absent (None) value is an empty dict, any other type is an error."""
    return {} if value is None else require_dict(value, where)


def text(value: Any) -> str | None:
    """A scalar as a string (numbers included, since ids arrive as either); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        return str(value)
    return None


def first_text(*values: Any) -> str | None:
    """The first value that reads as a non-empty string."""
    for value in values:
        found = text(value)
        if found:
            return found
    return None


def integer(value: Any) -> int | None:
    """An int from an int or a numeric string; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def parse_time(value: Any) -> datetime | None:
    """A UTC datetime from epoch seconds or milliseconds (number or string) or ISO 8601."""
    if isinstance(value, bool) or value is None:
        return None
    number = _as_number(value)
    if number is not None:
        seconds = number / 1000 if abs(number) >= _MILLIS_THRESHOLD else number
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def first_time(*values: Any) -> datetime:
    """The first value that parses as a time, else `MISSING_TIMESTAMP`."""
    for value in values:
        parsed = parse_time(value)
        if parsed is not None:
            return parsed
    return MISSING_TIMESTAMP


def content_id(*parts: Any) -> str:
    """A stable 32-hex id for documents that carry none: a digest of their canonical JSON."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def pairs_to_dict(value: Any) -> dict[str, str]:
    """Flatten tag or header shapes into a string dict.

    Accepts a dict, a list of `[key, value]` pairs, or a list of `{"key":..., "value":...}`
    objects (Sentry's REST tags). Entries that are none of these are skipped, not fatal.
    """
    if isinstance(value, Mapping):
        items: list[tuple[Any, Any]] = list(value.items())
    elif isinstance(value, list):
        items = [pair for entry in value if (pair := _pair(entry)) is not None]
    else:
        return {}
    result: dict[str, str] = {}
    for key, item in items:
        key_text, item_text = text(key), _value_text(item)
        if key_text is not None and item_text is not None:
            result.setdefault(key_text, item_text)
    return result


def _pair(entry: Any) -> tuple[Any, Any] | None:
    if isinstance(entry, list | tuple) and len(entry) == 2:
        return entry[0], entry[1]
    if isinstance(entry, Mapping) and "key" in entry:
        return entry.get("key"), entry.get("value")
    return None


def _value_text(value: Any) -> str | None:
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return text(value)


def query_text(value: Any) -> str | None:
    """A query string from a string, a dict, or a list of pairs; None when empty."""
    if isinstance(value, str):
        return value.lstrip("?") or None
    pairs = pairs_to_dict(value)
    return urlencode(pairs) if pairs else None


def body_text(value: Any) -> str | None:
    """A request body kept as text: strings as they are, structures as JSON."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)
