"""The rule for secrets given by name: `password=...`, `"api_key": "..."`, `Cookie: ...`.

Where a value is assigned to a denylisted name (see `worker.scrub.denylist`) in config, logs,
query strings, JSON, Python reprs or header lines, the value is redacted whatever it looks
like; the name stays so a reader knows what was there. This is also how Datadog API and
application keys are caught: 32 or 40 hex characters alone are indistinguishable from commit
SHAs and ids, so they are only redacted when a name says what they are.

Source lines in stack frames are full of assignments to such names that hold no secret
(`token = get_token()`, `password: str = None`, `self.session = request.session`), so an
unquoted value that is a call, an attribute of a well-known receiver (`self.`, `request.`,
`settings.`, ...) or a type/literal keyword is left alone.
A quoted value is always redacted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from worker.scrub.denylist import is_denylisted, normalise_key
from worker.scrub.findings import MARKER, Finding

_ASSIGNMENT = re.compile(
    # A lookahead, so matches take no width and `prose: password=x` is seen both as `prose` and
    # as `password`. The key starts at a boundary so a long identifier is scanned once, not once
    # per letter.
    r"""(?=(?<![A-Za-z0-9_.-])(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)(?:\\?["'])?"""
    r"""[ \t]*(?:=>|:=|[:=])[ \t]*"""
    r"""(?:\\"(?P<escaped>(?:(?!\\").)*)\\\""""  # JSON inside a JSON string: \"...\"
    r"""|"(?P<double>(?:[^"\\\n]|\\.)*)\""""
    r"""|'(?P<single>(?:[^'\\\n]|\\.)*)'"""
    r"""|(?P<bare>[^\s"'\\&,;<>()\[\]{}]+)))"""
)

_CODE_WORDS = frozenset(
    {
        *("none", "null", "nil", "true", "false", "undefined"),
        *("str", "string", "bytes", "int", "optional", "any", "object", "dict", "list"),
    }
)
# `self.token`, `settings.API_KEY`, `os.environ`: an attribute of a well-known receiver is code.
_ATTRIBUTE = re.compile(
    r"(?:self|cls|this|request|req|response|resp|settings|config|conf|cfg|os|env|process|ctx"
    r"|context|args|kwargs|options|opts|params|app|current_app|g|client|obj)(?:\.[A-Za-z_]\w*)+"
)
_AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "negotiate"})
# Header lines whose whole value is secret, not just its first word.
_WHOLE_LINE_KEYS = frozenset({"cookie", "setcookie", "authorization", "proxyauthorization"})
_SCHEME_TAIL = re.compile(r"[ \t]+[^\s\"'\\]+")
_LINE_TAIL = re.compile(r"[^\n\"']*")


class AssignmentRule:
    """Redacts values assigned to denylisted names."""

    name = "assignment"

    def find(self, text: str) -> Iterator[Finding]:
        """Spans of values assigned to denylisted names in `text`."""
        for match in _ASSIGNMENT.finditer(text):
            key = match.group("key").rsplit(".", 1)[-1]
            # After `://` a `name:value@` is URL userinfo, which the URL rule redacts keeping the
            # host; read as an assignment its value would swallow the host and path.
            if not is_denylisted(key) or text.endswith("://", 0, match.start("key")):
                continue
            span = _value_span(match, text, normalise_key(key))
            if span is not None:
                yield Finding(kind_for(key), *span)


def _value_span(match: re.Match[str], text: str, folded_key: str) -> tuple[int, int] | None:
    for group in ("escaped", "double", "single"):
        if match.group(group) is not None:
            value = match.group(group)
            if not value or MARKER.fullmatch(value):
                return None
            return match.span(group)
    start, end = match.span("bare")
    value = match.group("bare")
    if _looks_like_code(value, text, end):
        return None
    if folded_key in _WHOLE_LINE_KEYS:
        end = _LINE_TAIL.match(text, end).end()
    elif value.lower() in _AUTH_SCHEMES:
        tail = _SCHEME_TAIL.match(text, end)
        end = tail.end() if tail else end
    return start, end


def _looks_like_code(value: str, text: str, end: int) -> bool:
    return (
        value.lower() in _CODE_WORDS
        or text.startswith("(", end)
        or _ATTRIBUTE.fullmatch(value) is not None
    )


def kind_for(key: str) -> str:
    """The marker kind for a value under `key`: the vendor when the name says it."""
    folded = normalise_key(key)
    if "awssecret" in folded or "secretaccesskey" in folded:
        return "aws-secret-key"
    if folded.startswith(("dd", "datadog")) and (
        "apikey" in folded or "appkey" in folded or "applicationkey" in folded
    ):
        return "datadog-key"
    if "pass" in folded or "pwd" in folded:
        return "password"
    return "secret"
