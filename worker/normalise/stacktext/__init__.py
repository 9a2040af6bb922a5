"""Parsing stack traces that arrive as text (Datadog's `error.stack`, logs, monitor bodies).

`parse_stack` turns a Python, JavaScript, JVM or Go trace into `ExceptionInfo`s with frames
oldest first, the way Sentry's structured events hold them, so events from both vendors share
one shape. The language comes from a hint when the source knows it (a Datadog `source:` tag, a
Sentry platform) and is otherwise sniffed from the text. Parsing never raises: text no parser
understands becomes one frameless exception read from its "Kind: message" first line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from worker.models import ExceptionInfo
from worker.normalise.stacktext.golang import parse_go
from worker.normalise.stacktext.header import unparsed
from worker.normalise.stacktext.java import parse_java
from worker.normalise.stacktext.javascript import parse_javascript
from worker.normalise.stacktext.python import parse_python

__all__ = ["detect_language", "language_of", "parse_stack"]

log = logging.getLogger(__name__)

_PARSERS: dict[str, Callable[[str], list[ExceptionInfo]]] = {
    "python": parse_python,
    "go": parse_go,
    "java": parse_java,
    "javascript": parse_javascript,
}

# Checked in this order: a JVM `at a.B.c(B.java:1)` line would also pass for a bare V8 frame.
_SIGNATURES: list[tuple[str, re.Pattern[str]]] = [
    ("python", re.compile(r'Traceback \(most recent call|^\s+File "[^"]+", line \d+', re.M)),
    ("go", re.compile(r"^goroutine \d+ \[[^\]]*\]:\s*$", re.M)),
    ("java", re.compile(r"^\s*at\s+[\w$./]+\([^)]*\)", re.M)),
    ("javascript", re.compile(r"^\s*at .+:\d+(?::\d+)?\)?\s*$|^[^@\s]*@\S+:\d+:\d+$", re.M)),
]

# Names vendors use for a runtime (Sentry platforms, Datadog `source:` tags, languages).
_ALIASES = {
    "python": "python", "py": "python", "django": "python", "flask": "python",
    "javascript": "javascript", "js": "javascript", "node": "javascript",
    "nodejs": "javascript", "typescript": "javascript", "browser": "javascript",
    "bun": "javascript", "deno": "javascript", "cloudflare": "javascript",
    "java": "java", "kotlin": "java", "scala": "java", "groovy": "java", "jvm": "java",
    "android": "java", "go": "go", "golang": "go",
}


def language_of(name: str | None) -> str | None:
    """The parser language for a vendor's platform or source name, if suture knows it."""
    if not name:
        return None
    lowered = name.strip().lower()
    return _ALIASES.get(lowered) or _ALIASES.get(lowered.split("-")[0].split(".")[0])


def detect_language(text: str) -> str | None:
    """`python`, `go`, `java` or `javascript` when the text looks like such a trace."""
    return next((name for name, signature in _SIGNATURES if signature.search(text)), None)


def parse_stack(text: str, language_hint: str | None = None) -> list[ExceptionInfo]:
    """Exceptions of a text stack trace, causes first, each with frames oldest first.

    Empty text gives []. Text no parser reads gives one exception with no frames.
    """
    if not text or not text.strip():
        return []
    candidates = [language_of(language_hint), detect_language(text)]
    for language in dict.fromkeys(name for name in candidates if name):
        try:
            parsed = _PARSERS[language](text)
        except Exception:  # hostile text must not stop ingestion: keep it unparsed instead
            log.warning("could not parse a %s stack trace; keeping it unparsed", language)
            continue
        if parsed:
            return parsed
    return [unparsed(text)]
