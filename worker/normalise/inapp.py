"""Deciding whether a stack frame is the application's own code or a library's.

Text stack traces carry no in-app flag, and Sentry leaves it out when an SDK could not decide, so
suture applies one set of path and module rules everywhere: installed packages
(site-packages, node_modules, the Go module cache), language runtimes (the Python standard
library, `node:internal`, `java.*`, the Go runtime) and interpreter internals are library code.
The fingerprint reuses the same rules so frames from different sources are judged alike.
"""

from __future__ import annotations

import re

from worker.models import Frame

# Paths of installed third-party code and standard libraries, across the four runtimes.
_LIBRARY_PATH = re.compile(
    r"""
    (?:^|[/\\])(?:site-packages|dist-packages|node_modules)(?:[/\\]|$)
    | (?:^|[/\\])lib(?:64)?[/\\]python\d+(?:\.\d+)?[/\\]     # CPython's standard library
    | ^<frozen\b                                              # importlib internals
    | ^node:                                                  # node:internal/..., node:fs
    | ^internal[/\\]                                          # older Node internals
    | (?:^|[/\\])go[/\\]src[/\\]                              # GOROOT, e.g. /usr/local/go/src/
    | (?:^|[/\\])src[/\\]runtime[/\\][^/\\]+\.go$                 # the Go runtime elsewhere
    | (?:^|[/\\])pkg[/\\]mod[/\\]                             # the Go module cache
    | (?:^|[/\\])gems[/\\]
    """,
    re.VERBOSE,
)

# JVM classes of the platform and of test runners.
_LIBRARY_MODULE = re.compile(
    r"^(?:java|javax|jdk|sun|com\.sun|kotlin|kotlinx|scala|org\.junit|junit)\.", re.IGNORECASE
)


def is_library_path(path: str | None) -> bool:
    """True when `path` points into installed packages, a runtime's library or its internals."""
    return bool(path) and bool(_LIBRARY_PATH.search(path or ""))


def is_library_module(module: str | None) -> bool:
    """True for JVM platform and test-runner classes (`java.`, `javax.`, `sun.`, `org.junit.`)."""
    return bool(module) and bool(_LIBRARY_MODULE.match(module or ""))


def looks_like_app(path: str | None = None, module: str | None = None) -> bool:
    """The default in-app decision for a frame whose source gave none."""
    return not (is_library_path(path) or is_library_module(module))


def counts_as_app(frame: Frame) -> bool:
    """A frame is app code when its source says so and no library rule says otherwise."""
    if not frame.in_app:
        return False
    return looks_like_app(frame.abs_path or frame.filename, frame.module)
