"""The rule for secrets given by name: `password=...`, `"api_key": "..."`, `Cookie: ...`.

Where a value is assigned to a denylisted name (see `worker.scrub.denylist`) in config, logs,
query strings, JSON, Python reprs or header lines, the value is redacted whatever it looks
like; the name stays so a reader knows what was there. This is also how Datadog API and
application keys are caught: 32 or 40 hex characters alone are indistinguishable from commit
SHAs and ids, so they are only redacted when a name says what they are.

Source lines in stack frames are full of assignments to such names that hold no secret
(`token = get_token()`, `password: str = None`, `self.session = request.session`), so an
unquoted value that is a call, an attribute of a well-known receiver (`self.`, `request.`,
`settings.`, ...) or a type/literal keyword is left alone, and so is the message after an
exception type that merely contains such a name (`TokenExpiredError: ...`). A quoted value is
always redacted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from worker.scrub.denylist import is_denylisted, normalise_key
from worker.scrub.findings import MARKER, Finding

# The name and operator only; the value is read in code so that no text is scanned twice. The
# key starts at a boundary so a long identifier is scanned once, not once per letter.
_NAME = re.compile(
    r"""(?<![A-Za-z0-9_.-])(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)(?:\\?["'])?"""
    r"""[ \t]*(?P<op>=>|:=|[:=])[ \t]*"""
)
_BARE = re.compile(r"""[^\s"'\\&,;<>()\[\]{}]*""")
_QUOTED = {
    '"': re.compile(r'(?:[^"\\\n]|\\.)*'),
    "'": re.compile(r"(?:[^'\\\n]|\\.)*"),
}
_LINE_TAIL = re.compile(r"[^\n\"']*")
_TO_LINE_END = re.compile(r"[^\n]*")
_SCHEME_TAIL = re.compile(r"[ \t]+[^\s\"'\\]+")

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
# `AuthenticationError: invalid password`, `NotAuthenticated: ...`: an exception's type and
# message, not a name and its value, although the type contains a denylisted word.
_EXCEPTION_NAME = re.compile(
    r"[A-Z]\w*(?:Error|Exception|Warning|Failure|Failed|Denied|Expired|Invalid|Required|Missing"
    r"|NotFound|Unauthorized|Forbidden|Timeout|Exceeded)"
    r"|(?:Invalid|Not|No|Missing|Expired|Bad|Unknown)[A-Z]\w*"
)
_SHORT = 100
_AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "negotiate"})
# Header lines whose whole value is secret, not just its first word.
_WHOLE_LINE_KEYS = frozenset({"cookie", "setcookie", "authorization", "proxyauthorization"})


class AssignmentRule:
    """Redacts values assigned to denylisted names."""

    name = "assignment"

    def find(self, text: str) -> Iterator[Finding]:
        """Spans of values assigned to denylisted names in `text`."""
        values = _ValueReader(text)
        for match in _NAME.finditer(text):
            key = match.group("key").rsplit(".", 1)[-1]
            # After `://` a `name:value@` is URL userinfo, which the URL rule redacts keeping the
            # host; read as an assignment its value would swallow the host and path.
            if not is_denylisted(key) or text.endswith("://", 0, match.start("key")):
                continue
            if match.group("op") == ":" and _EXCEPTION_NAME.fullmatch(key):
                continue
            span = values.span(match.end(), normalise_key(key))
            if span is not None:
                yield Finding(kind_for(key), *span)


def _match_end(run: re.Pattern[str], text: str, pos: int) -> int:
    """Where `run` stops matching at `pos`. The runs here all match the empty string, so they
    always match; should one ever not, the run is empty rather than a crash."""
    found = run.match(text, pos)
    return found.end() if found else pos


class _ValueReader:
    """Reads the value starting at a position, remembering runs already measured.

    `a:a:a:...` or `Cookie: cookie: ...` put many names inside one long value; measuring that
    value again for each name would make the rule quadratic in attacker-sized input.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._runs: dict[re.Pattern[str], tuple[int, int]] = {}

    def span(self, pos: int, folded_key: str) -> tuple[int, int] | None:
        text = self.text
        if text.startswith('\\"', pos):  # JSON inside a JSON string: \"...\"
            close = text.find('\\"', pos + 2)
            return self._inner(pos + 2, close if close >= 0 else self._run_end(_TO_LINE_END, pos))
        if text.startswith(('"', "'"), pos):
            # An unterminated string (a truncated log line) is redacted to the end of the line.
            return self._inner(pos + 1, _match_end(_QUOTED[text[pos]], text, pos + 1))
        end = self._run_end(_BARE, pos)
        # Code and scheme words are short; not copying long values keeps this linear.
        value = text[pos:end] if end - pos <= _SHORT else ""
        if end == pos or (value and _looks_like_code(value, text, end)):
            return None
        if folded_key in _WHOLE_LINE_KEYS:
            end = self._run_end(_LINE_TAIL, end)
        elif value.lower() in _AUTH_SCHEMES:
            tail = _SCHEME_TAIL.match(text, end)
            end = tail.end() if tail else end
        return pos, end

    def _inner(self, start: int, end: int) -> tuple[int, int] | None:
        value = self.text[start:end]
        if not value or MARKER.fullmatch(value):
            return None
        return start, end

    def _run_end(self, run: re.Pattern[str], pos: int) -> int:
        """Where the run of `run`'s character class starting at `pos` ends."""
        start, end = self._runs.get(run, (-1, -1))
        if not start <= pos <= end:
            start, end = pos, _match_end(run, self.text, pos)
            self._runs[run] = (start, end)
        return end


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
