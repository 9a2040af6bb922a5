"""Detection through encodings: every rule again on URL-decoded, HTML- and JSON-unescaped text,
and on base64-looking runs.

`phone=%2B44+20+7946+0958`, `alice&#64;example.com`, `alice\\u0040example.com` and a base64'd
`{"password": ...}` hide a value from rules that read the text as it is. A candidate run (a token
with `%xx` or `+`, an HTML entity, a JSON escape, or 16+ base64 characters) is decoded; when the
decoded text holds anything the plain rules find, the whole run is redacted, since positions in
the decoded text do not map back to the encoded one. Decoded base64 is only scanned when it is
UTF-8 and mostly printable, which keeps hashes, ids and random tokens out. Encodings inside
encodings are looked through too, up to `LAYERS` deep: a card number URL-encoded twice
(`4111%25201111...`), a URL-encoded form inside base64.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from collections.abc import Callable, Iterator, Sequence
from urllib.parse import unquote_plus

from worker.scrub.findings import Finding, Rule, detect

# Each candidate may only start where a token starts (the lookbehind), so a long token without
# the encoding is scanned once, not once per position. URL runs stop at `/`, so a path segment
# or a query value is redacted alone.
_URL = r"[^\s&=;,\"'<>?#/\[\]]"
_URL_RUN = re.compile(rf"(?<!{_URL}){_URL}*?(?:%[0-9A-Fa-f]{{2}}|\+){_URL}*")
_HTML = r"[^\s<>\"']"
_HTML_RUN = re.compile(
    rf"(?<!{_HTML}){_HTML}*?&(?:#[0-9]{{1,7}}|#[xX][0-9A-Fa-f]{{1,6}}|[A-Za-z]{{2,8}});{_HTML}*"
)
_JSON = r"(?:[^\s\"'\\<>]|\\u[0-9A-Fa-f]{4}|\\[\\/bfnrt])"
_JSON_RUN = re.compile(rf"(?<![^\s\"'<>]){_JSON}*?\\u[0-9A-Fa-f]{{4}}{_JSON}*")
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/_=-])")
_PRINTABLE_SHARE = 0.9
LAYERS = 3  # how many encodings, one inside another, are decoded to find what they hide


_MIXED_ALNUM_PLUS = re.compile(r"(?=[^a-z]*[a-z])(?=[^A-Z]*[A-Z])[A-Za-z0-9+]+")


def url_decoded(run: str) -> str | None:
    """`run` URL-decoded; a leading `+` (a phone number's) is kept as a plus. A run of mixed
    case letters, digits and `+` without `%` is a piece of base64, left to the base64 decoder
    (decoding each piece of a large blob would cost a scan per piece)."""
    if "%" not in run and _MIXED_ALNUM_PLUS.fullmatch(run):
        return None
    if run.startswith("+"):
        return "+" + unquote_plus(run[1:])
    return unquote_plus(run)


def html_decoded(run: str) -> str | None:
    """`run` with HTML entities and character references resolved."""
    return html.unescape(run)


def json_decoded(run: str) -> str | None:
    """`run` with JSON string escapes resolved, None when they are not valid JSON escapes."""
    try:
        decoded = json.loads(f'"{run}"')
    except (ValueError, RecursionError):
        return None
    return decoded if isinstance(decoded, str) else None


def base64_decoded(run: str) -> str | None:
    """`run` decoded as base64 (standard or URL-safe) when that gives mostly printable UTF-8."""
    body = run.rstrip("=").replace("-", "+").replace("_", "/")
    if len(body) % 4 == 1:
        return None
    try:
        text = base64.b64decode(body + "=" * (-len(body) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    printable = sum(1 for char in text if char.isprintable() or char in "\n\r\t")
    return text if text and printable / len(text) >= _PRINTABLE_SHARE else None


_DECODERS: tuple[tuple[re.Pattern[str], Callable[[str], str | None]], ...] = (
    (_URL_RUN, url_decoded),
    (_HTML_RUN, html_decoded),
    (_JSON_RUN, json_decoded),
    (_BASE64_RUN, base64_decoded),
)


class DecodedRule:
    """Runs `rules` over decoded forms of encoded runs; a run hiding a finding is redacted."""

    name = "decoded"

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)

    def find(self, text: str) -> Iterator[Finding]:
        """Spans of encoded runs in `text` whose decoded form holds a secret."""
        for kind, start, end in self._hiding(text, LAYERS):
            yield Finding(kind, start, end)

    def _hiding(self, text: str, layers: int) -> Iterator[tuple[str, int, int]]:
        """(kind, start, end) of each encoded run in `text` that hides a secret, decoding
        `layers` encodings deep at most."""
        for pattern, decode in _DECODERS:
            for match in pattern.finditer(text):
                run = match.group()
                decoded = decode(run)
                if decoded is None or decoded == run:
                    continue
                found = detect(decoded, self.rules)
                kind = found[0].kind if found else None
                if kind is None and layers > 1:
                    kind = next((deeper for deeper, _, _ in self._hiding(decoded, layers - 1)),
                                None)
                if kind is not None:
                    yield kind, *match.span()
