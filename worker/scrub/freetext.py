"""Rules for secrets written in prose rather than assigned: `login failed for bob with password
Hunter2-x`, `the api key is 3f9a...`, `secret 8e1c...`.

A word that names a secret, optionally followed by `is`/`was`/`of`, and then a value: the value
is redacted when it does not read like a word of the sentence. A password-like value has a digit
or a symbol, or mixed case beyond a capital first letter ("password Hunter2!" yes, "password
required" and "Password Reset" no). A key-like value after `api key`, `secret`, `access key`
or `client secret` must be at least 16 characters mixing letters and digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from worker.scrub.findings import MARKER, Finding

_PASSWORD = re.compile(
    r"(?i)(?<![A-Za-z0-9_])(?:password|passwd|passphrase|passcode|pwd)"
    r"(?:\s+(?:is|was|of|for \S{1,64} (?:is|was)|set to|changed to))?[ \t]*[:=]?[ \t]+"
    r"""["'`]?(?P<value>[^\s"'`,;<>()\[\]{}\\]{3,128})"""
)
_KEY = re.compile(
    r"(?i)(?<![A-Za-z0-9_])(?:api[ _-]?key|secret(?:[ _-]key)?|access[ _-]?key|client[ _-]?secret"
    r"|private[ _-]?key|auth[ _-]?token|session[ _-]?key)"
    r"(?:\s+(?:is|was|of|=|:))?[ \t]+(?P<value>[A-Za-z0-9_\-./+=~]{16,256})"
)
_TRAILING = ".,;:!?)"
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[A-Za-z]")
# `_` and `.` are in identifiers (`get_password`, `self.password`), so they do not count.
_SYMBOL = re.compile(r"[^A-Za-z0-9_.]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z_.]*")


def _password_like(value: str) -> bool:
    if MARKER.fullmatch(value) or len(value) < 4 or _IDENTIFIER.fullmatch(value) and "_" in value:
        return False
    if _DIGIT.search(value) or _SYMBOL.search(value):
        return True
    rest = value[1:]
    return rest != rest.lower() and rest != rest.upper()


def _key_like(value: str) -> bool:
    return bool(_DIGIT.search(value) and _LETTER.search(value)) and not MARKER.search(value)


class FreeTextSecretRule:
    """Finds passwords and keys named in a sentence rather than assigned."""

    name = "free-text-secret"

    def find(self, text: str) -> Iterator[Finding]:
        """Spans of prose passwords (kind `password`) and keys (kind `secret`) in `text`."""
        for pattern, kind, accept in ((_PASSWORD, "password", _password_like),
                                      (_KEY, "secret", _key_like)):
            for match in pattern.finditer(text):
                value = match.group("value")
                trimmed = value.rstrip(_TRAILING)
                if trimmed and accept(trimmed) and not text.startswith("(", match.end()):
                    start = match.start("value")
                    yield Finding(kind, start, start + len(trimmed))


FREE_TEXT = FreeTextSecretRule()
