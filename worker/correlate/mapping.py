"""Mapping stack frames to files of the repository (pure).

A frame names its code in several ways: a runtime path (`/app/shop/cart.py`, `webpack:///./src/
a.ts`, `C:\\build\\x.go`), a relative file name, a Python module or a Java class. Each is cleaned
into path components and matched against `git ls-files` by the longest common suffix, so
container and build prefixes never matter. Library code (site-packages, node_modules, the JDK,
Go's runtime) and frames matching no file are kept, marked, and never blamed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from worker.correlate.models import MappedFrame
from worker.models import Frame

_LIBRARY = re.compile(
    r"(^|/)(site-packages|dist-packages|node_modules|bower_components|\.venv|venv|virtualenv|"
    r"vendor/bundle|pkg/mod|jdk|jre)/|(^|/)lib/python\d(\.\d+)?/|^<[^>]*>$|^node:|"
    r"(^|/)go/src/(runtime|net|internal|sync|reflect)/|^(java|javax|jdk|sun|kotlin)/|"
    r"(^|/)usr/(local/)?lib/")
_RUNTIME_MODULE = re.compile(r"^(java|javax|jdk|sun|com\.sun|kotlin|scala)\.")
# The host only: in `webpack:///src/a.ts` the host is empty and `src` belongs to the path.
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]*", re.IGNORECASE)
_DRIVE = re.compile(r"^/?[A-Za-z]:/")
_CODE_SUFFIXES = (".py", ".pyc", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".java", ".kt",
                  ".go", ".rb", ".php", ".cs", ".rs")
_COMPILED_TO_SOURCE = {".js": (".ts", ".tsx", ".jsx"), ".pyc": (".py",), ".mjs": (".ts",),
                       ".cjs": (".ts",)}


class FileIndex:
    """Repository paths indexed by base name for suffix matching."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.by_name: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for path in paths:
            parts = tuple(path.split("/"))
            self.by_name[parts[-1]].append(parts)

    def best(self, parts: list[str]) -> tuple[str | None, int]:
        """The repository path sharing the longest suffix with `parts`, and that length.

        When several paths share that longest suffix the path is None (the length is still
        given): picking one of them would blame a file at random.
        """
        if not parts:
            return None, 0
        best_path, best_len, tied = None, 0, False
        for candidate in self.by_name.get(parts[-1], []):
            length = _common_suffix(candidate, parts)
            if length > best_len:
                best_path, best_len, tied = candidate, length, False
            elif length == best_len:
                tied = True
        if best_path is None or tied:
            return None, best_len
        return "/".join(best_path), best_len


def _common_suffix(a: tuple[str, ...], b: list[str]) -> int:
    length = 0
    for x, y in zip(reversed(a), reversed(b), strict=False):
        if x != y:
            break
        length += 1
    return length


def clean_path(raw: str) -> list[str]:
    """Path components of a frame's file, without schemes, hosts, drives, queries or `./`."""
    path = raw.strip().replace("\\", "/")
    path = path.split("?", 1)[0].split("#", 1)[0]
    path = _SCHEME.sub("", path) if "://" in path else path
    path = _DRIVE.sub("", path)
    return [part for part in path.split("/") if part not in ("", ".", "~")]


def is_library(frame: Frame) -> bool:
    """True for frames of third-party or runtime code."""
    if not frame.in_app:
        return True
    for raw in (frame.abs_path, frame.filename):
        if raw and _LIBRARY.search(raw.replace("\\", "/")):
            return True
    return bool(frame.module and _RUNTIME_MODULE.match(frame.module))


def candidates(frame: Frame) -> list[list[str]]:
    """Every way this frame names a file, most specific first."""
    options: list[list[str]] = []
    for raw in (frame.abs_path, frame.filename):
        if raw:
            options.append(clean_path(raw))
    module = frame.module or ""
    if module and "/" not in module and "." in module.strip("."):
        dotted = module.split("$", 1)[0].split(".")
        base = frame.filename.rsplit("/", 1)[-1] if frame.filename else ""
        if base.endswith((".java", ".kt")):
            options.append([*dotted[:-1], base])  # package + the class's file
        else:
            options.append([*dotted[:-1], dotted[-1] + ".py"])
            options.append([*dotted, "__init__.py"])
    return [option for option in options if option]


def _with_source_suffixes(parts: list[str]) -> list[list[str]]:
    variants = [parts]
    for compiled, sources in _COMPILED_TO_SOURCE.items():
        if parts[-1].endswith(compiled):
            stem = parts[-1][: -len(compiled)]
            variants.extend([*parts[:-1], stem + source] for source in sources)
    return variants


def map_frame(frame: Frame, index: FileIndex) -> MappedFrame:
    """One frame mapped (or marked) against the repository's files."""
    if is_library(frame):
        return MappedFrame(frame=frame, reason="library code")
    best, best_len, tied_len = None, 0, 0
    for option in candidates(frame):
        for variant in _with_source_suffixes(option):
            path, length = index.best(variant)
            if path and length > best_len:
                best, best_len = path, length
            elif path is None:
                tied_len = max(tied_len, length)
    if tied_len > best_len:  # the strongest match names several files equally well
        return MappedFrame(frame=frame, reason=f"ambiguous: several files match on {tied_len} "
                                               "path component(s)")
    if best is None:
        return MappedFrame(frame=frame, reason="no file of the repository matches")
    return MappedFrame(frame=frame, path=best,
                       reason=f"matches {best} on {best_len} path component(s)")


def map_frames(frames: list[Frame], paths: Iterable[str]) -> list[MappedFrame]:
    """Map frames (oldest to newest) and number in-app mapped ones from the crash (depth 0)."""
    index = FileIndex(path for path in paths if path.endswith(_CODE_SUFFIXES))
    mapped = [map_frame(frame, index) for frame in frames]
    depth = 0
    for item in reversed(mapped):
        if item.path is not None:
            item.depth = depth
            depth += 1
    return mapped
