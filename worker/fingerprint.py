"""The clustering fingerprint: one stable digest per bug, equal across Sentry and Datadog.

A fingerprint hashes the raised exception's type and the innermost application frames, each
reduced to a file identity and a function name with no line or column numbers, so a redeploy
that shifts code, a different container path or a different vendor does not split a cluster.
File identity is the lower-cased base name without code extensions (`/srv/app/main.py`,
`main.py` and `main.pyc` agree; so do `webpack:///./src/index.ts` and `index.js` after a build),
and a function is its last name segment (`Object.fetch` and `fetch` agree: runtimes and SDKs
disagree on receivers and qualifiers, not on the name). Events without frames fall back to the
type plus the message with volatile tokens (ids, numbers, addresses, times) replaced.
"""

from __future__ import annotations

import hashlib
import re

from worker.models import ErrorEvent, ExceptionInfo, Frame
from worker.normalise.inapp import counts_as_app

MAX_FRAMES = 6  # innermost app frames that decide the group; deeper callers vary by entry point
MAX_MESSAGE = 1000
# Every pass removes digits, "@" or length, so a fixed point comes in a few passes; this only
# bounds the work on adversarial text.
_MAX_PASSES = 16

_JVM_PLATFORMS = frozenset({"java", "kotlin", "scala", "groovy", "clojure", "android", "jvm"})
_JVM_FILE = re.compile(r"\.(?:java|kt|kts|scala|groovy|clj)$")
_CODE_EXTENSIONS = frozenset({
    "py", "pyc", "pyo", "pyw", "js", "mjs", "cjs", "jsx", "ts", "tsx", "mts", "cts", "min",
    "bundle", "java", "kt", "kts", "scala", "groovy", "class", "go", "rb",
})
_SCHEME = re.compile(r"^[A-Za-z][\w+.-]*://[^/]*")
_ANONYMOUS = frozenset({"", "?", "<anonymous>", "anonymous", "<unknown>", "(anonymous)"})
_CALL_MARKERS = re.compile(r"^(?:async|new|await)\s+")
_ALIAS = re.compile(r"\s*\[as [^\]]*\]$")
_GO_CLOSURE = re.compile(r"^func\d+$")

# Volatile tokens, most specific first: a UUID must go before its hex and number parts.
_VOLATILE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
     "<uuid>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
                r"(?:Z|[+-]\d{2}:?\d{2})?)?\b"), "<ts>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<ts>"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), "<ip>"),
    (re.compile(r"(?<![\w:])(?=[0-9a-fA-F:]*\d)(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}(?![\w:])"
                r"|(?<![\w:])(?=[0-9a-fA-F:]*\d)[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{1,4})*::"
                r"(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4})*)?(?![\w:])"), "<ip>"),
    (re.compile(r"\b0[xX][0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"(?<=[\w>\]]):\d{2,5}\b"), ":<port>"),
    (re.compile(r"""(['"`])([^'"`\s]*\d[^'"`\s]*)\1"""), r"\1<id>\1"),
    (re.compile(r"(?<!\w)\d+(?:\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def fingerprint(event: ErrorEvent) -> str:
    """A 32-hex digest naming the bug `event` is an occurrence of."""
    primary = event.primary
    kind = exception_kind(primary, event.platform) if primary else ""
    frames = grouping_frames(primary.frames if primary else [])
    if frames:
        parts = ["frames", kind, *(frame_key(frame) for frame in frames)]
    else:
        text = primary.value if primary else (event.message or event.title)
        first_line = text.strip().splitlines()[0] if text.strip() else ""
        parts = ["message", kind, normalise_message(first_line)]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def exception_kind(exception: ExceptionInfo, platform: str | None) -> str:
    """The exception type for grouping.

    Module prefixes go (`builtins.KeyError` is `KeyError`, as Sentry's Python SDK reports it);
    JVM types keep their package (`java.io.IOException`), since there simple names collide.
    """
    module, _, name = exception.type.strip().rpartition(".")
    module = exception.module or module
    if _is_jvm(exception, platform) and module:
        return f"{module}.{name}"
    return name


def _is_jvm(exception: ExceptionInfo, platform: str | None) -> bool:
    if (platform or "").lower() in _JVM_PLATFORMS:
        return True
    return any(_JVM_FILE.search(frame.filename or "") for frame in exception.frames)


def grouping_frames(frames: list[Frame]) -> list[Frame]:
    """The frames that decide the group: the innermost app frames (all frames if none is app).

    Consecutive frames with the same key collapse into one, so recursion depth does not matter.
    """
    chosen = [frame for frame in frames if counts_as_app(frame)] or list(frames)
    collapsed: list[Frame] = []
    for frame in chosen:
        if not collapsed or frame_key(collapsed[-1]) != frame_key(frame):
            collapsed.append(frame)
    return collapsed[-MAX_FRAMES:]


def frame_key(frame: Frame) -> str:
    """`file:function` for a frame, free of paths, line numbers and receiver names."""
    return f"{_file_identity(frame)}:{_function_identity(frame)}"


def _file_identity(frame: Frame) -> str:
    path = frame.abs_path or frame.filename
    if path:
        path = _SCHEME.sub("", path.strip()).split("?")[0].split("#")[0].replace("\\", "/")
        base = path.rstrip("/").rpartition("/")[2]
    else:
        # No file (JVM "Unknown Source"): the class's simple name stands in for `Class.java`.
        base = re.split(r"[./:]", frame.module or "")[-1].partition("$")[0]
    stem, dot, extension = base.rpartition(".")
    while dot and stem and extension.lower() in _CODE_EXTENSIONS:
        base = stem
        stem, dot, extension = base.rpartition(".")
    return base.lower()


def _function_identity(frame: Frame) -> str:
    name = (frame.function or "").strip()
    if frame.module and name.startswith(frame.module + "."):
        name = name[len(frame.module) + 1 :]  # Go SDKs that report `main.handler` in full
    name = _ALIAS.sub("", name)
    while _CALL_MARKERS.match(name):
        name = _CALL_MARKERS.sub("", name, count=1)
    name = name.removesuffix("()")
    segments = name.split(".")
    last = segments[-1]
    if _GO_CLOSURE.match(last) and len(segments) > 1:
        last = f"{segments[-2]}.{last}"  # `handler.func1`: the closure alone says nothing
    return "" if last in _ANONYMOUS else last


def normalise_message(text: str) -> str:
    """`text` with volatile tokens (ids, numbers, hex, UUIDs, IPs, ports, emails, times) replaced.

    Replacements are applied until nothing changes, so the result is a fixed point: normalising
    it again returns it unchanged.
    """
    current = text
    for _ in range(_MAX_PASSES):
        updated = current
        for pattern, placeholder in _VOLATILE:
            updated = pattern.sub(placeholder, updated)
        updated = updated.strip()[:MAX_MESSAGE]
        if updated == current:
            break
        current = updated
    return current
